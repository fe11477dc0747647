"""Evaluation: held-out evaluation, off-policy estimates, prequential accuracy, model summaries. Above learning.

The layers contract in pyproject.toml keeps the order (docs/adr/0012-core-layers.md)."""
