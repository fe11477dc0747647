"""Checkpoint files on disk, torch-free: their names, a cheap readability check, which one is
newest, and pruning (``checkpoints.py`` reads and writes the tensors; ``rollback.py`` copies
files without torch).

Newest means the highest ``step`` in the JSON metadata (then ``created_at``), never the file name:
a name can lie (a file copied in by hand, ``ckpt-99999999``), the metadata of a checkpoint this app
wrote does not. A checkpoint whose JSON or safetensors header cannot be read is *unreadable*: it is
never loaded and never pruned (it cannot be judged older), and the commands say it was skipped.
A checkpoint deleted while it is being read (pruned by the app's trainer, which saves every few
seconds) is simply not there: never called unreadable.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path

PREFIX = "ckpt-"  # the one spelling of a checkpoint's name: checkpoint_stem / checkpoint_step
WEIGHTS_GLOB = f"{PREFIX}*.safetensors"  # every checkpoint's weights in a folder
_NAME = re.compile(rf"{re.escape(PREFIX)}(\d{{8,}})")
RECENT = (
    "recent"  # the note of the trainer's time-based checkpoints (core/learning/model_on_disk.py)
)
_HEADER_MAX = 100_000_000  # safetensors' own limit on the JSON header
_COUNTS = ("model_version", "last_event_id", "answers_seen")


def checkpoint_stem(step: int) -> str:
    """The file stem of the checkpoint of ``step``: ``ckpt-00001200``."""
    return f"{PREFIX}{int(step):08d}"


def checkpoint_step(name: str | Path) -> int | None:
    """The step a checkpoint's name spells (``ckpt-00001200``, its ``.safetensors`` or ``.json``
    file, or a path to one), or None for any other name. The inverse of ``checkpoint_stem``; the
    metadata's step, not this, says which checkpoint is newest."""
    stem = Path(name).name.split(".", 1)[0]
    match = _NAME.fullmatch(stem)
    return int(match.group(1)) if match else None


def checkpoint_path(folder: str | Path, step: int) -> Path:
    """The weights path (``.safetensors``) of the checkpoint of ``step`` in ``folder``."""
    return Path(folder) / f"{checkpoint_stem(step)}.safetensors"


@dataclass
class Entry:
    """One complete checkpoint on disk (weights + JSON): its metadata, or why it is unreadable."""

    weights: Path
    meta: dict | None
    problem: str | None = None

    @property
    def readable(self) -> bool:
        return self.problem is None

    @property
    def step(self) -> int:
        return int((self.meta or {}).get("step", -1))

    @property
    def order(self) -> tuple:
        meta = self.meta or {}
        return (self.step, float(meta.get("created_at", 0.0)), self.weights.name)

    @property
    def labels(self):
        return (self.meta or {}).get("labels")

    @property
    def note(self) -> str:
        return str((self.meta or {}).get("note", ""))

    @property
    def algorithm(self):
        return ((self.meta or {}).get("train_config") or {}).get("algorithm")


def weights_problem(path: Path) -> str | None:
    """Why ``path`` is not a complete safetensors file (header and size checked; no tensor read),
    or None. A pickle, a truncated write or garbage are all caught here."""
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return "the weights file is truncated"
            (n,) = struct.unpack("<Q", head)
            if n > _HEADER_MAX:
                return "the weights file is not a safetensors file"
            raw = fh.read(n)
            if len(raw) < n:
                return "the weights file is truncated"
            header = json.loads(raw.decode("utf-8"))
        size = path.stat().st_size
    except (OSError, ValueError, UnicodeDecodeError) as err:
        if isinstance(err, OSError):
            return f"the weights file cannot be read: {err.strerror or err}"
        return "the weights file is not a safetensors file"
    if not isinstance(header, dict):
        return "the weights file is not a safetensors file"
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (KeyError, TypeError, ValueError, IndexError):
            return "the weights file is not a safetensors file"
    if size != 8 + n + end:
        return "the weights file is truncated"
    return None


def read_meta(weights: Path) -> tuple[dict | None, str | None]:
    """The JSON metadata beside ``weights`` (without the state skeleton), or why it is unreadable."""
    try:
        meta = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "its metadata is missing"
    except OSError as err:
        return None, f"its metadata cannot be read: {err.strerror or err}"
    except (ValueError, UnicodeDecodeError):
        return None, "its metadata is not valid JSON"
    if not _well_formed(meta):
        return None, "its metadata has an unknown format"
    meta.pop("skeleton", None)
    return meta, None


