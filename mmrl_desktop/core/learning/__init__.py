"""Learning: models, algorithms, replay, the trainer and its process, checkpoints. Above labelling.

The layers contract in pyproject.toml keeps the order (docs/adr/0012-core-layers.md)."""
