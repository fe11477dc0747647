"""Undo unlearns (issue 12 point 5): a retracted answer leaves the replay, the posterior and the
network — the item's probability for the retracted label comes back to what a run that never got
the answer gives, within a bounded number of updates (``core/learning/unlearn.py``)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project, Task
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
from mmrl_desktop.core.learning.trainer_messages import Predictions, State
from mmrl_desktop.core.learning.unlearn import KEEP

UPE = 4  # updates per answer in the quicker tests (the app's default: 8)
TOL = 0.1  # |p(retracted label) − p without the answer|
BEFORE = 8  # right answers before the wrong one


@pytest.fixture(scope="module")
def digits(tmp_path_factory) -> list[Item]:
    """Six sklearn digits of each class as PNGs (written once for the module)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("digits")
    data = load_digits()
    items = []
    for c in range(10):
        for i in np.flatnonzero(data.target == c)[:6]:
            path = root / f"{c}_{i}.png"
            pix = np.clip(data.images[i] * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
            Image.fromarray(pix, mode="L").save(path)
            items.append(Item(f"{c}/{i}", image=str(path), labels={DEFAULT_TASK: str(c)}))
    return items


def _setup(root, algorithm: str, digits: list[Item], upe: int = UPE, batch_size: int = 8):
    algo = {"algorithm": algorithm, "batch_size": batch_size, "updates_per_event": upe}
    algo["eval_every"] = 0
    project = Project.create(
        root,
        tasks=[Task(DEFAULT_TASK, [str(i) for i in range(10)])],
        algorithm=algo,
        model={"embed_dim": 16},
    )
    with project.open_store() as store:
        store.add_items(digits)
    trainer = Trainer(project, device="cpu", checkpoints=False, write_metrics=False)
    trainer.info()
    store = project.open_store()
    pool = store.items(split="pool")
    items = [pool[i] for i in np.random.default_rng(0).permutation(len(pool))]  # mixed classes
    return trainer, store, items


def _answer(trainer, store, item, label=None) -> int:
    """A correction to ``label`` (default: the truth) on a shown truth-or-other label; trained."""
    truth = item.labels[DEFAULT_TASK]
    shown = truth if label is None else str((int(label) + 1) % 10)
    eid = store.record_feedback(
        item.item_id, DEFAULT_TASK, shown, 0.5, 1 if label is None else -1, corrected_label=label
    )
    trainer.train_pending()
    return eid


def _p(trainer, item, label: str) -> float:
    probs = trainer.algorithm.greedy(trainer.featurizer.batch([item]))[DEFAULT_TASK][0]
    return float(probs[trainer.label_index[DEFAULT_TASK][label]])


def _q(trainer, item, label: str) -> float:
    algo = trainer.algorithm
    row = algo.pool_index[item.item_id]
    return float(algo.q[DEFAULT_TASK][row][trainer.label_index[DEFAULT_TASK][label]])


def _steps(trainer, limit: int) -> int:
    """Step until the owed updates are spent; returns the updates run (asserted ≤ ``limit``)."""
    before = trainer.updates
    for _ in range(limit + 2):
        trainer.step()
    ran = trainer.updates - before
    assert ran <= limit and trainer.pending_updates == 0
    return ran


def _runs(tmp_path, algorithm: str, later: int, digits: list[Item], **settings):
    """(retracting run, counterfactual run, item X, wrong label): BEFORE answers, then a wrong
    correction on X (retracting run only), then ``later`` answers, all trained."""
    torch.manual_seed(0)
    runs = []
    for name, wrong in (("undo", True), ("never", False)):
        trainer, store, items = _setup(tmp_path / name, algorithm, digits, **settings)
        x, others = items[0], items[1 : 1 + BEFORE + later]
        bad = str((int(x.labels[DEFAULT_TASK]) + 1) % 10)
        for it in others[:BEFORE]:
            _answer(trainer, store, it)
        eid = _answer(trainer, store, x, bad) if wrong else None
        for it in others[BEFORE:]:
            _answer(trainer, store, it)
        runs.append((trainer, store, eid))
    return runs, x, bad


@pytest.mark.parametrize("algorithm", ["default", "supervised", "reinforce", "egreedy-q"])
def test_undo_of_a_recent_wrong_correction_rolls_the_model_back(tmp_path, algorithm, digits):
    runs, x, bad = _runs(tmp_path, algorithm, 1, digits, upe=8, batch_size=32)
    (undo, store, eid), (never, store2, _) = runs
    learned, reference = _p(undo, x, bad), _p(never, x, bad)
    assert learned > reference + 2 * TOL  # the network did learn the wrong answer
    store.retract(eid)
    _steps(undo, limit=8)  # the one later answer is trained on again
    assert undo.undo.rollbacks == 1
    assert abs(_p(undo, x, bad) - reference) <= TOL, (learned, _p(undo, x, bad), reference)
    for t, s in ((undo, store), (never, store2)):
        t.close()
        s.close()


@pytest.mark.parametrize("algorithm", ["default", "egreedy-q"])
def test_undo_of_an_older_wrong_correction_pushes_it_back_out(tmp_path, algorithm, digits):
    """Beyond the snapshot ring: the live answers are trained on again with a 👎 on the
    retracted label joined to each minibatch, for one answer's worth of updates (the project's
    default settings). Not covered: supervised ignores 👎s, and reinforce's 👎 barely moves a
    confident softmax (its score 1 − π vanishes): there an old answer fades only as it trains.

    The 👎 may push the label further out than a run that never had the answer holds it (the
    default with its pseudo-labels gated off before 30 answers leaves that run unsure: p ≈ .38
    for the wrong label here, .04 after the undo), so the check is one-sided: out at least as
    far as never having it, within the tolerance."""
    runs, x, bad = _runs(tmp_path, algorithm, KEEP, digits, upe=8, batch_size=32)
    (undo, store, eid), (never, store2, _) = runs
    learned, reference = _p(undo, x, bad), _p(never, x, bad)
    assert learned > reference + 2 * TOL  # the network did learn the wrong answer
    store.retract(eid)
    _steps(undo, limit=8)
    assert undo.undo.replays == 1 and undo.undo.rollbacks == 0
    assert _p(undo, x, bad) <= reference + TOL, (learned, _p(undo, x, bad), reference)
    for t, s in ((undo, store), (never, store2)):
        t.close()
        s.close()


def test_the_posterior_drops_a_retracted_answer_at_the_next_poll(tmp_path, digits):
    runs, x, bad = _runs(tmp_path, "default", 1, digits)
    (undo, store, eid), (never, store2, _) = runs
    assert _q(undo, x, bad) > _q(never, x, bad) + 0.2  # the wrong correction is in it
    store.retract(eid)
    undo.step()
    assert abs(_q(undo, x, bad) - _q(never, x, bad)) <= 0.05
    for t, s in ((undo, store), (never, store2)):
        t.close()
        s.close()


def test_undo_of_the_only_answer_forgets_it_and_announces_a_model(tmp_path, digits):
    """The buffer empties: the posterior forgets the answer, the network is the untrained one
    again, and a new model version tells the app to predict the item anew."""
    trainer, store, items = _setup(tmp_path, "default", digits)
    x = items[0]
    fresh = _p(trainer, x, "3")
    eid = _answer(trainer, store, x, "3")
    assert _q(trainer, x, "3") > 0.5 and _p(trainer, x, "3") > fresh
    version = trainer.model_version
    store.retract(eid)
    trainer.step()
    assert trainer.model_version == version + 1
    assert not trainer.algorithm.q  # no answer left: no posterior
    assert abs(_p(trainer, x, "3") - fresh) < 1e-6
    pred = trainer.predict_items([x.item_id])[x.item_id][DEFAULT_TASK]
    assert abs(pred.probs["3"] - fresh) < 0.05
    trainer.close()
    store.close()


def test_the_app_loop_sends_the_undone_items_new_prediction(tmp_path, digits):
    """In the trainer's loop (the app's), an undo alone — no new answer, the same queue — brings
    a new model version and the item's prediction from it, without the retracted label's pull."""
    trainer, store, items = _setup(tmp_path / "p", "default", digits)
    x, bad = items[0], str((int(items[0].labels[DEFAULT_TASK]) + 1) % 10)
    for it in items[1 : 1 + BEFORE]:
        _answer(trainer, store, it)
    eid = _answer(trainer, store, x, bad)
    trainer.close()
    reports: list = []
    control = LoopControl()
    control.set_queue([x.item_id])

    def build():
        return Trainer(trainer.project, device="cpu", checkpoints=False, write_metrics=False)

    thread = threading.Thread(target=run_loop, args=(build, control, reports.append))
    thread.start()

    def shown(after: int = 0):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            preds = [
                e.predictions[x.item_id][DEFAULT_TASK]
                for e in reports[after:]
                if isinstance(e, Predictions)
            ]
            if preds and State("idle") in reports[after:]:
                return preds[-1]
            time.sleep(0.05)
        raise AssertionError(f"no prediction of {x.item_id}: {reports[after:]}")

    try:
        before = shown()
        mark = len(reports)
        store.retract(eid)
        control.wake()
        after = shown(mark)
    finally:
        control.request_stop()
        thread.join(10)
        store.close()
    assert after.model_version > before.model_version
    assert after.probs[bad] < before.probs[bad] - 0.2