def _well_formed(meta) -> bool:
    """The fields ordering and fitting read have the types this app writes (a hand-made or
    damaged JSON is unreadable, never a crash)."""
    if not isinstance(meta, dict) or type(meta.get("step")) is not int:
        return False
    if any(type(meta.get(k, 0)) is not int for k in _COUNTS):
        return False
    if not isinstance(meta.get("created_at", 0.0), (int, float)):
        return False
    if not all(isinstance(meta.get(k, {}), dict) for k in ("train_config", "model_config")):
        return False
    labels = meta.get("labels", {})
    return labels is None or (
        isinstance(labels, dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in labels.values())
    )


def read_entry(weights: Path) -> Entry:
    meta, problem = read_meta(weights)
    if problem is None:
        problem = weights_problem(weights)
    return Entry(weights, meta, problem)


def gone(weights: Path) -> bool:
    """True when the checkpoint's weights or JSON no longer exist: pruned while it was being
    read (the app's trainer prunes as it saves), not unreadable."""
    return not (weights.is_file() and weights.with_suffix(".json").is_file())


def complete(folder: str | Path, missing: list[Path] | None = None) -> list[Path]:
    """The weights of every complete checkpoint (weights + JSON) in ``folder``, by file name
    (oldest first); a listed JSON whose weights are not there (pruned since the listing, or
    never whole) is left out and added to ``missing``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    out = []
    for js in sorted(folder.glob(f"{PREFIX}*.json")):
        w = js.with_suffix(".safetensors")
        if w.is_file():
            out.append(w)
        elif missing is not None:
            missing.append(w)
    return out


def scan(folder: str | Path, pruned: list[Path] | None = None) -> list[Entry]:
    """Every complete checkpoint (weights + JSON) in ``folder``, by file name; one pruned while
    it was being listed or read is left out (and added to ``pruned``: the caller may look
    again, a newer one being there)."""
    out = []
    for w in complete(folder, pruned):
        entry = read_entry(w)
        if entry.readable or not gone(w):
            out.append(entry)
        elif pruned is not None:
            pruned.append(w)
    return out


def newest_first(entries: list[Entry]) -> list[Entry]:
    """The readable entries, newest (highest metadata step, then time) first."""
    return sorted((e for e in entries if e.readable), key=lambda e: e.order, reverse=True)


def highest_step(entries: list[Entry]) -> int:
    """The highest step any readable checkpoint holds (0 when none): new ones go above it."""
    return max((e.step for e in entries if e.readable), default=0)


def labels_cover(new: dict | None, old: dict | None) -> bool:
    """True when every task and label of ``old`` is still in ``new`` (a grown label set)."""
    if not new or not old:  # a checkpoint without labels fits only a project without any
        return not new and not old
    if not isinstance(old, dict) or not isinstance(new, dict):
        return False
    for task, labels in old.items():
        if task not in new or not set(labels) <= set(new[task]):
            return False
    return True


def describe_unreadable(entries: list[Entry]) -> str:
    """``ckpt-00000009: the weights file is truncated; …`` for the message sentences."""
    bad = [f"{e.weights.stem}: {e.problem}" for e in entries if not e.readable]
    shown = "; ".join(bad[:3]) + ("; …" if len(bad) > 3 else "")
    return shown


def prune(folder: str | Path, keep: int, protect: str | Path | None = None) -> list[Path]:
    """Delete the older checkpoints of the newest one's line beyond the newest ``keep``; return
    the removed weight paths.

    Only readable checkpoints of the same algorithm whose labels the kept one covers are pruned
    (older models of the same line). Never deleted: ``protect`` (the one just written), the
    newest readable checkpoint, unreadable files (they cannot be judged older) and checkpoints
    of another algorithm or of labels since renamed (a fresh start keeps them).

    A time-based checkpoint (note ``RECENT``, written seconds after answers) is superseded by any
    newer one of its line and deleted whatever ``keep``: the newest ``keep`` are the model of the
    moment and the milestones (every ``checkpoint_every`` updates, on close, rollbacks), so
    saving every few seconds never pushes the older milestones out."""
    if keep <= 0:
        return []
    entries = scan(folder)
    ordered = newest_first(entries)
    if protect is not None:
        protect = Path(protect).with_suffix(".safetensors")
        mine = [e for e in ordered if e.weights == protect]
        head = mine[0] if mine else None
    else:
        head = ordered[0] if ordered else None
    if head is None:
        return []
    line = [
        e for e in ordered if e.algorithm == head.algorithm and labels_cover(head.labels, e.labels)
    ]
    others = [e for e in line if e is not head]
    history = [e for e in others if not (e.note == RECENT and e.order < head.order)]
    keepers = {head.weights, ordered[0].weights}
    keepers |= {e.weights for e in history[: keep - 1]}
    removed = []
    for e in line:
        if e.weights in keepers:
            continue
        for p in (e.weights.with_suffix(".json"), e.weights):
            try:
                p.unlink()
            except OSError:
                pass
        removed.append(e.weights)
    return removed
