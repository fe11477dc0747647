"""ReplayBuffer: every live answer of the feedback log, sampled into ``ReplayBatch``es.

One row per feedback event (an event answers one task of one item). Retractions remove their row
(``remove`` returns it, for ``core/learning/unlearn.py``).
Rows of excluded items (``core/data/exclusions.py``) and of items whose every file turned out unreadable
are held aside, not sampled; ``set_excluded`` moves rows between the two as that set changes.
Rows hold ids and small numbers only; item features come from the ``Featurizer`` (bounded cache),
so the buffer stays small for a 50k-item project.
``sample`` (the trainer's minibatches) augments the inputs with ``augment`` (``core/learning/
augment.py``, set from the trainer's config; None = off); ``make_batch`` never does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.learning.augment import Augmenter
from mmrl_desktop.core.learning.batch import ReplayBatch, TaskFeedback
from mmrl_desktop.core.learning.model.featurize import Featurizer


@dataclass
class Row:
    event_id: int
    item_id: str
    task: str
    shown: int  # label index, −1 when the shown label is not in the task's labels
    reward: int  # +1 / −1
    propensity: float
    corrected: int  # label index, −1 = none


class ReplayBuffer:
    def __init__(
        self,
        tasks: list[str],
        featurizer: Featurizer,
        get_item: Callable[[str], Item],
        augment: Augmenter | None = None,
    ):
        self.tasks = list(tasks)
        self.augment = augment
        self.featurizer = featurizer
        self.get_item = get_item
        self.rows: list[Row] = []
        self._pos: dict[int, int] = {}
        self._items: dict[str, Item] = {}
        self.excluded: frozenset[str] = frozenset()
        self._held: dict[int, Row] = {}  # rows of excluded items, by event id

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: Row) -> None:
        if row.event_id in self._pos or row.event_id in self._held or row.task not in self.tasks:
            return
        if row.item_id in self.excluded:
            self._held[row.event_id] = row
            return
        self._pos[row.event_id] = len(self.rows)
        self.rows.append(row)

    def set_excluded(self, item_ids: set[str] | frozenset[str]) -> bool:
        """Hold aside the rows of ``item_ids``, bring back those of items no longer in it.
        True when the sampled rows changed."""
        new = frozenset(item_ids)
        if new == self.excluded:
            return False
        self.excluded = new
        leaving = [r for r in self.rows if r.item_id in new]
        for r in leaving:
            self.remove(r.event_id)
            self._held[r.event_id] = r
        back = [r for r in self._held.values() if r.item_id not in new]
        for r in sorted(back, key=lambda r: r.event_id):
            del self._held[r.event_id]
            self.add(r)
        return bool(leaving or back)

    def remove(self, event_id: int) -> Row | None:
        """Drop the row of ``event_id`` (a retracted answer). Returns it when it was sampled."""
        if self._held.pop(event_id, None) is not None:
            return None
        pos = self._pos.pop(event_id, None)
        if pos is None:
            return None
        last = self.rows.pop()
        row = self.rows[pos] if pos < len(self.rows) else last
        if pos < len(self.rows):
            self.rows[pos] = last
            self._pos[last.event_id] = pos
        return row

    def _item(self, item_id: str) -> Item:
        it = self._items.get(item_id)
        if it is None:
            it = self._items[item_id] = self.get_item(item_id)
        return it

    def make_batch(self, rows: list[Row]) -> ReplayBatch:
        inputs = self.featurizer.batch([self._item(r.item_id) for r in rows])
        n = len(rows)
        feedback = {}
        for t in self.tasks:
            shown = torch.zeros(n, dtype=torch.long)
            reward = torch.zeros(n)
            prop = torch.ones(n)
            corr = torch.full((n,), -1, dtype=torch.long)
            for i, r in enumerate(rows):
                if r.task != t:
                    continue
                if r.shown >= 0:
                    shown[i], reward[i], prop[i] = r.shown, float(r.reward), r.propensity
                corr[i] = r.corrected
            feedback[t] = TaskFeedback(shown, reward, prop, corr)
        return ReplayBatch(inputs, feedback, [r.item_id for r in rows])

    def sample(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        extra: Sequence[Row] = (),
        replace: bool = False,
    ) -> ReplayBatch:
        """Uniform minibatch of ``batch_size`` rows drawn with replacement, plus the ``extra``
        rows (rows not in the buffer: ``core/learning/unlearn.py``'s counter-answers), its inputs
        augmented by ``augment`` (drawing from ``generator`` too). While the buffer holds at most
        ``batch_size`` rows: every row once in a random order, or with ``replace``
        (``TrainConfig.draws_with_replacement``) as many rows as it holds, drawn with
        replacement — the draws' own noise, which a full batch of the same few answers at every
        update lacks (docs/benchmarks.md §5zu)."""
        n = len(self.rows)
        if n == 0:
            raise ValueError("the replay buffer is empty")
        if n > batch_size:
            idx = torch.randint(n, (batch_size,), generator=generator).tolist()
        elif replace:
            idx = torch.randint(n, (n,), generator=generator).tolist()
        else:
            idx = torch.randperm(n, generator=generator).tolist()
        batch = self.make_batch([self.rows[i] for i in idx] + list(extra))
        if self.augment is not None:
            batch = ReplayBatch(
                self.augment(batch.inputs, generator), batch.feedback, batch.item_ids
            )
        return batch

    def thumbs_up_rate(self) -> float:
        answered = [r for r in self.rows if r.shown >= 0]
        return sum(r.reward > 0 for r in answered) / len(answered) if answered else 0.0
