"""Prequential accuracy (issue 12.1): each live answer scores the label shown before training."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.store import FeedbackEvent
from mmrl_desktop.core.evaluation import prequential
from mmrl_desktop.core.metrics import wilson_interval


def ev(eid, reward, *, prop=0.3, task="label", kind="feedback", corrected=None):
    return FeedbackEvent(eid, kind, f"i{eid}", task, "a", prop, reward, corrected, "", 0.0, 1, None)


def test_wilson_interval_matches_reference_values():
    # reference: scipy.stats.binomtest(k, n).proportion_ci(method="wilson") (= statsmodels')
    assert wilson_interval(14, 30) == pytest.approx((0.302324, 0.638577), abs=1e-6)
    assert wilson_interval(3, 10) == pytest.approx((0.107791, 0.603222), abs=1e-6)
    assert wilson_interval(0, 5) == pytest.approx((0.0, 0.434482), abs=1e-6)
    assert wilson_interval(5, 5) == pytest.approx((0.565518, 1.0), abs=1e-6)
    assert wilson_interval(47, 100) == pytest.approx((0.375108, 0.567111), abs=1e-6)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval([14, 0], [30, 0])  # element by element
    assert list(lo) == pytest.approx([0.302324, 0.0], abs=1e-6) and list(hi)[1] == 1.0
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_summary_of_a_hand_made_log():
    # 7 thumbs-up, 3 plain thumbs-down, 2 thumbs-down with a correction: 7 right of 12
    log = [ev(i, 1) for i in range(1, 8)]
    log += [ev(8, -1), ev(9, -1), ev(10, -1)]
    log += [ev(11, -1, corrected="b"), ev(12, -1, corrected="c")]
    log += [ev(13, None, kind="skip")]  # a skip scores nothing
    s = prequential.summary(log)
    assert s["answers"] == 12 and s["right"] == 7
    assert s["accuracy"] == pytest.approx(7 / 12)
    assert s["ci95"] == pytest.approx([0.319511, 0.806740], abs=1e-6)  # scipy's Wilson bounds
    assert "note" not in s and s["per_task"]["label"]["answers"] == 12


def test_top_choice_uses_only_labels_the_log_proves_were_the_top():
    log = [ev(1, 1, prop=0.9), ev(2, 1, prop=0.8), ev(3, -1, prop=0.6), ev(4, -1, prop=0.2)]
    log += [ev(5, -1, prop=0.5)]  # one half: another label may have had as much
    s = prequential.summary(log)
    assert s["accuracy"] == pytest.approx(2 / 5)
    top = s["top_choice"]
    assert top["answers"] == 3 and top["accuracy"] == pytest.approx(2 / 3)
    assert "propensity > 0.5" in top["rule"]


def test_no_answers_gives_null_and_says_why():
    s = prequential.summary([ev(1, None, kind="skip")])
    assert s["answers"] == 0 and s["accuracy"] is None and s["ci95"] is None
    assert s["note"].startswith("No answers yet")
    assert "No answers yet" in "\n".join(prequential.format_lines(s))


def test_curve_and_running_accuracy_agree():
    rewards = [1, -1, -1, 1, 1, 1, -1, 1]
    log = [ev(i + 1, r) for i, r in enumerate(rewards)]
    c = prequential.curve(log)
    run = prequential.RunningAccuracy()
    for i, r in enumerate(rewards):
        n, acc, lo, hi = run.add(r > 0)
        assert n == c["n"][i] and acc == pytest.approx(c["accuracy"][i])
        assert (lo, hi) == pytest.approx((c["low"][i], c["high"][i]))
    assert c["accuracy"][-1] == pytest.approx(5 / 8) and list(c["event_id"]) == list(range(1, 9))
    assert run.pop() is True and run.point()[:2] == (7, pytest.approx(4 / 7))


def test_retracted_answers_are_left_out_from_the_store(tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b", "c"])])
    with project.open_store() as store:
        store.add_items([Item(f"i{k}", text_inline="x") for k in range(4)])
        store.record_feedback("i0", "label", "a", 0.9, 1)
        store.record_feedback("i1", "label", "b", 0.2, -1, corrected_label="c")
        wrong = store.record_feedback("i2", "label", "a", 0.4, -1)
        store.record_feedback("i3", "label", "c", 0.7, 1)
        store.retract(wrong)  # undo: no longer an answer
        s = prequential.summary(store.active_feedback())
    assert s["answers"] == 3 and s["accuracy"] == pytest.approx(2 / 3)
    assert s["top_choice"]["answers"] == 2 and s["top_choice"]["accuracy"] == 1.0


def _no_holdout_project(root):
    from tests.core.enginefixtures import digits_project

    project = digits_project(root, n=40)
    with project.open_store() as store:
        store.set_split([it.item_id for it in store.items()], "pool")  # none kept aside
    return project


@pytest.mark.slow
def test_evaluate_json_has_prequential_without_held_out_items(tmp_path, capsys):
    import json

    from mmrl_desktop.cli import main
    from mmrl_desktop.core.evaluation.evaluate import format_report
    from tests.core.enginefixtures import answer

    project = _no_holdout_project(tmp_path)
    answer(project, 30)
    with project.open_store() as store:
        live = store.active_feedback()
    right = sum(e.reward > 0 for e in live)
    assert main(["evaluate", "--project", str(project.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    pq = out["prequential"]
    assert pq["answers"] == 30 and pq["accuracy"] == pytest.approx(right / 30)
    assert pq["ci95"] == pytest.approx(list(wilson_interval(right, 30)))
    assert out["tasks"]["label"]["holdout_items"] == 0
    model = {k: out["model"][k] for k in ("version", "step", "written")}
    assert model == {"version": 0, "step": 0, "written": None}  # the starting model
    text = format_report(out)  # what `evaluate` without --json prints
    assert "Prequential accuracy: " in text and "over 30 answers" in text
    assert prequential.NO_HOLDOUT in text  # the empty held-out figures say why


def test_evaluate_without_answers_has_a_null_prequential_that_says_why(tmp_path):
    from mmrl_desktop.core.evaluation.evaluate import evaluate_project
    from tests.core.enginefixtures import digits_project

    res = evaluate_project(digits_project(tmp_path, n=40))  # held-out items, no answers yet
    pq = res["prequential"]
    assert pq["answers"] == 0 and pq["accuracy"] is None and pq["note"] == prequential.NO_ANSWERS


@pytest.mark.slow
def test_training_on_the_answers_does_not_flatter_the_prequential_figure(tmp_path):
    """Issue 12.7: a weak model shows as weak. The figure scores what was shown, so a model that
    has since trained on those very answers (and would now get many of them right, in-sample)
    leaves it unchanged."""
    from mmrl_desktop.core.evaluation.evaluate import evaluate_project
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import answer

    project = _no_holdout_project(tmp_path)
    answer(project, 30)
    before = evaluate_project(project)["prequential"]
    trainer = Trainer(project, device="cpu", queue_size=0, write_metrics=False)
    trainer.add_budget(30)
    trainer.train_pending()
    trainer.save_checkpoint("test")
    step, version = trainer.updates, trainer.model_version
    trainer.close(checkpoint=False)
    after = evaluate_project(project)
    assert after["models"][0]["source"].startswith("checkpoints/")  # the trained model
    model = after["model"]
    assert (model["step"], model["version"]) == (step, version) and step > 0
    written = datetime.strptime(model["written"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - written) < timedelta(minutes=5)
    assert after["prequential"] == before
    assert before["accuracy"] < 0.5  # random shown labels on 10 classes: weak, and it says so
