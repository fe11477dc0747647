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
    Qt-free answer path, its own store connection) while a ``Trainer`` runs on its own thread
    with its own connection, as in the GUI. ``on_ack(event_id)`` is called after each event is
    committed. Returns a summary."""
    import queue
    import threading

    from mmrl_desktop.core.labelling.session import LabelingSession
    from mmrl_desktop.core.learning.trainer import Trainer

    preds_q: queue.Queue = queue.Queue()
    lock = threading.Lock()
    shared = {"queue": [], "stop": False, "error": None, "info": {}, "version": 0, "bad": []}
    wake = threading.Event()

    def trainer_thread() -> None:
        _train(lambda: Trainer(project, device=device, queue_size=0), shared, lock, wake, preds_q)

    store = project.open_store()
    session = LabelingSession(project, store, annotator="simulated-expert", seed=seed)
    expert = SimulatedExpert(corrections, noise, seed)
    thread = threading.Thread(target=trainer_thread, name="trainer", daemon=True)
    thread.start()
    answered = ups = 0
    try:
        for _ in range(clicks):
            if shared["error"] is not None:
                raise shared["error"]
            with lock:
                shared["queue"] = session.upcoming_ids()
            wake.set()
            deadline = time.monotonic() + wait_for_model_s
            item = session.current_item()
            if item is None:
                break
            while wait_for_model_s and not session.has_model_prediction(item.item_id):
                if time.monotonic() > deadline:
                    break
                _drain(preds_q, session, timeout=0.05)
            _drain(preds_q, session)
            action, up = _answer(session, expert, item)
            if up is not None:  # answered, not skipped
                ups += up
                answered += 1
            wake.set()
            for eid in action.event_ids:
                if on_ack is not None:
                    on_ack(eid)
    finally:
        with lock:
            shared["stop"] = True
        wake.set()
        thread.join(timeout=60)
        store.close()
    if shared["error"] is not None:
        raise shared["error"]
    return {
        "clicks": answered,
        "thumbs_up_rate": ups / answered if answered else 0.0,
        "model_version": shared["version"],
        "device": shared["info"].get("device", device),
        "unreadable_items": shared["bad"],  # left out of training, named (core/data/exclusions.py)
    }


def _train(make_trainer, shared: dict, lock, wake, preds_q) -> None:
    """The trainer's thread: step until ``shared["stop"]``; after each new model version (or a
    new queue) put the queue's predictions on ``preds_q``. Its error, model version, info and
    unreadable items go into ``shared``."""
    trainer = None
    try:
        trainer = make_trainer()
        shared["info"] = trainer.info()
        last_version, last_queue = -1, None
        while True:
            with lock:
                if shared["stop"]:
                    break
                ids = list(shared["queue"])
            r = trainer.step()
            if ids and (r.model_version != last_version or ids != last_queue):
                preds_q.put(trainer.predict_items(ids))
                last_version, last_queue = r.model_version, ids
                shared["version"] = r.model_version
            if not r.did_update:
                wake.wait(0.02)
                wake.clear()
    except Exception as err:  # reported by the caller
        shared["error"] = err
    finally:
        if trainer is not None:
            fz = getattr(trainer, "featurizer", None)  # None when it failed to build
            shared["bad"] = fz.unreadable_report() if fz is not None else []
            trainer.close()


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


def _drain(q, session, timeout: float = 0.0) -> None:
    import queue

    try:
        preds = q.get(timeout=timeout) if timeout else q.get_nowait()
    except queue.Empty:
        return
    session.update_predictions(preds)
    while True:
        try:
            session.update_predictions(q.get_nowait())
        except queue.Empty:
            return
