"""Roll back to a checkpoint by promoting it: a copy becomes the newest checkpoint.

The trainer resumes from the newest readable checkpoint (``checkpoints.latest_checkpoint``: the
highest metadata step). Rolling back copies the chosen checkpoint's weights and metadata to
``ckpt-<newest step + 1>`` with ``model_version`` = the highest version so far + 1 — the step axis
and the model versions stay monotonic, so the charts never run backwards and the GUI never
mistakes the rolled-back model's predictions for stale ones. Nothing is deleted: every later
checkpoint stays on disk until the usual keep-N pruning. The store indexes the new checkpoint and
records ``audit("rollback", ...)``. A target the trainer could not resume from (unreadable, a
pickle under a checkpoint's name, labels since renamed, another algorithm) is refused with one
sentence before anything is written or audited (``check_target``).

Stop the trainer first (its closing checkpoint would otherwise become the newest), promote, then
start it again. Torch-free: files are copied as bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.data.project import Project, atomic_write_bytes
from mmrl_desktop.core.data.store import FeedbackStore
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import ckpt_files


def check_target(project: Project, src: Path) -> dict:
    """The metadata of rollback target ``src``, or a ``UserError`` saying why the trainer could
    not resume from it (unreadable, a pickle, other labels or another algorithm) — said before
    anything is written or audited."""
    entry = ckpt_files.read_entry(src)
    if not entry.readable:
        raise UserError(f"cannot roll back to {src.stem}: {entry.problem}.")
    meta = entry.meta
    labels = {t.name: list(t.labels) for t in project.tasks if t.kind == "single"}
    if not ckpt_files.labels_cover(labels, entry.labels):
        raise UserError(
            f"cannot roll back to {src.stem}: it was trained for labels this project no longer has."
        )
    algorithm = TrainConfig.from_dict(project.algorithm).algorithm
    if entry.algorithm != algorithm:
        raise UserError(
            f"cannot roll back to {src.stem}: it was trained with the algorithm "
            f"{entry.algorithm!r} and the project now uses {algorithm!r}; switch back first."
        )
    return meta


def promote_checkpoint(project: Project, checkpoint: str | Path, store: FeedbackStore) -> Path:
    """Make ``checkpoint`` (a path relative to the project, or absolute) the one the trainer
    resumes from. Returns the new checkpoint's weights path."""
    src = Path(checkpoint)
    if not src.is_absolute():
        src = project.root / src
    src = src.with_suffix(".safetensors")
    if not src.is_file():
        raise UserError(f"checkpoint {src.name} is no longer on disk (older ones are pruned).")
    meta = check_target(project, src)
    folder = project.checkpoints_dir
    entries = [e for e in ckpt_files.scan(folder) if e.readable] + [ckpt_files.Entry(src, meta)]
    new_step = max(e.step for e in entries) + 1
    new_version = max(int(e.meta.get("model_version", 0)) for e in entries) + 1
    dest = ckpt_files.checkpoint_path(folder, new_step)
    try:
        new_meta = json.loads(src.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # pruned or damaged since check_target read it
        raise UserError(
            f"checkpoint {src.name} is no longer readable; nothing was changed."
        ) from None
    new_meta.update(
        step=new_step,
        model_version=new_version,
        note=f"rollback to {src.stem}",
        rolled_back_from=src.stem,
    )
    try:
        atomic_write_bytes(dest, src.read_bytes())  # weights first; the JSON completes it
        atomic_write_bytes(dest.with_suffix(".json"), json.dumps(new_meta).encode("utf-8"))
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
