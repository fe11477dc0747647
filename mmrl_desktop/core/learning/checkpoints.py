"""Checkpoints: safetensors weights + JSON metadata, written atomically, newest N kept.

A checkpoint ``ckpt-<step>`` is two files in ``<project>/checkpoints/``:
  ``ckpt-00001200.safetensors``  every tensor of the algorithm's state (policy, reference policy,
                                 optimiser moments, algorithm extras), keys are paths like
                                 ``policy/heads.heads.label.weight`` or ``optimizer/state/3/exp_avg``
  ``ckpt-00001200.json``         metadata: TrainConfig, ModelConfig, step, model_version,
                                 answers_seen, last_event_id, label lists, and the non-tensor
                                 skeleton of the state (numbers, strings, tensor placeholders)
Each file is written temp → fsync → replace (``project.atomic_write_bytes``), weights first; the
JSON appears last, so a checkpoint without its JSON is incomplete and ignored. Loading never runs
pickled code (safetensors + JSON only). ``latest`` is the readable checkpoint with the highest
metadata step; it falls back to an older one when the newest cannot be read (a kill during a
write), and ``find_latest`` says which ones it skipped. Names, ordering and pruning are
``ckpt_files`` (torch-free).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from mmrl_desktop.core.data.project import atomic_write_bytes
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import ckpt_files
from mmrl_desktop.core.learning.ckpt_files import checkpoint_path, checkpoint_stem, prune

__all__ = [
    "Checkpoint",
    "Latest",
    "checkpoint_path",
    "checkpoint_stem",
    "find_latest",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "prune",
    "save_checkpoint",
]

FORMAT_VERSION = 1
_TENSOR = "__tensor__"


def flatten_state(obj: Any, prefix: str = "") -> tuple[dict[str, torch.Tensor], Any]:
    """Split a nested dict/list state into {path: tensor} and a JSON-able skeleton."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(o: Any, path: str) -> Any:
        if isinstance(o, torch.Tensor):
            tensors[path] = o.detach().cpu().contiguous()
            return {_TENSOR: path}
        if isinstance(o, dict):
            return {"__dict__": [[_key(k), walk(v, f"{path}/{k}")] for k, v in o.items()]}
        if isinstance(o, (list, tuple)):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(o)]
        if o is None or isinstance(o, (bool, int, float, str)):
            return o
        raise TypeError(f"cannot store {type(o).__name__} in a checkpoint")

    skeleton = walk(obj, prefix)
    return tensors, skeleton


def _key(k: Any) -> Any:
    if isinstance(k, (str, int)) and not isinstance(k, bool):
        return k
    raise TypeError(f"checkpoint dict keys must be str or int, not {type(k).__name__}")


def unflatten_state(tensors: dict[str, torch.Tensor], skeleton: Any) -> Any:
    if isinstance(skeleton, dict):
        if _TENSOR in skeleton:
            return tensors[skeleton[_TENSOR]]
        return {k: unflatten_state(tensors, v) for k, v in skeleton["__dict__"]}
    if isinstance(skeleton, list):
        return [unflatten_state(tensors, v) for v in skeleton]
    return skeleton


@dataclass
class Checkpoint:
    path: Path  # the .safetensors file
    meta: dict
    state: dict


def save_checkpoint(
    folder: str | Path, state: dict, meta: dict, step: int, keep: int | None = None
) -> Path:
    """Write ``state`` (algorithm.state_dict()) and ``meta``; return the weights path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors, skeleton = flatten_state(state)
    weights = checkpoint_path(folder, step)
    atomic_write_bytes(weights, st_save(tensors, metadata={"format": str(FORMAT_VERSION)}))
    full_meta = {
        "format": FORMAT_VERSION,
        "step": int(step),
        "created_at": time.time(),
        **meta,
        "skeleton": skeleton,
    }
    atomic_write_bytes(weights.with_suffix(".json"), json.dumps(full_meta).encode("utf-8"))
    if keep:
        prune(folder, keep, protect=weights)
    return weights


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Complete checkpoints (weights + JSON), oldest first."""
    return ckpt_files.complete(folder)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read one checkpoint (its .safetensors or .json path). Bad files → UserError."""
    path = Path(path)
    weights = path.with_suffix(".safetensors")
    meta_path = path.with_suffix(".json")
    try:
        tensors = st_load(weights.read_bytes())
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"checkpoint {weights.name} is missing its weights or metadata.") from None
    except Exception as err:
        raise UserError(f"checkpoint {weights.name} cannot be read ({err}).") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise UserError(f"checkpoint {weights.name} has an unknown format.")
    try:
        state = unflatten_state(tensors, meta.pop("skeleton"))
    except (KeyError, TypeError, ValueError):
        raise UserError(f"checkpoint {weights.name} is inconsistent.") from None
    return Checkpoint(weights, meta, state)


@dataclass
class Latest:
    """The newest checkpoint that could be read and fits, and what was skipped on the way."""

    checkpoint: Checkpoint | None
    unreadable: list[ckpt_files.Entry]
    highest_step: int  # over every readable checkpoint: new ones are written above it
    entries: list[ckpt_files.Entry]

    def warning(self) -> str | None:
        """One sentence when checkpoints were skipped because they could not be read."""
        if not self.unreadable:
            return None
        using = (
            f"using {self.checkpoint.path.stem}"
            if self.checkpoint is not None
            else "using the starting model"
        )
        n = len(self.unreadable)
        return (
            f"{n} checkpoint{'s' if n != 1 else ''} could not be read "
            f"({ckpt_files.describe_unreadable(self.unreadable)}); {using}."
        )


def find_latest(folder: str | Path, accept=None) -> Latest:
    """The newest readable checkpoint for which ``accept(entry)`` is true (default: any). When
    every one it looked at was pruned under it (the app's trainer saving meanwhile: a newer one
    is there), it looks again."""
    for _ in range(LOOKS):
        latest, raced = _find_latest_once(folder, accept)
        if latest.checkpoint is not None or not raced:
            break
    return latest


LOOKS = 5


def _find_latest_once(folder: str | Path, accept) -> tuple[Latest, bool]:
    pruned: list[Path] = []
    entries = ckpt_files.scan(folder, pruned)
    unreadable = [e for e in entries if not e.readable]
    raced = bool(pruned)
    for entry in ckpt_files.newest_first(entries):
        if accept is not None and not accept(entry):
            continue
        try:
            ckpt = load_checkpoint(entry.weights)
        except UserError as err:
            if ckpt_files.gone(entry.weights):  # pruned since the scan: not unreadable
                raced = True
                continue
            prefix = f"checkpoint {entry.weights.name} "
            entry.problem = str(err).removeprefix(prefix).rstrip(".")
            unreadable.append(entry)
            continue
        return Latest(ckpt, unreadable, ckpt_files.highest_step(entries), entries), raced
    return Latest(None, unreadable, ckpt_files.highest_step(entries), entries), raced


def latest_checkpoint(folder: str | Path) -> Checkpoint | None:
    """The newest readable checkpoint, or None."""
    return find_latest(folder).checkpoint
