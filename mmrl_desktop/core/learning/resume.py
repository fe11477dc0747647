"""Which checkpoint a trainer resumes from, and what it says about the others.

    plan = plan_resume(project.checkpoints_dir, labels, algorithm)   # newest checkpoint that fits
    algorithm, ckpt, problem = restore(algorithm, plan.checkpoint, labels, make_fresh)

A checkpoint *fits* when it was trained with the project's algorithm and its labels are still the
project's, or a subset of them: a label set that grew (an import added a class) keeps the model
(``growth.grow_state`` widens the heads). Checkpoints that cannot be read are skipped with one
sentence (``Latest.warning``); a newer checkpoint that no longer fits (labels renamed or removed,
another algorithm) is kept on disk, never pruned, and one sentence says why training starts from
an older one or from a fresh model. Steps continue above the highest step on disk, so the new
checkpoints are always the newest.

Also here: ``model_config_for`` (project.toml's ``[model]`` against the checkpoint's model: an
invalid value is an error, a setting the checkpoint overrides is said), ``check_writable`` (before
training starts), ``save_trainer`` (a trainer's checkpoint written and indexed), ``save_failed`` (a
failed save's sentence) and ``index_checkpoint`` (the store's index and pruning after a save).
"""

from __future__ import annotations

import dataclasses
import errno
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import ckpt_files
from mmrl_desktop.core.learning.checkpoints import Checkpoint, find_latest, save_checkpoint
from mmrl_desktop.core.learning.growth import grow_state

# "adapt to the data" values
AUTO = {
    "image_size": 0,
    "image_channels": 0,
    "audio_seconds": 0.0,
    "modalities": "",
    "fusion_mlp": "auto",
}
# [model] settings of how the model is trained and predicts, not of its shape: project.toml's
# (or today's default) apply to a resumed model too (ADR 0039)
FOLLOW_PROJECT = ("modality_choice", "modality_dropout")


@dataclass
class ResumePlan:
    checkpoint: Checkpoint | None = None
    warnings: list[str] = field(default_factory=list)
    highest_step: int = 0  # over every readable checkpoint on disk
    highest_version: int = 0


def plan_resume(folder: str | Path, labels: dict, algorithm: str) -> ResumePlan:
    """The newest readable checkpoint that fits ``labels`` and ``algorithm``, with a sentence for
    every checkpoint skipped on the way."""
    skipped: list[ckpt_files.Entry] = []

    def fits(entry: ckpt_files.Entry) -> bool:
        ok = entry.algorithm == algorithm and ckpt_files.labels_cover(labels, entry.labels)
        if not ok:
            skipped.append(entry)
        return ok

    latest = find_latest(folder, fits)
    warnings = [w for w in [latest.warning()] if w]
    if skipped:
        warnings.append(_not_fitting(skipped[0], labels, algorithm, latest.checkpoint, folder))
    versions = [int((e.meta or {}).get("model_version", 0)) for e in latest.entries if e.readable]
    return ResumePlan(latest.checkpoint, warnings, latest.highest_step, max(versions, default=0))


def _not_fitting(entry, labels: dict, algorithm: str, used: Checkpoint | None, folder) -> str:
    if entry.algorithm != algorithm:
        why = f"was trained with the algorithm {entry.algorithm!r}, not {algorithm!r}"
    else:
        gone = [
            f"{task}: {', '.join(str(x) for x in old if x not in labels.get(task, []))}"
            if task in labels
            else f"the task {task!r}"
            for task, old in (entry.labels or {}).items()
            if task not in labels or not set(old) <= set(labels[task])
        ]
        why = f"was trained for labels this project no longer has ({'; '.join(gone)})"
    then = (
        f"training resumes from the older {used.path.stem}"
        if used is not None
        else "training starts from a fresh model"
    )
    return (
        f"the newest checkpoint {entry.weights.stem} {why}, so {then}; it stays in "
        f"{Path(folder).name}/ and is never pruned."
    )


