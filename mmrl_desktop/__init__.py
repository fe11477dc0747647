"""mmrl_desktop: teach a multimodal model with thumbs (learning from expert feedback), offline."""

import os
import sys


def _installed_version() -> str:
    """The version pyproject.toml declares, as installed (pip, ``pip install -e``, or the
    metadata the bundle copies): the ``Version:`` line of the first ``mmrl_desktop-*.dist-info``
    on ``sys.path``, the one ``importlib.metadata`` would find. Read directly because importing
    ``importlib.metadata`` (its ``email`` parser) costs 30-90 ms before the window's first paint."""
    for entry in sys.path:
        try:
            names = [n for n in os.listdir(entry or ".") if n.lower().startswith("mmrl_desktop-")]
        except OSError:
            continue
        for name in names:
            if not name.endswith(".dist-info"):
                continue
            try:
                with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as fh:
                    for line in fh:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():  # the end of the headers
                            break
            except OSError:
                continue
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mmrl-desktop")
    except PackageNotFoundError:  # a source tree that was never installed (not even -e)
        return "0+unknown"


__version__ = _installed_version()
