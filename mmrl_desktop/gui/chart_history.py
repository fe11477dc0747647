"""The answer charts' data: restored from the log when a project opens, then fed per answer.

Before, the charts started empty on every start although the answers were in the log. Now:

- ``read_history`` (Qt-free, on a ``BackgroundTask`` thread with its own store connection) reads
  what the charts showed before: the thumbs-up rates per answered click (from the session's undo
  stack, which the session rebuilds from the log at open), the prequential accuracy per live
  answer (``core/evaluation/prequential.py``), the trainer's metrics from the ``metrics`` table (written
  before this start: later rows arrive as live events) and the number of held-out items;
- ``AnswerCharts`` puts that history into the ``ChartsPanel`` in a few vectorised stores, then
  adds one point per answer. A click costs an append to a list; the reward lookup (one indexed
  range of the event log) and the chart points wait until the click has painted (``drain``).
  Answers given before the history arrived are added after it, once (by event id). Undo withdraws
  the newest points: undo always retracts the latest live answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mmrl_desktop.core.evaluation import prequential
from mmrl_desktop.core.labelling.session import Click, ItemStatus
from mmrl_desktop.core.learning.trainer_messages import chart_keys

MOVING_AVERAGE = prequential.RECENT  # the thumbs-up "recent" window (answers)
PREQ_KEYS = ("preq/accuracy", "preq/low", "preq/high")
THUMB_KEYS = ("reward/thumbs_up_ma", "reward/thumbs_up_cum")


NO_EVAL_YET = (
    "No held-out figure yet: the trainer measures the held-out items every 200 training steps "
    "(eval_every); the prequential accuracy scores every answer now."
)


@dataclass
class History:
    upto_event_id: int  # the newest event the history covers
    ups: list[bool]  # per answered click (skips and exclusions left out), oldest first
    right: list[bool]  # per live answer (one per task), oldest first: prequential
    metrics: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    holdout_items: int = 0


def answered(actions: Sequence[Click]) -> list[Click]:
    """The clicks that answered (not skips, not exclusions)."""
    return [a for a in actions if not a.excluded and a.status != ItemStatus.SKIPPED]


class ThumbsUpRates:
    """The thumbs-up chart's figures, one source for the restored history and each new answer:
    the rate over the last ``MOVING_AVERAGE`` answers ("recent") and over all, from the running
    count of thumbs-up (``_rates``: the same formula, vectorised or for one answer)."""

    def __init__(self, ups: Sequence[bool] = ()) -> None:
        self.cum: list[int] = [0, *np.cumsum(np.asarray(ups, dtype=np.int64)).tolist()]

    def __len__(self) -> int:
        return len(self.cum) - 1

    def add(self, up: bool) -> tuple[int, float, float]:
        """Count one answer: ``(n, recent, all)`` after it."""
        self.cum.append(self.cum[-1] + bool(up))
        n = len(self)
        recent, every = _rates(self.cum, n)
        return n, float(recent), float(every)

    def pop(self) -> None:
        """Withdraw the latest answer (undo)."""
        if len(self):
            self.cum.pop()

    def series(self) -> dict[str, tuple]:
        """Every point, at x = 1, 2, … (vectorised: the history restored at open)."""
        n = np.arange(1, len(self) + 1)
        recent, every = _rates(np.asarray(self.cum, dtype=np.float64), n)
        x = n.astype(np.float64)
        return {THUMB_KEYS[0]: (x, recent), THUMB_KEYS[1]: (x, every)}


def _rates(cum, n):
    """(recent, all) after ``n`` answers; ``cum[k]``: thumbs-up among the first ``k``."""
    lo = np.maximum(0, n - MOVING_AVERAGE)
    return (cum[n] - cum[lo]) / (n - lo), cum[n] / n


def thumbs_series(ups: Sequence[bool]) -> dict[str, tuple]:
    """The thumbs-up chart's points for ``ups`` (``ThumbsUpRates.series``)."""
    return ThumbsUpRates(ups).series()


def preq_series(right: Sequence[bool]) -> dict[str, tuple]:
    r = prequential.running(right)
    return {k: (r["n"], r[k.split("/")[1]]) for k in PREQ_KEYS}


def metrics_series(rows, tasks: list[str], capacity: int) -> dict[str, tuple]:
    """The trainer's metric rows ``(run_id, step, key, value, timestamp)`` as chart series: the
    rows of one flush (same run and step) are one event, under the charts' keys like a live one
    (``chart_keys``)."""
    xs: dict[str, list[float]] = {}
    ys: dict[str, list[float]] = {}
    group: dict[str, float] = {}
    at = None
    for run_id, step, key, value, _ts in [*rows, (None, None, None, None, None)]:
        if (run_id, step) != at and group:
            for k, v in chart_keys(group, tasks).items():
                xs.setdefault(k, []).append(float(at[1]))
                ys.setdefault(k, []).append(float(v))
            group = {}
        at = (run_id, step)
        if key is not None:
            group[key] = value
    return {k: (np.array(xs[k][-capacity:]), np.array(ys[k][-capacity:])) for k in xs}


def live_answers(store, upto_event_id: int) -> list:
    """The answers live when event ``upto_event_id`` was the newest: what ``active_feedback``
    gave then (an undo since is applied by the GUI after the history, like a click)."""
    events = store.events_since(0, limit=None)
    events = [e for e in events if e.event_id <= upto_event_id]
    retracted = {e.retracts for e in events if e.kind == "retraction"}
    excluded = store.excluded_ids()
    return [
        e
        for e in events
        if e.kind == "feedback" and e.event_id not in retracted and e.item_id not in excluded
    ]


