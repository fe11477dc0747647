"""Prequential accuracy: how often the model is right on the next case, from the answers alone.

Every answer in the log was given on a label the app *showed* before the model trained on that
answer (the trainer only learns from an answer once it is committed). So each answer scores the
prediction that was shown — thumbs-up: right; thumbs-down, with or without a correction: wrong —
and the share of right ones is an honest "test then train" (prequential) accuracy. It needs no
held-out items and no labels up front, so every project has it from the first answer on.
Retracted answers (undo) and answers on excluded items are left out
(``FeedbackStore.active_feedback``). The interval is Wilson's (``metrics.wilson_interval``): at
n = 30 it is still about ±17 points wide, and the app shows it.

What it measures is the label the expert *saw*: the acting policy explores (it samples the shown
label from its belief), so some shown labels were not the model's top choice and the figure is a
little pessimistic for the model's greedy answer. The event log does **not** record whether the
shown label was the top choice: a row keeps the shown label and its propensity (the probability
the policy gave it), not the other labels' probabilities, and the ``predictions`` table keeps only
the newest prediction per item (the app's trainer does not write it at all). What the log does
prove: a label shown with propensity above one half was the policy's top choice (no other label
can have had more). ``top_choice`` is the accuracy over those answers only — the policy's
*confident* choices, so it leans optimistic; answers whose label was the top choice with a lower
propensity are not in it.

    summary(store.active_feedback())   # {"answers", "accuracy", "ci95", ...} (JSON-ready)
    curve(events)                      # running accuracy + Wilson band, for a chart
    acc = RunningAccuracy(); acc.add(True)   # the same, one answer at a time (GUI)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from mmrl_desktop.core.metrics import wilson_interval

RECENT = 20  # answers in the "recent" figure (the GUI's moving average uses the same window)
TOP_CHOICE_PROPENSITY = 0.5

SCORED = (
    "each answer scores the label shown before the model trained on it "
    "(thumbs-up: right; thumbs-down, corrected or not: wrong); retracted answers left out"
)
TOP_CHOICE_RULE = (
    "answers whose shown label had propensity > 0.5, so it was certainly the policy's top "
    "choice (the log does not record the top choice of the others)"
)
NO_ANSWERS = (
    "No answers yet: the prequential accuracy scores each answer against the label shown "
    "before the model trained on it, so it starts with the first thumbs-up or thumbs-down."
)
NO_HOLDOUT = (
    "No held-out items: this project keeps none aside (import with --holdout to keep some). "
    "The prequential accuracy needs none."
)


def answers(events: Iterable, tasks: Iterable[str] | None = None) -> list:
    """The scorable answers among ``events``: feedback rows with a reward of +1 or −1 (on
    ``tasks`` when given), in the order given."""
    keep = None if tasks is None else set(tasks)
    return [
        e
        for e in events
        if e.kind == "feedback" and e.reward in (-1, 1) and (keep is None or e.task in keep)
    ]


def _figure(right: np.ndarray) -> dict:
    n = int(right.size)
    k = int(right.sum())
    if n == 0:
        return {"answers": 0, "right": 0, "accuracy": None, "ci95": None}
    lo, hi = wilson_interval(k, n)
    return {"answers": n, "right": k, "accuracy": k / n, "ci95": [lo, hi]}


def summary(events: Iterable, tasks: Iterable[str] | None = None) -> dict:
    """The prequential figures of the live answers ``events`` (e.g. ``active_feedback()``).

    ``answers``, ``accuracy`` (None without answers) and ``ci95`` (Wilson, 95 %) as in the JSON
    contract; besides: ``right`` (the count), ``recent`` (the last ``RECENT`` answers),
    ``top_choice`` (see the module docstring), ``per_task``, ``scored`` (what was scored, one
    line) and, without answers, ``note`` (a sentence saying why there is no figure).
    """
    rows = answers(events, tasks)
    right = np.array([e.reward > 0 for e in rows], dtype=bool)
    out = _figure(right)
    recent = _figure(right[-RECENT:])
    recent["window"] = RECENT
    out["recent"] = recent
    top = np.array([(e.propensity or 0.0) > TOP_CHOICE_PROPENSITY for e in rows], dtype=bool)
    out["top_choice"] = {**_figure(right[top]), "rule": TOP_CHOICE_RULE}
    names = list(dict.fromkeys(e.task for e in rows)) if tasks is None else list(tasks)
    task_of = np.array([e.task for e in rows], dtype=object)
    out["per_task"] = {t: _figure(right[task_of == t]) for t in names}
    out["scored"] = SCORED
    if not rows:
        out["note"] = NO_ANSWERS
    return out


def running(right) -> dict[str, np.ndarray]:
    """The running accuracy of answers scored ``right`` (booleans, oldest first): ``n`` (1, 2,
    …), ``accuracy``, ``low`` and ``high`` (Wilson 95 %) after each — arrays of one length."""
    right = np.asarray(right, dtype=np.float64).reshape(-1)
    n = np.arange(1, len(right) + 1, dtype=np.float64)
    k = np.cumsum(right)
    low, high = wilson_interval(k, n)
    return {
        "n": n,
        "accuracy": k / np.maximum(n, 1.0),
        "low": np.asarray(low, dtype=np.float64),
        "high": np.asarray(high, dtype=np.float64),
    }


def curve(events: Iterable, tasks: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """``running`` over the scorable answers among ``events``, with their ``event_id``."""
    rows = answers(events, tasks)
    out = running([e.reward > 0 for e in rows])
    out["event_id"] = np.array([e.event_id for e in rows], dtype=np.int64)
    return out


class RunningAccuracy:
    """The running figure one answer at a time (the GUI's chart): O(1) per answer; ``pop``
    withdraws the latest answer (undo retracts the latest live answer first)."""

    def __init__(self, right: Iterable[bool] = ()) -> None:
        self._right: list[bool] = [bool(r) for r in right]  # a restored history, oldest first
        self.k = sum(self._right)

    def __len__(self) -> int:
        return len(self._right)

    def add(self, right: bool) -> tuple[int, float, float, float]:
        """Count one answer; returns ``(n, accuracy, low, high)`` after it."""
        self._right.append(bool(right))
        self.k += bool(right)
        return self.point()

    def pop(self) -> bool | None:
        """Withdraw the latest answer (None when there is none)."""
        if not self._right:
            return None
        right = self._right.pop()
        self.k -= right
        return right

    def point(self) -> tuple[int, float, float, float]:
        n = len(self._right)
        lo, hi = wilson_interval(self.k, n)
        return n, (self.k / n if n else float("nan")), lo, hi


def format_lines(figures: dict) -> list[str]:
    """The text report's lines for ``summary``'s dict."""
    if not figures.get("answers"):
        return [f"Prequential accuracy: — ({figures.get('note', NO_ANSWERS)})"]

    def fig(d: dict, count: bool = True) -> str:
        lo, hi = d["ci95"]
        over = f" over {d['answers']} answers" if count else ""
        return f"{100 * d['accuracy']:.1f}% (95% CI {100 * lo:.1f}–{100 * hi:.1f}%){over}"

    scored = figures.get("scored", SCORED)
    lines = [
        f"Prequential accuracy: {fig(figures)}",
        f"  {scored[0].upper()}{scored[1:]}.",
    ]
    recent = figures.get("recent") or {}
    if recent.get("answers") and recent["answers"] < figures["answers"]:
        lines.append(f"  Last {recent['answers']} answers: {fig(recent, count=False)}")
    top = figures.get("top_choice") or {}
    if top.get("answers"):
        lines.append(f"  Shown label surely the top choice (propensity > 0.5): {fig(top)}")
    return lines
