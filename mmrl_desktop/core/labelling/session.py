"""LabelingSession: the expert's queue, the predictions shown and the answers given. Qt-free.

The GUI thread owns one session and writes answers through the session's own store connection
(one short transaction per click). The trainer thread sends fresh predictions for the queued items
after each model version; the session keeps the newest per item, so the next item's prediction
always comes from the newest model that has predicted it.

When no model has predicted an item yet (the first seconds after launch, before torch has
loaded), the session shows a uniformly random label and logs its true propensity 1/K — an honest
logging policy for off-policy evaluation.

Which item comes next (issue 19, ADR 0013): the queue order (``queue_order``) unless the project
asks the learner to choose (``[algorithm] next_item``). Then the trainer process picks the next
items on fresh predictions and the session is told (``set_next_items``): after an answer the next
unanswered of those is current, and ``upcoming_ids`` lists them first (so they are predicted and
decoded ahead). The session does no model work: a click only reads the next id.

Each answer is stored with how its item was chosen (``Selection``, schema 3): a trainer's pick
with the selection probability the trainer gave it; an item from the queue order with ``1/m``
among the ``m`` unanswered items (over the hash permutation a uniform draw, order ``shuffle``);
nothing (unknown) for an item the expert opened from the list and for a second answer in review.
"""

from __future__ import annotations

import bisect
import getpass
import hashlib
import random
from collections import Counter
from dataclasses import dataclass
from enum import Enum

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.store import FeedbackStore, Prediction, Selection


class ItemStatus(str, Enum):
    NEW = "new"
    UP = "up"
    DOWN = "down"
    CORRECTED = "corrected"
    SKIPPED = "skipped"


# Glyphs present in common UI fonts (DejaVu, Segoe UI, SF): colour emoji fonts are often missing.
STATUS_SYMBOL = {
    ItemStatus.NEW: "•",
    ItemStatus.UP: "✓",
    ItemStatus.DOWN: "✗",
    ItemStatus.CORRECTED: "✎",
    ItemStatus.SKIPPED: "»",
}


@dataclass(frozen=True)
class Click:
    """What one click of the expert did: the events it appended (retracted together on undo),
    or, when ``excluded``, that it set the item aside (undo includes it again).

    Not the glossary's *Action* (CONTEXT.md: the label the model shows, with its propensity —
    ``core.learning.algorithms.base.Action``)."""

    item_id: str
    event_ids: tuple[int, ...]
    status: ItemStatus
    previous_status: ItemStatus
    excluded: bool = False


def _queue_key(item: Item) -> bytes:
    return hashlib.blake2b(item.item_id.encode(), digest_size=8).digest()


def queue_order(items: list[Item]) -> list[Item]:
    """The order the expert sees items in: a fixed pseudo-random shuffle (by a hash of the item
    id), not the import order. Folders of classes import class by class; shown in that order the
    model would see a run of one label, learn "everything is A", and the expert would judge a
    model that has never seen B. The order is the same on every start and on every machine."""
    return sorted(items, key=_queue_key)


def default_annotator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name on some frozen/odd platforms
        return "expert"