def restore(algorithm, ckpt: Checkpoint, labels: dict, make_fresh):
    """Load ``ckpt`` into ``algorithm`` (growing the heads when the labels grew). Returns
    ``(algorithm, ckpt, problem)``: on a state of another shape (e.g. an older app) a fresh
    algorithm from ``make_fresh()``, the checkpoint with ``last_event_id`` 0 (every answer is
    trained on again) and the first line of the error."""
    state = ckpt.state
    old = ckpt.meta.get("labels")
    try:
        if old != labels:
            names = [n for n, _ in algorithm.policy.named_parameters()]
            state = grow_state(state, algorithm.state_dict(), old or {}, labels, names)
        algorithm.load_state_dict(state, optimizer=bool(state.get("optimizer")))
        return algorithm, ckpt, None
    except (RuntimeError, KeyError, ValueError, IndexError) as err:
        fresh = dataclasses.replace(ckpt, meta={**ckpt.meta, "last_event_id": 0})
        return make_fresh(), fresh, (str(err).strip().splitlines() or [type(err).__name__])[0]


def model_config_for(project_model: dict, ckpt: Checkpoint | None) -> tuple[ModelConfig, str]:
    """The model to build and a sentence ('' when none). project.toml's ``[model]`` is always
    validated (an invalid value is a ``UserError``); with a checkpoint its model is used, and every
    setting project.toml sets differently is named as ignored — but ``FOLLOW_PROJECT``'s, which
    are project.toml's (or the default) whatever the checkpoint says."""
    try:
        asked = ModelConfig.from_dict(project_model)
    except UserError as err:
        said = str(err).replace("[model] ", "", 1)  # the section once: it is named here
        raise UserError(f"project.toml [model]: {said}") from None
    if ckpt is None:
        return asked, ""
    try:
        used = ModelConfig.saved(ckpt.meta.get("model_config"))
    except UserError as err:
        raise UserError(
            f"checkpoint {ckpt.path.stem} holds invalid model settings: {err}"
        ) from None
    used = used.replace(**{k: getattr(asked, k) for k in FOLLOW_PROJECT})
    differ = [
        f"{k} = {v!r} (the checkpoint's: {getattr(used, k)!r})"
        for k, v in project_model.items()
        if getattr(asked, k) != getattr(used, k) and AUTO.get(k, object()) != getattr(asked, k)
    ]
    if not differ:
        return used, ""
    return used, (
        f"project.toml [model] {', '.join(differ)} "
        f"{'is' if len(differ) == 1 else 'are'} ignored: the model in {ckpt.path.stem} was built "
        "with the checkpoint's settings, and a changed model needs a fresh start (move the "
        "checkpoints out of the project's checkpoints folder)."
    )


def check_writable(folder: str | Path) -> None:
    """Refuse to train when checkpoints cannot be written (read-only, full, not a folder): the
    work of the run would be lost. One sentence, before any update."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        try:
            os.write(fd, b"0")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as err:
        if err.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            raise UserError(
                f"the disk is full: cannot write checkpoints to {folder}; training would be "
                "lost, so it does not start — free some space and run it again."
            ) from None
        raise UserError(
            f"cannot write checkpoints to {folder} ({err.strerror or err}); training would be "
            "lost, so it does not start — make the folder writable or free some space."
        ) from None


def save_failed(folder: Path, err: OSError, then: str) -> str:
    """The sentence for a checkpoint that could not be written (read-only, disk full): ``then``
    is "retry" (the model stays in memory), "close" or "lost"."""
    then = {
        "retry": "the model stays in memory and the next save tries again",
        "close": "the updates since the last checkpoint are lost",
    }.get(then, "this run's training is lost")
    return (
        f"could not save a checkpoint in {folder} ({err.strerror or err}); {then} — make the "
        "folder writable or free some space."
    )


def checkpoint_meta(trainer, note: str) -> dict:
    """The JSON metadata of ``trainer``'s checkpoint of its current step (``checkpoints.py``
    adds the format, step, time and state skeleton)."""
    return {
        "train_config": trainer.config.to_dict(),
        "model_config": trainer.model_config.to_dict(),
        "model_version": trainer.model_version,
        "answers_seen": len(trainer.buffer),
        "last_event_id": trainer.trained_event_id,
        "labels": trainer.labels,
        "note": note,
        "calibration": trainer.calibrator.to_meta(),
        **choice_meta(trainer),
        **refit_meta(trainer),
    }


def choice_meta(trainer) -> dict:
    """The modality choice's scores (ADR 0039), when the trainer has a chooser."""
    chooser = getattr(trainer, "modality_choice", None)
    return {"modality_choice": chooser.to_meta()} if chooser is not None else {}


