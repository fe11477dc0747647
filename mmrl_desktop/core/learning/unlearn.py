"""Undo that unlearns: a retracted answer leaves the model, not only the replay.

A retraction (undo, ``FeedbackStore.retract``) reaches the trainer at its next poll: the answer's
row leaves the replay buffer and the algorithm's posterior (the default's graph posterior is
recomputed from the answers still live, from a cold start). The network, though, has trained on
the answer already. So the trainer keeps a small ring of model snapshots (``UndoSnapshots``): one
is taken just before it first trains on new answers, with the event id up to which the model had
seen the log and the updates it still owed. When an answer it has trained on is retracted and a
snapshot from before that answer is in the ring, the model (policy, optimiser, algorithm state)
goes back to it, and every answer logged after the snapshot that is still live is trained on
again (``updates_per_event`` updates each): the model is then what a run that never got the
retracted answer would have, up to the order of the replayed minibatches. Undo is mostly of the
last answer or two; the ring covers the last ``KEEP`` answers, at a memory cost of ``KEEP`` ×
(parameters + the optimiser's two moments) (the demo model's: docs/benchmarks.md §2b, fifth
session).

An older answer, or one a checkpoint had trained on before a restart, cannot be rolled back. It
leaves the replay and the posterior all the same, the live answers are trained on again for
``updates_per_event`` updates, and each of those minibatches carries a counter-answer: a 👎 on the
label the retracted answer asserted (its correction, or its 👍'd label). Measured (tests/core/
test_unlearn.py, digits, default settings): default and egreedy-q come back within 0.1 of the
run without the answer; supervised ignores 👎s and reinforce's 👎 barely moves a confident
softmax, so there an old answer fades only as training goes on. While those updates run, the
model shown is the trained weights (its moving average, ``TrainConfig.weight_average``, starts
over after each of them): the average would otherwise remember the retracted answer for
hundreds of updates.
"""

from __future__ import annotations

import copy
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.learning.algorithms.base import Algorithm
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row

KEEP = 3  # snapshots kept: undo of any of the last three answers rolls the model back


class TrainerState(Protocol):
    """What a retraction reads and rewinds on the trainer (``learning.trainer.Trainer`` is one).
    Declared here, not imported: the trainer imports this module, and no import goes back
    (ADR 0012)."""

    algorithm: Algorithm
    config: TrainConfig
    buffer: ReplayBuffer
    pending_updates: int  # updates still owed to the answers
    catch_up: Any  # renew.CatchUp: a renewal's or a refit's updates under way
    _snapshot: dict[str, Any]  # the NaN guard's last good state


@dataclass
class Snapshot:
    boundary: int  # the model had seen the log up to this event id (none after it)
    state: dict[str, Any]  # the algorithm's state_dict without the frozen reference
    owed: int  # updates still owed to answers ≤ boundary when it was taken
    catch_up: Any  # the trainer's renew.CatchUp then (a refit under way goes on)
    renewed_at: int | None = None  # the answers at the algorithm's last renewal or refit then


class UndoSnapshots:
    """The trainer's ring of pre-answer snapshots, and what a retraction does with them."""

    def __init__(self, keep: int = KEEP):
        self.ring: deque[Snapshot] = deque(maxlen=max(0, keep))
        self.counter: list[Row] = []  # counter-answers joined to the next minibatches ...
        self.counter_updates = 0  # ... for this many more updates
        self.rollbacks = 0  # retractions undone by going back to a snapshot
        self.replays = 0  # retractions too old for the ring

    def before_new_answers(self, trainer: TrainerState, boundary: int) -> None:
        """Called when answers after ``boundary`` arrive, before any update uses them."""
        if self.ring.maxlen == 0 or (self.ring and self.ring[-1].boundary >= boundary):
            return
        state = trainer.algorithm.state_dict()
        state = _cpu_copy({k: v for k, v in state.items() if k != "reference"})
        renewed_at = getattr(trainer.algorithm, "renewed_at", None)
        snap = Snapshot(
            boundary, state, trainer.pending_updates, copy.copy(trainer.catch_up), renewed_at
        )
        self.ring.append(snap)

    def retracted(self, trainer: TrainerState, rows: list[Row]) -> str:
        """Answers the model has trained on were retracted (their rows are out of the replay
        already): roll back when the ring allows, else push back. Returns "rollback" or
        "replay"."""
        trainer.algorithm.answers_retracted()
        first = min(r.event_id for r in rows)
        while self.ring and self.ring[-1].boundary >= first:
            self.ring.pop()  # taken after the retracted answer: it carries it
        per_answer = trainer.config.updates_per_event
        if not self.ring:
            self.replays += 1
            trainer.pending_updates += per_answer * len(rows)
            self.counter += [c for c in map(counter_answer, rows) if c is not None]
            self.counter_updates = per_answer
            return "replay"
        snap = self.ring[-1]
        trainer.algorithm.load_state_dict(copy.deepcopy(snap.state))
        later = sum(1 for row in trainer.buffer.rows if row.event_id > snap.boundary)
        trainer.pending_updates = snap.owed + per_answer * later
        # the catch-up as it was: a refit half way through at the snapshot goes on before its
        # model is shown (ADR 0029); one begun after it went with the rolled-back weights
        trainer.catch_up = copy.copy(snap.catch_up)
        if hasattr(trainer.algorithm, "renewed_at"):  # a refit the rolled-back model never had
            trainer.algorithm.renewed_at = snap.renewed_at  # comes again at its point
        trainer._snapshot = copy.deepcopy(trainer.algorithm.state_dict())  # the NaN guard's too
        self.rollbacks += 1
        return "rollback"

    def push(self) -> list[Row]:
        """The counter-answers to join to the next minibatch (none once their updates ran)."""
        if self.counter_updates <= 0:
            self.counter = []
            return []
        self.counter_updates -= 1
        return list(self.counter)


def counter_answer(row: Row) -> Row | None:
    """A 👎 on the label the retracted answer asserted (its correction, or its 👍'd label); a
    plain 👎 asserted no label: None."""
    label = row.corrected if row.corrected >= 0 else (row.shown if row.reward > 0 else -1)
    if label < 0:
        return None
    return Row(-row.event_id, row.item_id, row.task, label, -1, 1.0, -1)


def _cpu_copy(obj: Any) -> Any:
    """A deep copy with every tensor on the CPU (snapshots never take accelerator memory)."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu_copy(v) for v in obj)
    return copy.deepcopy(obj)
