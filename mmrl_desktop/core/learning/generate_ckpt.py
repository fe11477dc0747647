"""A generate task's checkpoints on disk: where they live and the rollback, torch-free (the
window's process uses them: the Checkpoints dialog) — ``generate_trainer`` writes and reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

from mmrl_desktop.core.data.project import Project, atomic_write_bytes
from mmrl_desktop.core.data.store import FeedbackStore
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import ckpt_files


def checkpoint_folder(project: Project, task: str) -> Path:
    """Where a generate task's checkpoints live (beside the label tasks' ones)."""
    return project.checkpoints_dir / f"generate-{task}"


def promote_generate_checkpoint(
    project: Project, task: str, checkpoint: str | Path, store: FeedbackStore | None = None
) -> Path:
    """Roll a generate task back: a copy of ``checkpoint`` becomes its newest checkpoint (one
    step above every other, ``policy_version`` above every other), as ``rollback`` does for the
    label tasks, audited in ``store`` when given. Stop the trainer first."""
    folder = checkpoint_folder(project, task)
    src = Path(checkpoint)
    if not src.is_absolute():
        src = project.root / src
    src = src.with_suffix(".safetensors")
    entry = ckpt_files.read_entry(src)
    if not entry.readable:
        raise UserError(f"cannot roll back to {src.stem}: {entry.problem}.")
    entries = [e for e in ckpt_files.scan(folder) if e.readable]
    step = ckpt_files.highest_step(entries) + 1
    version = max(int((e.meta or {}).get("policy_version", 0)) for e in entries) + 1
    dst = ckpt_files.checkpoint_path(folder, step)
    atomic_write_bytes(dst, src.read_bytes())
    full = json.loads(src.with_suffix(".json").read_text(encoding="utf-8"))  # with its skeleton
    meta = dict(full, step=step, policy_version=version, model_version=version)
    meta["note"] = f"rollback to {src.stem}"
    atomic_write_bytes(dst.with_suffix(".json"), json.dumps(meta).encode("utf-8"))
    if store is not None:
        store.audit("rollback", task=task, source=src.name, checkpoint=dst.name, version=version)
    return dst