def refit_meta(trainer) -> dict:
    """The renewals a checkpoint's model has had and, saved while a refit trained (the model on
    disk is saved every few seconds, a refit takes tens of seconds), the refit's updates left: a
    model resumed from it goes on with the refit before it is shown, rather than counting the
    refit as done and showing weights a few updates from random (ADR 0029)."""
    renewed_at = getattr(trainer.algorithm, "renewed_at", None)
    if renewed_at is None:
        return {}
    cu = trainer.catch_up
    left = cu.left if cu.refitting else 0
    return {"renewed_at": int(renewed_at), "refit_left": left, "refit_size": cu.size if left else 0}


def restore_refit(trainer, meta: dict) -> None:
    """``refit_meta`` read back into a trainer whose weights came from that checkpoint: the
    renewals had, and a refit under way goes on with its updates left before it is shown."""
    from mmrl_desktop.core.learning import renew

    if meta.get("renewed_at") is not None and hasattr(trainer.algorithm, "renewed_at"):
        trainer.algorithm.renewed_at = int(meta["renewed_at"])
    left = int(meta.get("refit_left", 0))
    if left > 0:
        size = int(meta.get("refit_size", left))
        trainer.catch_up = renew.CatchUp(left=left, size=size, refit=True)
        trainer.pending_updates += left


def index_checkpoint(store, root: Path, path: Path, numbers: tuple, note: str, config) -> None:
    """Index the checkpoint just written at ``path`` in the store (``numbers``: step, model
    version, answers seen), prune the older ones of its line (``config.keep_checkpoints``) and
    drop their index rows."""
    rel = str(path.relative_to(root))
    for rec in store.checkpoints():
        if rec.path == rel:  # the same step saved again: one index row
            store.remove_checkpoint(rec.ckpt_id)
    store.add_checkpoint(rel, *numbers, note=note)
    pruned = ckpt_files.prune(path.parent, config.keep_checkpoints, path)
    removed = {str(p.relative_to(root)) for p in pruned}
    for rec in store.checkpoints():
        if rec.path in removed:
            store.remove_checkpoint(rec.ckpt_id)


def save_trainer(trainer, note: str = "", keep_going: bool = False) -> str | None:
    """Write a checkpoint of ``trainer``'s current step and index it; return its path. A failed
    write (read-only folder, disk full) is one sentence: a ``UserError``, or with ``keep_going``
    (the loop's periodic and closing saves) ``trainer.save_error`` and None — the model stays in
    memory and the next save tries again.

    A new model version without a new update (an undo that rolled back to a snapshot with
    nothing owed) goes one step above the last checkpoint: it never rewrites that one."""
    if trainer.updates == trainer._last_ckpt_step and (
        trainer.model_version != trainer._last_ckpt_version
    ):
        trainer.updates += 1
    folder = trainer.project.checkpoints_dir
    try:
        meta = checkpoint_meta(trainer, note)
        path = save_checkpoint(folder, trainer.algorithm.state_dict(), meta, trainer.updates)
    except OSError as err:
        then = ("close" if note == "on close" else "retry") if keep_going else "lost"
        trainer.save_error = save_failed(folder, err, then)
        if keep_going:
            return None
        raise UserError(trainer.save_error) from None
    trainer.save_error = None
    numbers = (trainer.updates, trainer.model_version, len(trainer.buffer))
    index_checkpoint(trainer.store, trainer.project.root, path, numbers, note, trainer.config)
    trainer._last_ckpt_step = trainer.updates
    trainer._last_ckpt_version = trainer.model_version
    return str(path)
