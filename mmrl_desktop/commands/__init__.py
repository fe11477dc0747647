"""One module per CLI sub-command, each with ``run(args) -> int``. Imported lazily by cli.py so that
starting the GUI never pays for torch before the first paint."""
