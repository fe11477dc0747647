"""Where things live: packaged resources, the user's data folder (platformdirs), the demo project."""

from __future__ import annotations

import sys
from pathlib import Path

import platformdirs

APP_NAME = "mmrl-desktop"


def resources_dir() -> Path:
    """The ``resources/`` folder: inside a PyInstaller bundle, inside an installed wheel
    (``mmrl_desktop/resources``), or at the top of a source checkout."""
    frozen = getattr(sys, "_MEIPASS", None)
    if frozen:
        return Path(frozen) / "mmrl_desktop" / "resources"
    here = Path(__file__).resolve().parent
    for candidate in (here / "resources", here.parent / "resources"):
        if candidate.is_dir():
            return candidate
    return here.parent / "resources"


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    """Where the logs go (``mmrl_desktop.logs``; ``$MMRL_DESKTOP_LOG_DIR`` overrides it there)."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
