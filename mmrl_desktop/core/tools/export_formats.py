"""What each export format needs beyond torch, and the one sentence when the install lacks it.

The ONNX export writes with torch's ``torch.export``-based exporter, which needs ``onnx`` and
``onnxscript``, and re-loads the file with ``onnxruntime`` to check it; the TensorBoard export
writes event files with ``tensorboardX``. All four are dependencies of the app (docs/adr/0010-exports-installed.md), so a plain install writes
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
    "onnx": ("onnx", "onnxscript", "onnxruntime"),
    "tensorboard": ("tensorboardX",),
}
TITLE = {"onnx": "ONNX", "tensorboard": "TensorBoard"}
INSTALL = 'pip install "mmrl-desktop[export]"'


def sentence(fmt: str, missing: list[str]) -> str:
    """'the ONNX export needs the onnx and onnxruntime packages, which are not installed: ...'"""
    names = " and ".join([", ".join(missing[:-1]), missing[-1]] if len(missing) > 2 else missing)
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
    needs = NEEDS.get(fmt, ())
    missing: list[str] = []
    for module in needs:
        try:
            importlib.import_module(module)
        except ImportError as err:  # onnxscript fails to import without onnx: onnx is missing
            culprit = (err.name or module).split(".")[0]
            name = culprit if culprit in needs else module
            if name not in missing:
                missing.append(name)
    if missing:
        raise UserError(sentence(fmt, missing))
