"""Growing a checkpoint's state when the project's label set grew (an import added a class).

    state = grow_state(old_state, fresh_state, old_labels, new_labels, param_names)

``old_state`` is a checkpoint's ``Algorithm.state_dict()`` for ``old_labels``; ``fresh_state`` is
the state of an algorithm just built for ``new_labels`` (the shapes to grow to); ``param_names``
are that policy's ``named_parameters()`` names, in the optimiser's order.

In the policy, the frozen reference policy and the weights' moving average (``average``), each task
head (``heads.heads.<task>.weight`` / ``.bias``, one row per label) keeps the rows of the labels it
knew, moved to their new positions; a new label's row starts with zero weights and the mean of the
old biases (an average prior, no opinion about any item). A task the checkpoint did not have keeps
the fresh head. The optimiser's moments of a grown head are widened the same way (new rows: zero
moments); the other parameters' state is carried over unchanged. When the saved optimiser state
does not line up with the parameters it is dropped (the optimiser starts afresh; the weights are
kept). Per-task algorithm state (``extra``, e.g. reinforce's baselines) keeps its known tasks; the
default algorithm's graph posterior is recomputed from the answers at the next refresh, sized by
the new label count."""

from __future__ import annotations

import torch

HEAD = "heads.heads."


def _head(name: str) -> tuple[str, str] | None:
    """(task, "weight"|"bias") for a head parameter name, else None."""
    if not name.startswith(HEAD):
        return None
    task, _, kind = name[len(HEAD) :].rpartition(".")
    return (task, kind) if kind in ("weight", "bias") else None


def row_maps(old: dict, new: dict) -> dict[str, list[tuple[int, int]]]:
    """Per task both had: [(new row, old row)] for every old label (by name)."""
    out = {}
    for task, labels in old.items():
        if task in new:
            where = {lab: i for i, lab in enumerate(new[task])}
            out[task] = [(where[lab], i) for i, lab in enumerate(labels)]
    return out


def _widen(old: torch.Tensor, shape, rows, fill: float = 0.0) -> torch.Tensor:
    out = torch.full(shape, float(fill), dtype=old.dtype)
    for new_i, old_i in rows:
        out[new_i] = old[old_i]
    return out


def grow_module(old: dict, fresh: dict, maps: dict) -> dict:
    """A policy state dict ``old`` grown to the shapes of ``fresh`` (``maps``: ``row_maps``)."""
    out = {}
    for key, template in fresh.items():
        head = _head(key)
        if head is not None and head[0] not in maps:
            out[key] = template  # a task the checkpoint did not have: a fresh head
        elif head is not None and key in old:
            src = old[key]
            fill = float(src.float().mean()) if head[1] == "bias" and src.numel() else 0.0
            out[key] = _widen(src, template.shape, maps[head[0]], fill)
        elif key in old:
            out[key] = old[key]  # a shape mismatch here fails the strict load: not a growth
    return out


def _grow_optimizer(opt: dict, old_policy: dict, fresh_policy: dict, maps: dict, names, old_tasks):
    """The optimiser state re-indexed and widened, or None when it does not line up."""
    groups = opt.get("param_groups") or []
    if len(groups) != 1:
        return None
    old_names = [n for n in names if _head(n) is None or _head(n)[0] in old_tasks]
    state = opt.get("state") or {}
    by_name = {}
    for i, s in state.items():
        i = int(i)
        if i >= len(old_names) or old_names[i] not in old_policy:
            return None
        if tuple(s["exp_avg"].shape) != tuple(old_policy[old_names[i]].shape):
            return None
        by_name[old_names[i]] = s
    new_state = {}
    for j, name in enumerate(names):
        s = by_name.get(name)
        if s is None:
            continue
        head = _head(name)
        if head is not None:
            shape = fresh_policy[name].shape
            s = {
                "step": s["step"],
                "exp_avg": _widen(s["exp_avg"], shape, maps[head[0]]),
                "exp_avg_sq": _widen(s["exp_avg_sq"], shape, maps[head[0]]),
            }
        new_state[j] = s
    return {"state": new_state, "param_groups": [{**groups[0], "params": list(range(len(names)))}]}


def grow_state(
    old_state: dict, fresh_state: dict, old_labels: dict, new_labels: dict, names: list[str]
) -> dict:
    """``old_state`` widened to ``new_labels`` (see the module docstring)."""
    maps = row_maps(old_labels, new_labels)
    out = dict(old_state)
    out["policy"] = grow_module(old_state["policy"], fresh_state["policy"], maps)
    for key in ("reference", "average"):  # the frozen policy; the weights' moving average
        if key in old_state and key in fresh_state:
            out[key] = grow_module(old_state[key], fresh_state[key], maps)
    opt = old_state.get("optimizer")
    fresh = fresh_state["policy"]
    out["optimizer"] = (
        _grow_optimizer(opt, old_state["policy"], fresh, maps, names, set(old_labels))
        if opt
        else None
    )
    return out
