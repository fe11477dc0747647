"""Data: items and their loaders, import, the store and the project folder. The bottom layer.

The layers contract in pyproject.toml keeps the order (docs/adr/0012-core-layers.md)."""
