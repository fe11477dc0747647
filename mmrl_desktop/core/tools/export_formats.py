"""What each export format needs beyond torch, and the one sentence when the install lacks it.

The ONNX export writes with torch's exporter, which needs ``onnx``, and re-loads the file with
``onnxruntime`` to check it; the TensorBoard export writes event files with ``tensorboardX``. All
three are dependencies of the app (docs/adr/0010-exports-installed.md), so a plain install writes
every format the Export dialog offers. This module is for an install that lacks one anyway (a
``pip install --no-deps``, a package removed later): the dialog greys the format out with
:func:`unavailable` as its tooltip, and the export raises the same sentence (:func:`require`)
before any work, instead of an exporter's message that reads like a fault of the model.

    unavailable("onnx")  # None, or 'the ONNX export needs the onnxruntime package, which ...'
    require("onnx")      # imports them; UserError with that sentence when one is missing
"""

from __future__ import annotations

import importlib
import importlib.util

from mmrl_desktop.core.errors import UserError

# format → the modules it imports (feedback-csv/-jsonl and torchscript need nothing beyond torch)
NEEDS: dict[str, tuple[str, ...]] = {
    "onnx": ("onnx", "onnxruntime"),
    "tensorboard": ("tensorboardX",),
}
TITLE = {"onnx": "ONNX", "tensorboard": "TensorBoard"}
INSTALL = 'pip install "mmrl-desktop[export]"'


def sentence(fmt: str, missing: list[str]) -> str:
    """'the ONNX export needs the onnx and onnxruntime packages, which are not installed: ...'"""
    names = " and ".join(missing)
    what = (
        f"the {names} packages, which are not"
        if len(missing) > 1
        else f"the {names} package, which is not"
    )
    return f"the {TITLE.get(fmt, fmt)} export needs {what} installed: {INSTALL}."


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None  # None too where sys.modules says so
    except (ImportError, ValueError):
        return False


def unavailable(fmt: str) -> str | None:
    """Why this install cannot write ``fmt`` (one sentence), or None. Imports nothing, so the
    dialog can ask on the GUI thread."""
    missing = [m for m in NEEDS.get(fmt, ()) if not _findable(m)]
    return sentence(fmt, missing) if missing else None


def require(fmt: str) -> None:
    """Import what ``fmt`` needs; raise the one sentence naming what to install if any is missing
    (or fails to import: a half-installed package is as unusable as an absent one)."""
    missing = []
    for module in NEEDS.get(fmt, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise UserError(sentence(fmt, missing))
