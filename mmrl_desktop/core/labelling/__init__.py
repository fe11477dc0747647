"""Labelling: the queue an expert answers and the prefetch of the next items. Above data.

The layers contract in pyproject.toml keeps the order (docs/adr/0012-core-layers.md)."""
