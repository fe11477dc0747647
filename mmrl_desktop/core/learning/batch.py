"""The replay minibatch type: model inputs + per-task feedback (``ReplayBuffer.sample`` makes them,
every algorithm's ``update`` reads them). Its own module so that ``replay`` and
``algorithms.base`` both import it and neither imports the other.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass
class TaskFeedback:
    """The feedback of one task for a replay minibatch (one row per event).

    shown:      long [B], the label index that was shown
    reward:     float [B], +1 👍, −1 👎, 0 = no answer for this task in this row
    propensity: float [B], logged probability of the shown label (1 where there is none)
    corrected:  long [B], the label the expert gave, −1 = none
    """

    shown: torch.Tensor
    reward: torch.Tensor
    propensity: torch.Tensor
    corrected: torch.Tensor

    @property
    def answered(self) -> torch.Tensor:
        """bool [B]: rows that carry a thumb for this task."""
        return self.reward != 0

    @property
    def has_correction(self) -> torch.Tensor:
        return self.corrected >= 0

    def to(self, device) -> TaskFeedback:
        return TaskFeedback(*(t.to(device) for t in dataclasses.astuple(self)))


@dataclass
class ReplayBatch:
    """A minibatch from the feedback log: model inputs + per-task feedback, and the item id of
    each row (None when the maker did not say: an algorithm then cannot tell which item a row is)."""

    inputs: dict[str, torch.Tensor]
    feedback: dict[str, TaskFeedback]
    item_ids: list[str] | None = None

    def to(self, device) -> ReplayBatch:
        return ReplayBatch(
            {k: v.to(device) for k, v in self.inputs.items()},
            {k: v.to(device) for k, v in self.feedback.items()},
            self.item_ids,
        )
