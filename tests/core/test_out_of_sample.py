"""Issue 12 points 2–3: off-policy figures only from answers the model has not trained on,
small-sample intervals, a temperature fitted on prequential answers, and one source of
probabilities (the panel's numbers travel through the trainer's predictions; see
tests/gui/test_evaluation_dialog.py for the widget)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from mmrl_desktop.core.evaluation import ope
from mmrl_desktop.core.evaluation.evaluate import (
    candidates_for,
    evaluate_project,
    format_report,
    greedy_probs,
    open_trainer,
)
from mmrl_desktop.core.learning import calibration, ckpt_files
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.tools.predict import predict_source
from tests.core.enginefixtures import digits_project


def greedy_of(project: Project, name: str) -> np.ndarray:
    """Model ``name``'s greedy label index for every pool item (in ``items(split="pool")``
    order)."""
    trainer = open_trainer(project)
    try:
        cand = next(c for c in candidates_for(trainer) if c.name == name)
        pool = trainer.store.items(split="pool")
        return greedy_probs(cand, pool)[DEFAULT_TASK].argmax(axis=1)
    finally:
        trainer.close(checkpoint=False)


def log_near(project: Project, name: str, n: int, seed: int, best=None) -> list[int]:
    """``n`` answers whose shown label is model ``name``'s greedy label with probability 0.9
    (else uniform): a logging policy close to that model, with exact propensities."""
    rng = np.random.default_rng(seed)
    best = greedy_of(project, name) if best is None else best
    with project.open_store() as store:
        pool = store.items(split="pool")
    labels = project.tasks[0].labels
    k = len(labels)
    ids = []
    with project.open_store() as store:
        for j in range(n):
            i = int(rng.integers(len(pool)))
            dist = np.full(k, 0.1 / k)
            dist[best[i]] += 0.9
            a = int(rng.choice(k, p=dist))
            truth = pool[i].labels[DEFAULT_TASK]
            reward = 1 if labels[a] == truth else -1
            corr = truth if reward < 0 and j % 3 == 0 else None
            ids.append(
                store.record_feedback(
                    pool[i].item_id, DEFAULT_TASK, labels[a], float(dist[a]), reward, corr
                )
            )
    return ids


def train_and_save(project: Project, budget: int = 20) -> Trainer:
    trainer = Trainer(project, device="cpu", queue_size=0, write_metrics=False)
    trainer.add_budget(budget)
    trainer.train_pending()
    trainer.save_checkpoint("test")
    return trainer


def make_trained_on_all(root: Path) -> Project:
    """40 answers logged near the starting model, then a model trained on every one of them."""
    project = digits_project(root, n=60)
    log_near(project, "reference", 40, seed=1)
    train_and_save(project).close(checkpoint=False)
    return project


def trickle(project: Project, rounds: int = 25) -> Project:
    """Answers arrive two at a time while the trainer trains on each pair (as in the app): every
    answer is scored by the model of that moment. Ends with a checkpoint."""
    best = greedy_of(project, "current")
    trainer = Trainer(project, device="cpu", queue_size=0, write_metrics=False)
    try:
        trainer.info()
        for k in range(rounds):
            log_near(project, "current", 2, seed=100 + k, best=best)
            trainer.train_pending()
        trainer.save_checkpoint("trickled")
    finally:
        trainer.close(checkpoint=False)
    return project


@pytest.fixture(scope="module")
def trained_on_all(tmp_path_factory) -> Project:
    return make_trained_on_all(tmp_path_factory.mktemp("oos"))


@pytest.fixture(scope="module")
def trickled(trained_on_all, tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("trickled") / "p"
    return trickle(Project.open(shutil.copytree(trained_on_all.root, root)))


def test_ope_of_a_model_trained_on_every_answer_is_a_sentence(trained_on_all):
    res = evaluate_project(trained_on_all)
    json.dumps(res, allow_nan=False)
    task = res["tasks"][DEFAULT_TASK]
    cur, ref = task["ope"]["current"], task["ope"]["reference"]
    # the current model has seen all 40: no number, the reason in a sentence
    assert "snips" not in cur and "ips" not in cur and "dr" not in cur
    assert cur["n"] == 0 and cur["after_event_id"] == 40
    assert cur["reason"] == "not enough answers (n = 0 after this model's checkpoint; needs ≥ 20)"
    # the starting model trained on nothing: every answer is out of sample
    assert ref["n"] == 40 and "reason" not in ref
    for m in ("ips", "snips", "dr"):
        assert ref[m]["n"] == 40 and ref[m]["ci_low"] < ref[m]["ci_high"]
    assert "off-policy, current: not enough answers" in format_report(res)


def test_ope_uses_only_answers_after_the_checkpoint(trained_on_all, tmp_path):
    project = Project.open(shutil.copytree(trained_on_all.root, tmp_path / "p"))
    new = log_near(project, "current", 25, seed=2)
    assert min(new) > 40
    task = evaluate_project(project)["tasks"][DEFAULT_TASK]
    cur = task["ope"]["current"]
    assert cur["n"] == 25 and cur["after_event_id"] == 40 and "reason" not in cur
    assert task["feedback_events"] == 65 and task["ope"]["reference"]["n"] == 65
    with project.open_store() as store:
        after = [e for e in store.active_feedback() if e.event_id > 40]
    rate = np.mean([e.reward == 1 for e in after])
    assert cur["logged_thumbs_up_rate"] == pytest.approx(rate)
    for m in ("ips", "snips", "dr"):
        assert cur[m]["n"] == 25 and 0 <= cur[m]["ci_low"] < cur[m]["ci_high"] <= 1


def test_a_degenerate_interval_is_widened_or_refused():
    # 20 thumbs up with propensity 1 under a greedy target that agrees: the normal CI is 0 wide
    a = np.zeros(20, dtype=int)
    pi = np.tile([1.0, 0.0], (20, 1))
    est = ope.snips(a, np.ones(20), np.ones(20), pi)
    assert est.value == 1.0 and est.stderr == 0.0
    lo, hi = ope.wilson(1.0, 20)
    assert est.ci_low == pytest.approx(lo) and est.ci_low < 0.9 and est.ci_high == 1.0
    assert ope.not_reportable(3, 3.0) == "not enough answers (n = 3; needs ≥ 20)"
    assert "effective n = 2.0 of 40" in ope.not_reportable(40, 2.0)
    assert ope.not_reportable(40, 30.0) is None


@pytest.mark.parametrize("t_true", [0.5, 2.0])
def test_temperature_fit_recovers_a_known_temperature(t_true):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(4000, 5))
    p = np.exp(logits / t_true)
    p /= p.sum(axis=1, keepdims=True)
    y = np.array([rng.choice(5, p=row) for row in p])
    assert calibration.fit_temperature(logits, y) == pytest.approx(t_true, rel=0.1)
    # plain thumbs down ("not this label") carry information too
    shown = rng.integers(0, 5, size=4000)
    labels = np.where(shown == y, y, -1)
    down = np.where(shown != y, shown, -1)
    assert calibration.fit_temperature(logits, labels, down) == pytest.approx(t_true, rel=0.15)
    # probabilities in, probabilities out: scaling log p by 1/T is scaling the logits
    p1 = calibration.scale(p, 1 / t_true)
    q = np.exp(logits)
    assert np.allclose(p1, q / q.sum(axis=1, keepdims=True), atol=1e-6)


def _meta(project: Project) -> dict:
    return json.loads(
        sorted(project.checkpoints_dir.glob(f"{ckpt_files.PREFIX}*.json"))[-1].read_text()
    )


def test_a_temperature_from_the_starting_model_is_not_applied_to_a_trained_one(trained_on_all):
    # all 40 answers were scored by the starting model, then the model trained 20 steps
    cal = _meta(trained_on_all)["calibration"]
    assert len(cal["records"][DEFAULT_TASK]) == 40
    assert {r[5] for r in cal["records"][DEFAULT_TASK]} == {0}  # scored at step 0
    assert cal["temperature"][DEFAULT_TASK] == 1.0 and cal["fitted_on"][DEFAULT_TASK] == 0
    note = evaluate_project(trained_on_all)["tasks"][DEFAULT_TASK]["calibration"]["current"]
    assert note["note"].endswith(
        "not calibrated (temperature 1: 0 answers scored by a recent version of this model "
        "before it trained on them; a fit needs ≥ 20)"
    )


def test_temperature_is_fitted_prequentially_and_travels_with_the_checkpoint(trickled):
    meta = _meta(trickled)
    cal = meta["calibration"]
    recs = cal["records"][DEFAULT_TASK]
    assert len(recs) == 90  # every answer, each scored before the model trained on it
    steps = [r[5] for r in recs]
    assert steps == sorted(steps) and steps[-1] > steps[40] > 0
    fitted = cal["fitted_on"][DEFAULT_TASK]
    recent = sum(s >= calibration.RECENT_SHARE * meta["step"] for s in steps)
    assert fitted == recent >= calibration.MIN_FIT
    temp = cal["temperature"][DEFAULT_TASK]
    assert temp != 1.0
    trainer = open_trainer(trickled)
    try:
        assert trainer.calibrator.temperatures[DEFAULT_TASK] == temp
    finally:
        trainer.close(checkpoint=False)
    note = evaluate_project(trickled)["tasks"][DEFAULT_TASK]["calibration"]["current"]
    assert note["temperature"] == temp and note["fitted_on"] == fitted
    assert note["note"].startswith("ECE ") and "on 9 held-out items, temperature" in note["note"]
    assert note["note"].endswith(f"fitted on {fitted} prequential answers")


def panel_and_evaluate_probs(project: Project, n: int, note: str, fitted: bool = False):
    """Train a little more, save a checkpoint and return the first ``n`` pool items, the
    predictions the trainer sends to the panel for them (``predict_items``) and ``evaluate``'s
    probabilities of the default task for them (a row an item), read back from the checkpoint.
    The temperature is fitted (not 1); ``fitted`` also requires the algorithm's posterior."""
    trainer = Trainer(project, device="cpu", queue_size=0, write_metrics=False)
    try:
        trainer.add_budget(4)
        trainer.train_pending()  # the default algorithm's graph posterior is fitted now
        assert trainer.algorithm.fitted or not fitted
        assert trainer.calibrator.temperatures[DEFAULT_TASK] != 1.0
        trainer.save_checkpoint(note)
        items = trainer.store.items(split="pool")[:n]
        preds = trainer.predict_items([it.item_id for it in items])
    finally:
        trainer.close(checkpoint=False)
    reader = open_trainer(project)
    try:
        ev = greedy_probs(candidates_for(reader)[0], items)[DEFAULT_TASK]
    finally:
        reader.close(checkpoint=False)
    return items, preds, ev


