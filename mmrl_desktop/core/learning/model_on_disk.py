"""The app's latest model on disk within seconds, and a heartbeat that says which model it holds.

``ModelOnDisk`` is the trainer loop's side (``core/trainer_loop.run_loop``: in the trainer
process, never on the GUI thread); the loop calls ``tick()`` after each step and while paused.

* **Checkpoint cadence.** Once the trainer has trained on new answers (its update count moved past
  its last checkpoint) or holds a new model version without new updates (an undo rolled the model
  back to a snapshot with nothing owed: saved one step above the last checkpoint), ``tick`` writes a
  checkpoint (``Trainer.save_checkpoint``) when the model has settled (the answers' updates are
  done) or has been changing for ``save_after_s``, and at most once every ``save_after_s``
  (``SAVE_AFTER_S``, 5 s). The newest model is on disk about a second after a lone answer and within
  ~2 × ``save_after_s`` while answers keep coming. The trainer's own checkpoints (every
  ``checkpoint_every`` updates, and on close) stay. These checkpoints are noted ``recent`` and the
  next checkpoint of any kind deletes them (``ckpt_files.prune``): the folder holds one of them plus
  the newest ``keep_checkpoints`` (5) milestones, so it does not grow and the rollback history still
  reaches back. A checkpoint is never rewritten at a step already on disk: each one gets a new name,
  so a reader never mixes the weights of one write with the metadata of another.
* **Cost**: a save of the demo model is well under 1 % of a core at one save per 5 s (measured
  in ADR 0007's amendment and docs/benchmarks.md §2b, fifth session). A kill between saves loses
  at most the last few seconds of training, never an
  answer: answers are in the feedback log, and a restart trains on those after the checkpoint's
  ``last_event_id`` again.
* **Heartbeat.** ``<project>/.trainer.json`` — ``{"pid", "host", "model_version", "step",
  "on_disk_version", "time"}`` — is replaced atomically (no fsync: it is only a hint) when the
  model version changes (at most once per ``HEARTBEAT_MIN_S``) and every ``heartbeat_s``; it is
  removed when the trainer stops. ``live_trainer(root)`` reads it for the commands: a heartbeat
  counts when it is fresh (under ``FRESH_S``) and, on the same machine, its process is alive.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

from mmrl_desktop.core.data.project import atomic_write_bytes
from mmrl_desktop.core.learning.ckpt_files import RECENT

SAVE_AFTER_S = 5.0  # at most one time-based checkpoint per this long
HEARTBEAT_S = 5.0  # the heartbeat is rewritten at least this often
HEARTBEAT_MIN_S = 1.0  # and at most this often for a new model version
FRESH_S = 30.0  # a heartbeat older than this is a trainer that is gone (or starved: no claim)
CLOCK_SKEW_S = 5.0  # another machine's clock (a shared folder) may be a little ahead
HEARTBEAT_FILE = ".trainer.json"


class ModelOnDisk:
    """Time-based checkpoints and the heartbeat of one running trainer."""

    def __init__(
        self,
        trainer,
        save_after_s: float = SAVE_AFTER_S,
        heartbeat_s: float = HEARTBEAT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.trainer = trainer
        self.save_after_s = save_after_s
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        root = getattr(getattr(trainer, "project", None), "root", None)
        self.heartbeat_path = Path(root) / HEARTBEAT_FILE if root is not None else None
        # a stand-in trainer (tests) or a read-only one writes nothing
        self.saves = bool(getattr(trainer, "checkpoints_enabled", False)) and save_after_s > 0
        self.last_save = float("-inf")
        self.changing_since: float | None = None
        self.failed = False  # the last time-based save failed (said once until one succeeds)
        self.on_disk_version = int(getattr(trainer, "model_version", 0) or 0)
        self._beat_at = float("-inf")
        self._beat_key: tuple | None = None
        self._beat_written = False

    def tick(self) -> str | None:
        """Save when due, beat when due. Returns a failed save's sentence (once), else None."""
        now = self.clock()
        warning = self._maybe_save(now) if self.saves else None
        self._maybe_beat(now)
        return warning

    def _maybe_save(self, now: float) -> str | None:
        t = self.trainer
        # the trainer's own record of its last checkpoint (periodic, on close, ours): its step
        # and model version; a new version without a new update (an undo that rolled back with
        # nothing owed) is saved too, one step above (``Trainer.save_checkpoint``)
        known = getattr(t, "_last_ckpt_version", None)
        if known is not None:
            self.on_disk_version = int(known)
        same_step = t.updates == getattr(t, "_last_ckpt_step", None)
        if same_step and int(t.model_version) == self.on_disk_version:
            self.changing_since = None
            return None
        if self.changing_since is None:
            self.changing_since = now
        settled = getattr(t, "pending_updates", 0) <= 0
        if not settled and now - self.changing_since < self.save_after_s:
            return None
        if now - self.last_save < self.save_after_s:
            return None
        path = t.save_checkpoint(RECENT, keep_going=True)  # the next save supersedes it
        self.last_save = self.clock()
        if path is None:  # the model stays in memory; the next tick tries again
            said, self.failed = self.failed, True
            return None if said else t.save_error
        self.failed = False
        self.changing_since = None
        self.on_disk_version = int(t.model_version)
        return None

    def _maybe_beat(self, now: float) -> None:
        if self.heartbeat_path is None or self.heartbeat_s <= 0:
            return
        t = self.trainer
        key = (int(getattr(t, "model_version", 0)), self.on_disk_version)
        since = now - self._beat_at
        saved = self._beat_key is not None and key[1] != self._beat_key[1]  # at once
        newer = key != self._beat_key and since >= HEARTBEAT_MIN_S  # at most once a second
        if since < self.heartbeat_s and not (saved or newer):
            return
        beat = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "model_version": key[0],
            "step": int(getattr(t, "updates", 0)),
            "on_disk_version": key[1],
            "time": time.time(),
        }
        try:
            atomic_write_bytes(self.heartbeat_path, json.dumps(beat).encode(), durable=False)
            self._beat_written = True
        except OSError:  # a hint only: a folder that refuses it changes nothing else
            pass
        self._beat_at, self._beat_key = now, key

    def close(self) -> None:
        """The trainer stopped (its closing checkpoint written): no heartbeat claims a model."""
        if self._beat_written and self.heartbeat_path is not None:
            try:
                self.heartbeat_path.unlink()
            except OSError:
                pass


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (where that can be asked without harm)."""
    if os.name != "posix":  # os.kill would end the process on Windows: freshness decides there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    except (OSError, OverflowError, ValueError):
        return False
    return True


def live_trainer(root: str | Path, now: float | None = None) -> dict | None:
    """The heartbeat of a trainer running on project ``root``, or None when there is none, it is
    stale (over ``FRESH_S``), unreadable, or its process on this machine is gone."""
    try:
        beat = json.loads((Path(root) / HEARTBEAT_FILE).read_text(encoding="utf-8"))
        pid, version, stamp = int(beat["pid"]), int(beat["model_version"]), float(beat["time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    now = time.time() if now is None else now
    if not -CLOCK_SKEW_S <= now - stamp < FRESH_S:  # far in the future: stale too
        return None
    if beat.get("host") == socket.gethostname() and not pid_alive(pid):
        return None
    return {**beat, "pid": pid, "model_version": version, "time": stamp}
