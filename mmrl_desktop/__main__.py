"""Entry point for ``python -m mmrl_desktop`` and the ``mmrl-desktop`` launcher."""

import multiprocessing
import sys


def main(argv: list[str] | None = None) -> int:
    multiprocessing.freeze_support()
    from mmrl_desktop.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