def test_panel_predict_and_evaluate_share_one_source(trickled, tmp_path):
    """The probabilities the trainer sends to the panel (``predict_items``), ``predict`` and
    ``evaluate`` give the same number for the shown label, with the fitted temperature."""
    project = Project.open(shutil.copytree(trickled.root, tmp_path / "p"))
    items, preds, ev = panel_and_evaluate_probs(project, 6, "one source", fitted=True)
    labels = project.tasks[0].labels
    for row, it in enumerate(items):
        pred = preds[it.item_id][DEFAULT_TASK]
        shown = labels.index(pred.shown_label)
        out = predict_source(project, Path(it.image))["predictions"][0]
        by_predict = {lab: p for lab, p in out["top"]}
        top = max(pred.probs, key=pred.probs.get)
        assert out["label"] == top
        assert pred.probs[top] == pytest.approx(by_predict[top], abs=1e-6)
        assert pred.probs[top] == pytest.approx(ev[row, labels.index(top)], abs=1e-6)
        assert pred.probs[pred.shown_label] == pytest.approx(ev[row, shown], abs=1e-6)
        assert sum(pred.probs.values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    "meta",
    [
        None,
        "x",
        {"records": {"label": [[1, 2]]}},
        {"records": {"label": [[1, 0, 1, -1, "abc"]]}},
        {"temperature": {"label": "abc"}},
        {"temperature": {"label": 1e9}, "fitted_on": {"label": 50}},
        {"temperature": {"label": float("nan")}},
        {"temperature": ["label"]},
    ],
)
def test_malformed_calibration_metadata_is_temperature_one(meta):
    labels = {"label": ["a", "b"]}
    cal = calibration.PrequentialCalibrator.from_meta(meta, labels)
    assert cal.temperatures.get("label", 1.0) == 1.0
    temps, _ = calibration.temperatures_from_meta({"calibration": meta})
    assert temps.get("label", 1.0) == 1.0


