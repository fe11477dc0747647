"""A simulated expert, and ``run_simulation``: it answers items while the real trainer loop learns.

``SimulatedExpert`` answers like the bench's contract: 👍 when the shown label is the true one,
else 👎; with probability ``noise`` the thumb is flipped; with probability ``corrections`` a 👎 on a
wrong label also gives the true label. ``always_correct`` (the supervised upper bound) gives the
true label on every answer. Both random draws happen on every answer, so two runs that differ only
in the algorithm see the same expert.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from mmrl_desktop.core.learning.trainer_client import TrainerClient
from mmrl_desktop.core.learning.trainer_messages import (
    Info,
    NextItems,
    Predictions,
    SetQueue,
    Wake,
    Warned,
)


@dataclass
class Answer:
    reward: int  # +1 / −1
    corrected: str | None


class SimulatedExpert:
    def __init__(
        self,
        corrections: float = 0.0,
        noise: float = 0.0,
        seed: int = 0,
        always_correct: bool = False,
    ):
        self.corrections = corrections
        self.noise = noise
        self.always_correct = always_correct
        self.rng = np.random.default_rng(seed)

    def answer(self, shown: str, truth: str) -> Answer:
        flip, corr = self.rng.random(), self.rng.random()
        right = shown == truth
        reward = 1 if right else -1
        if flip < self.noise:
            reward = -reward
        corrected = None
        if self.always_correct or (reward < 0 and not right and corr < self.corrections):
            corrected = truth
        return Answer(reward, corrected)


def run_simulation(
    project,
    clicks: int,
    corrections: float = 0.0,
    seed: int = 0,
    device: str = "auto",
    on_ack=None,
    noise: float = 0.0,
    wait_for_model_s: float = 0.0,
) -> dict:
    """A simulated expert answers ``clicks`` items through a ``LabelingSession`` (the GUI's
    Qt-free answer path, its own store connection) while the app's trainer loop
    (``TrainerClient`` → ``trainer_loop.run_loop``) learns on its own thread with its own
    connection. ``on_ack(event_id)`` is called after each event is committed. Returns a
    summary."""
    from mmrl_desktop.core.labelling.session import LabelingSession
    from mmrl_desktop.core.learning.trainer import Trainer

    _preflight(project, device)  # nothing is answered when the trainer could not start
    built: list = []  # the trainer, for its unreadable items at the end

    def build():
        built.append(Trainer(project, device=device, queue_size=0))
        return built[-1]

    client = TrainerClient(str(project.root), device, build, name="trainer", quiet=True)
    seen = _Seen(device)
    store = project.open_store()
    session = LabelingSession(project, store, annotator="simulated-expert", seed=seed)
    expert = SimulatedExpert(corrections, noise, seed)
    client.start()
    answered = ups = 0
    try:
        for _ in range(clicks):
            seen.check(client)
            client.send(SetQueue(tuple(session.upcoming_ids())))
            item = session.current_item()
            if item is None:
                break
            _wait_for_model(client, session, seen, item.item_id, wait_for_model_s)
            seen.drain(client, session, 0.0)
            action, up = _answer(session, expert, item)
            answered, ups = answered + (up is not None), ups + bool(up)  # None: skipped
            client.send(Wake())
            for eid in action.event_ids if on_ack is not None else ():
                on_ack(eid)
    finally:
        for event in client.stop(timeout=60):
            seen.note(event, session)
        store.close()
    seen.check(client)
    fz = getattr(built[0], "featurizer", None) if built else None  # None: it failed to build
    return {
        "clicks": answered,
        "thumbs_up_rate": ups / answered if answered else 0.0,
        "model_version": seen.version,
        "device": seen.info.get("device", device),
        "unreadable_items": fz.unreadable_report() if fz is not None else [],  # left out of
        # training, named (core/data/exclusions.py)
        "warnings": seen.warnings,  # sentences: a checkpoint skipped or not saved
    }


def _preflight(project, device: str) -> None:
    """What stops the trainer at once, said before the first answer is written (exit 2 means
    nothing was done): no task to answer, an unknown device or a GPU that is not there, a
    project.toml setting out of range."""
    from mmrl_desktop.core.config import TrainConfig
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.learning.device import choose_device
    from mmrl_desktop.core.model_config import ModelConfig

    if not any(t.kind == "single" for t in project.tasks):
        raise UserError(project.no_task_sentence())
    TrainConfig.from_dict(project.algorithm)
    ModelConfig.from_dict(project.model)
    choose_device(device)


class _Seen:
    """What the trainer said so far: its info, its newest model version, its warnings."""

    def __init__(self, device: str) -> None:
        self.info: dict = {"device": device}
        self.version = 0
        self.warnings: list[str] = []

    def note(self, event, session) -> None:
        if isinstance(event, Predictions):
            session.update_predictions(event.predictions)
            self.version = max(self.version, event.model_version)
        elif isinstance(event, Info):
            self.info = {**self.info, **event.info}  # a later Info tells what changed
            self.version = max(self.version, int(event.info.get("model_version") or 0))
        elif isinstance(event, Warned):
            self.warnings.append(event.text)
        elif isinstance(event, NextItems):  # an active order: the trainer's picks come next
            session.set_next_items(event.item_ids, event.propensities, event.order, event.pools)

    def drain(self, client: TrainerClient, session, timeout: float) -> None:
        for event in client.poll(timeout):
            self.note(event, session)

    @staticmethod
    def check(client: TrainerClient) -> None:
        """Raise what stopped the trainer (one sentence reaches the user: cli.py)."""
        if client.control.error is not None:
            raise client.control.error


def _wait_for_model(client, session, seen: _Seen, item_id: str, wait_s: float) -> None:
    """Up to ``wait_s`` seconds for the model's prediction of the item about to be shown."""
    deadline = time.monotonic() + wait_s
    while wait_s and not session.has_model_prediction(item_id):
        if time.monotonic() > deadline or client.done:
            return
        seen.drain(client, session, 0.05)


def _answer(session, expert: SimulatedExpert, item):
    """The expert's click on the shown ``item``: the session's action, and whether it was a
    thumbs-up (None: skipped, no task of the item has a known label)."""
    shown = session.show(item.item_id)
    corrected: dict[str, str] = {}
    thumbs = []
    for task, pred in shown.items():
        truth = item.labels.get(task)
        if truth is None:
            continue
        ans = expert.answer(pred.shown_label, truth)
        thumbs.append(ans.reward)
        if ans.corrected:
            corrected[task] = ans.corrected
    if not thumbs:
        return session.skip(), None
    up = min(thumbs) > 0
    return session.answer(1 if up else -1, corrected or None), up