class LabelingSession:
    """The queue of pool items, their statuses, the shown predictions, answering and undo."""

    def __init__(
        self,
        project: Project,
        store: FeedbackStore,
        annotator: str | None = None,
        seed: int | None = None,
    ):
        self.project = project
        self.store = store
        self.annotator = annotator or default_annotator()
        self._rng = random.Random(seed)
        self.items: list[Item] = queue_order(store.items(split="pool"))
        self._index = {it.item_id: k for k, it in enumerate(self.items)}
        self.status: dict[str, ItemStatus] = {it.item_id: ItemStatus.NEW for it in self.items}
        self.undo_stack: list[Click] = []
        self._load_statuses()
        self.counts: Counter[ItemStatus] = Counter(self.status.values())
        self.predictions: dict[str, dict[str, Prediction]] = {}
        self._fallback: dict[str, dict[str, Prediction]] = {}
        self._pinned: dict[str, dict[str, Prediction]] = {}
        self.next_ids: list[str] = []  # the trainer's choice of the next items (set_next_items)
        self._next_selection: dict[str, Selection] = {}  # their selection probabilities
        self.selection: dict[str, Selection | None] = {}  # how each item became current
        self.current: int = self._queue_pick(0)

    # ----------------------------------------------------------- statuses from the log
    def _load_statuses(self) -> None:
        """Replay the event log: the last live event of each item gives its status.

        Also rebuilds the undo stack, so Ctrl+Z after a restart withdraws the last answer."""
        retracted = self.store.retracted_ids()
        stack: list[Click] = []
        for ev in self.store.all_events():
            if ev.kind == "retraction" or ev.event_id in retracted or ev.item_id not in self.status:
                continue
            status = _status_of(ev.kind, ev.reward, ev.corrected_label)
            if (
                stack
                and stack[-1].item_id == ev.item_id
                and len(stack[-1].event_ids) < len(self.project.tasks)
            ):  # one click on a multi-task item wrote one event per task
                last = stack.pop()
                merged = status if status != ItemStatus.UP else last.status
                stack.append(
                    Click(ev.item_id, last.event_ids + (ev.event_id,), merged, last.previous_status)
                )
            else:
                stack.append(Click(ev.item_id, (ev.event_id,), status, self.status[ev.item_id]))
            self.status[ev.item_id] = stack[-1].status
        self.undo_stack = stack

    def _first_new(self, start: int) -> int:
        """The first unanswered item from ``start`` on (wrapping). When every item has an answer,
        the queue goes on in order (review: a second answer on an item is a new event)."""
        n = len(self.items)
        if n == 0:
            return -1
        if self.counts[ItemStatus.NEW] if hasattr(self, "counts") else True:
            for k in list(range(start, n)) + list(range(0, start)):
                if self.status[self.items[k].item_id] == ItemStatus.NEW:
                    return k
        return start % n

    def _queue_pick(self, start: int) -> int:
        """``_first_new``, noting the pick's selection: ``1/m`` among ``m`` unanswered items."""
        k = self._first_new(start)
        m = self.counts[ItemStatus.NEW]
        if k >= 0:
            fresh = m and self.status[self.items[k].item_id] == ItemStatus.NEW
            self.selection[self.items[k].item_id] = (
                Selection(1.0 / m, m, "shuffle") if fresh else None
            )
        return k

    def _next_new(self, start: int) -> int:
        """After an answer: the next unanswered item the trainer chose, else the queue order."""
        while self.next_ids:
            item_id = self.next_ids[0]
            if self.status.get(item_id) == ItemStatus.NEW and item_id in self._index:
                self.selection[item_id] = self._next_selection.get(item_id)
                return self._index[item_id]
            self.next_ids.pop(0)
        return self._queue_pick(start)

    def set_next_items(self, item_ids, propensities=(), order: str = "", pools=()) -> None:
        """The trainer's choice of the next items (``core/learning/next_item.py``), in the order
        they are to be asked, with each pick's selection probability among ``pools`` unanswered
        items (``NextItems``; without them the picks' selection is unknown). Replaces the earlier
        choice; the item on screen stays; answered or unknown ids are dropped."""
        self.next_ids = [
            i for i in item_ids if self.status.get(i) == ItemStatus.NEW and i in self._index
        ]
        known = len(propensities) == len(pools) == len(item_ids) and order
        self._next_selection = {
            i: Selection(float(p), int(m), order)
            for i, p, m in (zip(item_ids, propensities, pools, strict=True) if known else ())
            if 0.0 < p <= 1.0 and m >= 1  # else unknown, never an error on the GUI thread
        }

    # ----------------------------------------------------------- queue
    @property
    def tasks(self) -> list[Task]:
        return self.project.tasks

    def current_item(self) -> Item | None:
        return self.items[self.current] if 0 <= self.current < len(self.items) else None

    def answered_count(self) -> int:
        return len(self.items) - self.counts[ItemStatus.NEW]

    def _set_status(self, item_id: str, status: ItemStatus) -> None:
        self.counts[self.status[item_id]] -= 1
        self.counts[status] += 1
        self.status[item_id] = status

    def progress(self) -> tuple[int, int]:
        return self.answered_count(), len(self.items)

    def upcoming_ids(self, n: int = 32) -> list[str]:
        """The next ``n`` unanswered items, starting at the current one: the trainer's chosen
        next items (``set_next_items``) first, then the queue order: the items the trainer should
        predict after each new model version (and the GUI decodes ahead). When every item has an
        answer (review), the next ``n`` items in queue order."""
        out: list[str] = []
        total = len(self.items)
        if not self.counts[ItemStatus.NEW]:  # review: the queue goes on in order
            return [self.items[(self.current + k) % total].item_id for k in range(min(n, total))]
        current = self.current_item()
        if current is not None and self.status[current.item_id] == ItemStatus.NEW:
            out.append(current.item_id)
        for item_id in self.next_ids:  # the trainer's choice, then the queue order
            if item_id not in out and self.status.get(item_id) == ItemStatus.NEW:
                out.append(item_id)
        if len(out) >= n:
            return out[:n]
        for off in range(total):
            it = self.items[(self.current + off) % total]
            if self.status[it.item_id] == ItemStatus.NEW and it.item_id not in out:
                out.append(it.item_id)
                if len(out) >= n:
                    break
        return out

    def go_to(self, item_id: str) -> None:
        """The expert opens an item: its answer's selection is unknown (the expert chose it)."""
        if self.current_item() is None or self.current_item().item_id != item_id:
            self.selection[item_id] = None
        self.current = self._index[item_id]

    def all_done(self) -> bool:
        return self.counts[ItemStatus.NEW] == 0

    # ----------------------------------------------------------- predictions
    def update_predictions(self, preds: dict[str, dict[str, Prediction]]) -> None:
        """Keep the newest prediction per item and task (a late signal from an older model
        version never overwrites a newer one)."""
        for item_id, per_task in preds.items():
            mine = self.predictions.setdefault(item_id, {})
            for task, p in per_task.items():
                old = mine.get(task)
                if old is None or p.model_version >= old.model_version:
                    mine[task] = p

    def show(self, item_id: str) -> dict[str, Prediction]:
        """Pin what is shown for ``item_id`` now: the answer is logged against exactly this
        (a newer model version arriving while the expert looks does not change it)."""
        self._pinned.pop(item_id, None)
        shown = {t.name: self.prediction(item_id, t.name) for t in self.tasks}
        self._pinned[item_id] = shown
        return shown

    def is_pinned_guess(self, item_id: str) -> bool:
        """True when the pinned prediction is the warm-up random guess (no model yet)."""
        pinned = self._pinned.get(item_id)
        return bool(pinned) and item_id in self._fallback and not self.has_model_prediction(item_id)

    def prediction(self, item_id: str, task: str) -> Prediction:
        pinned = self._pinned.get(item_id, {}).get(task)
        if pinned is not None:
            return pinned
        p = self.predictions.get(item_id, {}).get(task)
        if p is not None:
            return p
        fb = self._fallback.setdefault(item_id, {})
        if task not in fb:
            labels = self.project.task(task).labels
            k = len(labels)
            shown = self._rng.choice(labels)
            fb[task] = Prediction(
                item_id, task, 0, shown, 1.0 / k, {lab: 1.0 / k for lab in labels}
            )
        return fb[task]

    def has_model_prediction(self, item_id: str) -> bool:
        return item_id in self.predictions

    # ----------------------------------------------------------- answering
    def answer(self, thumb: int, corrected: dict[str, str] | None = None) -> Click:
        """👍 (+1) or 👎 (−1) on every task's shown label of the current item; ``corrected`` maps
        task → the right label (implies 👎 on that task unless it equals the shown label).
        Returns once every event is committed (acknowledged), then advances the queue."""
        item = self.current_item()
        if item is None:
            raise RuntimeError("the queue is empty")
        corrected = corrected or {}
        selection = self.selection.get(item.item_id)
        ids = []
        any_corrected = False
        any_down = False
        for task in self.tasks:
            pred = self.prediction(item.item_id, task.name)
            right = corrected.get(task.name)
            if right is not None and right not in task.labels:
                raise ValueError(f"{right!r} is not a label of task {task.name!r}")
            if right is not None:
                reward = 1 if right == pred.shown_label else -1
            else:
                reward = 1 if thumb > 0 else -1
            corr = right if (right is not None and reward < 0) else None
            any_corrected |= corr is not None
            any_down |= reward < 0
            ids.append(
                self.store.record_feedback(
                    item.item_id,
                    task.name,
                    pred.shown_label,
                    pred.propensity,
                    reward,
                    corrected_label=corr,
                    annotator=self.annotator,
                    model_version=pred.model_version,
                    selection=selection,
                )
            )
        status = (
            ItemStatus.CORRECTED
            if any_corrected
            else (ItemStatus.DOWN if any_down else ItemStatus.UP)
        )
        return self._done(item, tuple(ids), status)

    def correct(self, label_index: int, task: str | None = None) -> Click:
        """Keys 1–9: the right answer for ``task`` (default: the first task) is label number
        ``label_index`` (0-based)."""
        t = self.project.task(task) if task else self.tasks[0]
        if not 0 <= label_index < len(t.labels):
            raise IndexError(label_index)
        return self.answer(-1, corrected={t.name: t.labels[label_index]})

    def skip(self) -> Click:
        item = self.current_item()
        if item is None:
            raise RuntimeError("the queue is empty")
        eid = self.store.record_skip(item.item_id, self.tasks[0].name, annotator=self.annotator)
        return self._done(item, (eid,), ItemStatus.SKIPPED)

    def _done(self, item: Item, ids: tuple[int, ...], status: ItemStatus) -> Click:
        click = Click(item.item_id, ids, status, self.status[item.item_id])
        self._set_status(item.item_id, status)
        self.undo_stack.append(click)
        self.predictions.pop(item.item_id, None)
        self._pinned.pop(item.item_id, None)
        self.current = self._next_new(self.current + 1)
        return click

    def exclude(self, reason: str = "") -> Click:
        """Set the current item aside (``core/data/exclusions.py``): one committed row, then it leaves
        the queue and the next unanswered item is current. Undo includes it again."""
        item = self.current_item()
        if item is None:
            raise RuntimeError("the queue is empty")
        self.store.exclude_items([item.item_id], reason=reason, annotator=self.annotator)
        status = self.status.pop(item.item_id)
        self.counts[status] -= 1
        click = Click(item.item_id, (), status, status, excluded=True)
        self.undo_stack.append(click)
        del self.items[self.current], self._index[item.item_id]
        self._reindex(self.current)
        for cache in (self.predictions, self._fallback, self._pinned):
            cache.pop(item.item_id, None)
        self.current = self._next_new(self.current)
        return click

    def include(self, item_ids: list[str]) -> list[str]:
        """Include excluded items again (one committed transaction) and put them back in the
        queue, with the status their live answers give. Returns the ids that were excluded."""
        done = self.store.include_items(item_ids, annotator=self.annotator)
        status = dict.fromkeys(done, ItemStatus.NEW)
        if done:  # their answers, from the log (a rare action: one pass over it)
            retracted = self.store.retracted_ids()
            for ev in self.store.all_events():
                live = ev.kind != "retraction" and ev.event_id not in retracted
                if live and ev.item_id in status:
                    status[ev.item_id] = _status_of(ev.kind, ev.reward, ev.corrected_label)
        for item_id in done:
            self._requeue(item_id, status[item_id])
            self.selection[item_id] = None  # the expert brought it back: not a pick
        return done

    def _requeue(self, item_id: str, status: ItemStatus) -> None:
        if item_id in self._index:  # still queued (excluded elsewhere while this session ran)
            self.current = self._index[item_id]
            return
        item = self.store.item(item_id)
        pos = bisect.bisect(self.items, _queue_key(item), key=_queue_key)
        self.items.insert(pos, item)
        self._reindex(pos)
        self.status[item_id] = status
        self.counts[status] += 1
        self.current = pos

    def _reindex(self, start: int) -> None:
        """Positions from ``start`` on, after an item left or rejoined the queue."""
        for k in range(start, len(self.items)):
            self._index[self.items[k].item_id] = k

    def undo(self) -> Click | None:
        """Retract the last click's events (also an already-submitted answer) and go back to
        that item; or include again the item the last click excluded. Returns the undone
        click, or None when there is nothing to undo."""
        if not self.undo_stack:
            return None
        click = self.undo_stack.pop()
        if click.excluded:
            self.store.include_items([click.item_id], annotator=self.annotator)
            self._requeue(click.item_id, click.status)
            return click
        for eid in click.event_ids:
            self.store.retract(eid, annotator=self.annotator)
        # a second answer's undo leaves the first: the item keeps the status it had before
        self._set_status(click.item_id, click.previous_status)
        self._fallback.pop(click.item_id, None)
        self._pinned.pop(click.item_id, None)
        self.current = self._index[click.item_id]
        return click


def _status_of(kind: str, reward: int | None, corrected: str | None) -> ItemStatus:
    if kind == "skip":
        return ItemStatus.SKIPPED
    if corrected:
        return ItemStatus.CORRECTED
    return ItemStatus.UP if (reward or 0) > 0 else ItemStatus.DOWN