def test_calibration_metadata_with_odd_fields_still_loads_the_good_parts():
    labels = {"label": ["a", "b"]}
    meta = {"temperature": {"label": 2.0}, "fitted_on": ["x"], "records": {"label": []}}
    temps, fitted = calibration.temperatures_from_meta({"calibration": meta})
    assert temps == {"label": 2.0} and fitted == {"label": 0}  # no exception, the good part kept
    rec = {"records": {"label": [[5, 0, 1, -1, ["-0.1", "-2.3"], 3]]}}
    cal = calibration.PrequentialCalibrator.from_meta(rec, labels)
    assert cal.records["label"][5].logp == (-0.1, -2.3) and cal.records["label"][5].step == 3


def test_estimates_from_logs_that_missed_the_candidates_choices_are_refused():
    """A logging policy that showed a label the candidate would not choose on most answers, and
    the candidate's choice only where it was right: SNIPS says 100 % while the candidate is right
    on a quarter. The weights' mean (.25 here) gives it away; 1 when the logs cover its choices."""
    rng = np.random.default_rng(0)
    n, k = 80, 4
    right = rng.integers(0, k, n)
    cand = np.where(np.arange(n) % 4 == 0, right, (right + 1) % k)  # right on a quarter
    shown = np.where(cand == right, cand, (cand + 2) % k)  # the logs show it only where right
    rewards = np.where(shown == right, 1, -1)
    props = np.full(n, 0.9)
    target = np.eye(k)[cand]
    assert ope.snips(shown, props, rewards, target).value == 1.0
    mean, se = ope.weight_check(shown, props, target)
    assert mean == pytest.approx(0.25 / 0.9, abs=0.01)
    why = ope.not_reportable(n, 20.0, (mean, se))
    assert why is not None and "average 0.28" in why
    # logs drawn from the candidate itself (with exploration): weights average about 1
    explore = rng.random(n) < 0.1
    shown = np.where(explore, rng.integers(0, k, n), cand)
    props = np.where(shown == cand, 0.9 + 0.1 / k, 0.1 / k)
    assert ope.not_reportable(n, 60.0, ope.weight_check(shown, props, target)) is None
