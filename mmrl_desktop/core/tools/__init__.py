"""Tools: bench, simulate, self-test, predict and exports: whole jobs built from the layers below. The top layer.

The layers contract in pyproject.toml keeps the order (docs/adr/0012-core-layers.md)."""
