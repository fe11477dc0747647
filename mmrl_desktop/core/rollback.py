"""Roll back to a checkpoint by promoting it: a copy becomes the newest checkpoint.

The trainer resumes from the newest readable checkpoint (``checkpoints.latest_checkpoint``: the
highest ``ckpt-<step>``). Rolling back copies the chosen checkpoint's weights and metadata to
``ckpt-<newest step + 1>`` with ``model_version`` = the highest version so far + 1 — the step axis
and the model versions stay monotonic, so the charts never run backwards and the GUI never
mistakes the rolled-back model's predictions for stale ones. Nothing is deleted: every later
checkpoint stays on disk until the usual keep-N pruning. The store indexes the new checkpoint and
records ``audit("rollback", ...)``.

Stop the trainer first (its closing checkpoint would otherwise become the newest), promote, then
start it again. Torch-free: files are copied as bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.project import Project, atomic_write_bytes
from mmrl_desktop.core.store import FeedbackStore


def _meta(weights: Path) -> dict:
    try:
        meta = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"checkpoint {weights.name} is missing its weights or metadata.") from None
    except (OSError, ValueError) as err:
        raise UserError(f"checkpoint {weights.name} cannot be read ({err}).") from None
    if not isinstance(meta, dict) or "step" not in meta:
        raise UserError(f"checkpoint {weights.name} has an unknown format.")
    return meta


def _complete(folder: Path) -> list[Path]:
    return [
        js.with_suffix(".safetensors")
        for js in sorted(folder.glob("ckpt-*.json"))
        if js.with_suffix(".safetensors").is_file()
    ]


def promote_checkpoint(project: Project, checkpoint: str | Path, store: FeedbackStore) -> Path:
    """Make ``checkpoint`` (a path relative to the project, or absolute) the one the trainer
    resumes from. Returns the new checkpoint's weights path."""
    src = Path(checkpoint)
    if not src.is_absolute():
        src = project.root / src
    src = src.with_suffix(".safetensors")
    if not src.is_file():
        raise UserError(f"checkpoint {src.name} is no longer on disk (older ones are pruned).")
    meta = _meta(src)
    folder = project.checkpoints_dir
    existing = _complete(folder)
    metas = [_meta(p) for p in existing if p != src] + [meta]
    new_step = max(int(m.get("step", 0)) for m in metas) + 1
    new_version = max(int(m.get("model_version", 0)) for m in metas) + 1
    stem = f"ckpt-{new_step:08d}"
    dest = folder / f"{stem}.safetensors"
    new_meta = dict(meta)
    new_meta.update(
        step=new_step,
        model_version=new_version,
        note=f"rollback to {src.stem}",
        rolled_back_from=src.stem,
    )
    try:
        atomic_write_bytes(dest, src.read_bytes())  # weights first; the JSON completes it
        atomic_write_bytes(folder / f"{stem}.json", json.dumps(new_meta).encode("utf-8"))
    except OSError as err:
        raise UserError(
            f"cannot write the rolled-back checkpoint: {err.strerror or err}."
        ) from None
    rel = str(dest.relative_to(project.root))
    store.add_checkpoint(
        rel,
        new_step,
        new_version,
        int(meta.get("answers_seen", 0)),
        note=f"rollback to {src.stem}",
    )
    store.audit(
        "rollback",
        checkpoint=str(src.relative_to(project.root)),
        step=int(meta["step"]),
        model_version=int(meta.get("model_version", 0)),
        new_checkpoint=rel,
        new_model_version=new_version,
    )
    return dest
