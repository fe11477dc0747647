"""Entry point for ``python -m mmrl_desktop``, the ``mmrl-desktop`` launchers (console and
windowed) and the PyInstaller bundle."""

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    from mmrl_desktop.cli import main as cli_main

    return cli_main(argv, log_to_file=True)


if __name__ == "__main__":
    sys.exit(main())