def read_history(
    project_root: str,
    upto_event_id: int,
    actions: Sequence[Click],
    tasks: list[str],
    before_ts: float,
    capacity: int = 10_000,
) -> History:
    """Everything the charts showed before this start (opens its own store: call it on the
    thread it runs in)."""
    from mmrl_desktop.core.data.project import Project

    project = Project.open(project_root)
    with project.open_store() as store:
        live = live_answers(store, upto_event_id)
        right = [e.reward > 0 for e in prequential.answers(live, tasks)]
        rows = [r for r in store.metrics() if r[4] < before_ts]
        holdout = sum(1 for it in store.items(split="holdout") if it.labels)
    ups = [a.status == ItemStatus.UP for a in answered(actions)]
    return History(upto_event_id, ups, right, metrics_series(rows, tasks, capacity), holdout)


def rewards_of(store) -> Callable[[tuple[int, ...]], list[int]]:
    """The rewards of a click's answers: one indexed range of the event log (``store`` is the
    session's, on the GUI thread)."""

    def lookup(event_ids: tuple[int, ...]) -> list[int]:
        if not event_ids:
            return []
        first, last = min(event_ids), max(event_ids)
        ids = set(event_ids)
        return [
            e.reward
            for e in store.events_since(first - 1, limit=last - first + 1)
            if e.event_id in ids and e.kind == "feedback" and e.reward in (-1, 1)
        ]

    return lookup


class AnswerCharts:
    """Feeds the answer charts of a ``ChartsPanel``: history first, then one answer at a time.

    ``rewards_of(event_ids)`` gives the rewards (+1/−1) of a click's answers (the session's
    store).
    """

    def __init__(self, charts, rewards_of: Callable[[tuple[int, ...]], list[int]]):
        self.charts = charts
        self.rewards_of = rewards_of
        self.thumbs = ThumbsUpRates()
        self.preq = prequential.RunningAccuracy()
        self.pending: list[Click] = []
        self.restored = False
        self.undone: list[Click] = []  # undos before the history came: applied after it
        self._task = None
        self.closed = False
        self.upto_event_id = 0

    def record(self, action: Click) -> None:
        """A click answered (cheap: the points come in ``drain``, after the paint)."""
        self.pending.append(action)

    def drain(self) -> None:
        if not self.restored:
            return
        pending, self.pending = self.pending, []
        for action in pending:
            if max(action.event_ids, default=0) <= self.upto_event_id:
                continue  # already in the history
            self._add(action)

    def _add(self, action: Click) -> None:
        n, recent, every = self.thumbs.add(action.status == ItemStatus.UP)
        self.charts.add_point(THUMB_KEYS[0], n, recent)
        self.charts.add_point(THUMB_KEYS[1], n, every)
        for r in self.rewards_of(action.event_ids):
            for key, v in zip(PREQ_KEYS, self.preq.add(r > 0)[1:], strict=True):
                self.charts.add_point(key, len(self.preq), v)

    def unrecord(self, action: Click) -> None:
        """Undo of ``action``: its points go (it is the latest recorded answer)."""
        if action.excluded or action.status == ItemStatus.SKIPPED:
            return
        if action in self.pending:
            self.pending.remove(action)
            return
        if not self.restored:
            self.undone.append(action)  # the history is as it was before this undo
            return
        if not len(self.thumbs):
            return
        self.thumbs.pop()
        for key in THUMB_KEYS:
            self.charts.pop_point(key)
        for _ in action.event_ids:  # one answer per task
            self.preq.pop()
            for key in PREQ_KEYS:
                self.charts.pop_point(key)

    def restore(self, history: History) -> None:
        """Put the history into the charts, then the answers given meanwhile."""
        from mmrl_desktop.gui.charts import NO_ANSWERS_NOTE

        if self.closed:
            return
        self.upto_event_id = history.upto_event_id
        self.thumbs = ThumbsUpRates(history.ups)
        self.preq = prequential.RunningAccuracy(history.right)
        series = {**self.thumbs.series(), **preq_series(history.right), **history.metrics}
        for key, (x, y) in series.items():
            self.charts.load_series(key, x, y)
        if history.holdout_items == 0:
            self.charts.set_note("eval", prequential.NO_HOLDOUT)
        elif history.holdout_items > 0 and "eval/accuracy" not in history.metrics:
            self.charts.set_note("eval", NO_EVAL_YET, until_data=True)
        if not history.right and not history.ups:
            self.charts.set_note("preq", NO_ANSWERS_NOTE, until_data=True)
        self.restored = True
        undone, self.undone = self.undone, []
        for action in undone:
            self.unrecord(action)
        self.drain()

    def start_restore(self, project_root: str, session, tasks: list[str]) -> None:
        """Read the history on a background thread as of now (the session's newest event and
        undo stack; the metrics written before now) and ``restore`` it when it arrives."""
        from mmrl_desktop.gui.background import BackgroundTask

        upto = session.store.last_event_id()
        actions = list(session.undo_stack)
        before, cap = time.time(), self.charts.capacity

        def job(_state) -> History:
            return read_history(project_root, upto, actions, tasks, before, cap)

        def failed(_text: str = "") -> None:  # the charts start empty, as before
            self.restore(History(0, [], [], holdout_items=-1))

        self._task = BackgroundTask(job, "chart-history")
        self._task.finished.connect(lambda h: self.restore(h) if h is not None else failed())
        self._task.failed.connect(failed)
        self._task.start()

    def close(self) -> None:
        """The window closes: wait (bounded) for a history still being read; it is dropped."""
        self.closed = True
        if self._task is not None:
            self._task.shutdown(2000)
