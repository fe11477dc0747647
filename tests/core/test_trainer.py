"""Trainer: updates from the store, retractions, NaN rollback, determinism, checkpoints, resume."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project


def _params(trainer):
    return [p.detach().clone() for p in trainer.algorithm.policy.parameters()]


def test_three_updates_change_parameters_and_version(tmp_path):
    project = digits_project(tmp_path)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    info = trainer.info()
    assert info["device"] == "cpu" and info["answers"] == 0
    assert not trainer.step().did_update  # nothing to learn from yet
    before = _params(trainer)
    answer(project, 3)
    results = [trainer.step() for _ in range(3)]
    assert all(r.did_update for r in results)
    assert any(not torch.equal(a, b) for a, b in zip(before, _params(trainer), strict=True))
    assert results[0].model_version == 1  # first update on new feedback → new version
    assert trainer.trained_event_id == 3
    assert set(results[0].metrics) >= {
        "loss/total",
        "reward/thumbs_up_rate",
        "data/answers",
        "data/last_event_id",
        "perf/updates_per_s",
    }
    trainer.train_pending()
    assert trainer.pending_updates == 0 and trainer.updates == 6
    # queued items' predictions were refreshed in the store
    with project.open_store() as store:
        pool = [it.item_id for it in store.items("pool")]
        assert store.predictions(pool[3])  # the first unanswered item
    trainer.close()
    with project.open_store() as store:
        assert store.checkpoints() == []  # checkpoints disabled
        assert store.metrics("loss/total")


def test_predict_items_and_retraction(tmp_path):
    project = digits_project(tmp_path)
    ids = answer(project, 4)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    trainer.train_pending()
    assert len(trainer.buffer) == 4
    with project.open_store() as store:
        store.retract(ids[1])
        store.record_skip("0/digit_0000", "label")
    trainer.step()
    assert len(trainer.buffer) == 3
    preds = trainer.predict_items(["0/digit_0000", "1/digit_0001"])
    p = preds["0/digit_0000"]["label"]
    assert isinstance(p, Prediction) and 0 < p.propensity <= 1
    assert abs(sum(p.probs.values()) - 1) < 1e-4 and p.shown_label in p.probs
    ev = trainer.evaluate_ids(trainer.holdout_ids)
    assert 0 <= ev["eval/accuracy_label"] <= 1 and "eval/macro_f1_label" in ev
    trainer.close()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_nan_rolls_back_and_keeps_running(tmp_path, bad):
    """One non-finite weight anywhere (the check sums the weights) rolls the update back."""
    project = digits_project(tmp_path)
    answer(project, 4)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    trainer.step()
    good = _params(trainer)
    trainer._snapshot = __import__("copy").deepcopy(trainer.algorithm.state_dict())
    real_update = trainer.algorithm.update

    def poisoned(batch):
        out = real_update(batch)
        with torch.no_grad():
            list(trainer.algorithm.policy.parameters())[-1].view(-1)[-1] = bad
        return out

    trainer.algorithm.update = poisoned
    r = trainer.step()
    assert r.metrics["train/nan_rollbacks"] == 1
    assert all(torch.equal(a, b) for a, b in zip(good, _params(trainer), strict=True))
    trainer.algorithm.update = real_update
    r = trainer.step()
    assert r.did_update and all(torch.isfinite(p).all() for p in _params(trainer))
    trainer.close()


def test_deterministic_on_cpu(tmp_path):
    def run(root):
        project = digits_project(root)
        answer(project, 5)
        trainer = Trainer(project, device="cpu", checkpoints=False, write_metrics=False)
        losses = []
        while True:
            r = trainer.step()
            if not r.did_update:
                break
            losses.append(r.metrics["loss/total"])
        preds = trainer.predict_items(["3/digit_0003"])
        trainer.close()
        return losses, preds["3/digit_0003"]["label"]

    a, b = run(tmp_path / "a"), run(tmp_path / "b")
    assert a[0] == b[0] and len(a[0]) == 10
    assert a[1].shown_label == b[1].shown_label and a[1].probs == b[1].probs


def test_checkpoint_resume_and_keep_last(tmp_path):
    project = digits_project(tmp_path, algorithm={"checkpoint_every": 2, "keep_checkpoints": 2})
    answer(project, 4)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()  # 8 updates → checkpoints at 2, 4, 6, 8; the newest 2 are kept
    x = trainer.featurizer.batch([trainer.store.item("5/digit_0005")])
    probs = trainer.algorithm.greedy(x)["label"]
    version = trainer.model_version
    trainer.close()
    files = sorted(p.name for p in project.checkpoints_dir.glob("*.safetensors"))
    assert files == ["ckpt-00000006.safetensors", "ckpt-00000008.safetensors"]
    with project.open_store() as store:
        assert [c.step for c in store.checkpoints()] == [6, 8]
    again = Trainer(project, device="cpu")
    assert again.info()["updates"] == 8 and again.model_version == version
    assert torch.allclose(again.algorithm.greedy(x)["label"], probs)
    assert not again.step().did_update  # nothing new since the checkpoint
    again.close(checkpoint=False)


def test_checkpoint_of_another_model_shape_starts_fresh(tmp_path):
    """A checkpoint written by a differently shaped model (an older app) is not a crash."""
    import json

    from mmrl_desktop.core.learning.checkpoints import latest_checkpoint
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import answer, digits_project

    project = digits_project(tmp_path, n=30)
    answer(project, 10)
    t = Trainer(project, device="cpu")
    t.train_pending()
    t.close()
    ck = latest_checkpoint(project.checkpoints_dir)
    meta_path = ck.path.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta["model_config"]["embed_dim"] = meta["model_config"]["embed_dim"] * 2
    meta_path.write_text(json.dumps(meta))
    t2 = Trainer(project, device="cpu")
    t2.step()
    assert t2.model_version >= ck.meta["model_version"]  # versions never go backwards
    with project.open_store() as store:
        assert any(a == "checkpoint_incompatible" for _, a, _ in store.audit_log())
    t2.close()


def test_every_attribute_is_declared_in_init(tmp_path):
    """Building (on first use) and closing set attributes declared in __init__, never new ones."""
    project = digits_project(tmp_path)
    answer(project, 3)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    declared = set(vars(trainer))
    trainer.train_pending()
    trainer.close()
    assert set(vars(trainer)) == declared


def _held_out(tmp_path, answers: int, algorithm: dict | None = None):
    """A digits project's trainer after ``answers`` answers, its held-out items, their
    ``evaluate_items`` and true label indices."""
    project = digits_project(tmp_path, algorithm=algorithm)
    answer(project, answers)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    trainer.train_pending()
    items = trainer._items(trainer.holdout_ids)
    idx = trainer.label_index["label"]
    return trainer, items, trainer.evaluate_items(items), [idx[it.labels["label"]] for it in items]


def test_evaluate_items_is_core_metrics_on_the_greedy_labels(tmp_path):
    from mmrl_desktop.core import metrics

    trainer, items, got, y = _held_out(tmp_path, 4)
    pred = trainer.greedy_labels(items)["label"]
    k = len(trainer.labels["label"])
    assert got["eval/accuracy_label"] == metrics.accuracy(y, pred)
    assert got["eval/macro_f1_label"] == metrics.macro_f1(metrics.confusion_matrix(y, pred, k))
    assert trainer.evaluate_items([]) == {}  # no labelled item: no keys (never a made-up 0)
    trainer.close()


def test_the_unused_loop_hooks_are_gone():
    """``train`` checks its stop signal in its own loop; the Trainer has no run/report/should_stop."""
    import inspect

    params = inspect.signature(Trainer).parameters
    assert "should_stop" not in params and "report" not in params
    assert not hasattr(Trainer, "run")


def test_with_new_item_vote_the_held_out_figure_gives_the_network_alone_too(tmp_path):
    """``eval/accuracy_<task>``: what the app predicts for a held-out case; with new_item_vote
    that adds the pool's vote to the network, so ``eval/network_accuracy_<task>`` gives the
    network alone (what an export predicts) beside it; without it there is no such key."""
    from mmrl_desktop.core import metrics

    trainer, items, got, y = _held_out(tmp_path, 30, {"options": {"new_item_vote": True}})
    alone = trainer.greedy_labels(items, network=True)["label"]
    assert got["eval/network_accuracy_label"] == metrics.accuracy(y, alone)
    assert got["eval/accuracy_label"] == metrics.accuracy(y, trainer.greedy_labels(items)["label"])
    trainer.close()
    plain = Trainer(digits_project(tmp_path / "plain"), device="cpu", checkpoints=False)
    assert "eval/network_accuracy_label" not in plain.evaluate_items(items)
    plain.close()
