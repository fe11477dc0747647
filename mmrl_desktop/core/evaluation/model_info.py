"""Which model a command used, in its JSON and in one line, and whether the open app has a newer
one (``evaluate``, ``export``, ``predict``).

    model = summary(trainer)      # {"version": 60, "step": 248, "written": "2026-12-01T10:00:00Z",
                                  #  "modalities": ["image"], "modalities_used": ["image"]}
    tell(model, project.root, line=not args.json)   # on stderr, see below

``written`` is when the checkpoint's file was written (its metadata's ``created_at``, else the
file's time), in UTC; the starting model (no checkpoint yet) is version 0, step 0, written None.
``tell`` prints ``model: version 60, step 248, written 2026-12-01 11:00:00 (12 s ago)`` (local
time; ``, from the audio alone`` after it when the model leaves a modality out, ADR 0039) in
text mode, and in every mode a warning when the app open on the project holds a newer
model than the one used (its heartbeat, ``core/learning/model_on_disk.live_trainer``).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from mmrl_desktop.core.learning.model_on_disk import SAVE_AFTER_S, live_trainer

_ISO = "%Y-%m-%dT%H:%M:%SZ"


def written_utc(path: str | Path | None) -> str | None:
    """When the checkpoint (or weights file) at ``path`` was written, ISO-8601 UTC; None without
    a file."""
    if not path:
        return None
    path = Path(path)
    try:
        stamp = float(json.loads(path.with_suffix(".json").read_text("utf-8"))["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        try:
            stamp = path.stat().st_mtime
        except OSError:
            return None
    try:
        return datetime.fromtimestamp(stamp, timezone.utc).strftime(_ISO)
    except (ValueError, OverflowError, OSError):  # NaN or out of range: a damaged or odd JSON
        return None


def summary(trainer) -> dict:
    """The contract's ``model`` for a trainer opened on the project's newest checkpoint."""
    return {
        "version": int(trainer.model_version),
        "step": int(trainer.updates),
        "written": written_utc(getattr(trainer, "resumed_from", None)),
        **modalities(getattr(trainer, "algorithm", None)),
    }


def modalities(algorithm) -> dict:
    """The modalities the model reads and those it predicts from (``[model] modality_choice``,
    ADR 0039; both None for a model without a fusion)."""
    from mmrl_desktop.core.learning.modality_choice import summary as modality_summary

    return modality_summary(algorithm)


def used_alone(model: dict) -> str:
    """``audio`` (or ``image + text``) when ``model`` (a ``summary`` or ``Trainer.info()``)
    predicts from fewer modalities than it reads; else ''."""
    used, every = model.get("modalities_used"), model.get("modalities") or []
    if not used or set(used) >= set(every):
        return ""
    return " + ".join(used)


def alone_words(model: dict) -> str:
    """``, from the audio alone`` when the model leaves some of its modalities out; else ''."""
    alone = used_alone(model)
    return f", from the {alone} alone" if alone else ""


def _age(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def written_words(model: dict, now: float | None = None) -> str:
    """``written 2026-11-30 08:12:03 (N s ago)`` (local time), or ``the starting model (no
    checkpoint yet)``."""
    if not model.get("written"):
        return "the starting model (no checkpoint yet)"
    when = datetime.strptime(model["written"], _ISO).replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    local = when.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    return f"written {local} ({_age(now - when.timestamp())})"


def describe(model: dict, now: float | None = None) -> str:
    """``model: version V, step S, written 2026-11-30 08:12:03 (N s ago)``; the starting model
    says so."""
    if not model.get("written"):
        return f"model: {written_words(model)}"
    version = "unknown" if model.get("version") is None else model["version"]
    step = "unknown" if model.get("step") is None else model["step"]
    return f"model: version {version}, step {step}, {written_words(model, now)}{alone_words(model)}"


def newer_in_app(root: str | Path, model: dict) -> str | None:
    """The warning when a live trainer on ``root`` holds a newer model version than ``model``."""
    beat = live_trainer(root)
    used = model.get("version")
    if beat is None or used is None or beat["model_version"] <= int(used):
        return None
    return (
        f"the app open on this project has a newer model (version {beat['model_version']}, not "
        f"yet on disk: it will be within ~{2 * SAVE_AFTER_S:.0f} s)"
    )


def tell(model: dict, root: str | Path, *, line: bool, app: bool = True, out=None) -> None:
    """On stderr: the model line (``line``: text mode) and the newer-model warning (``app``)."""
    out = sys.stderr if out is None else out
    if line:
        out.write(describe(model) + "\n")
    warning = newer_in_app(root, model) if app else None
    if warning:
        out.write(f"warning: {warning}\n")
    out.flush()
