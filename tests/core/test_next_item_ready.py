"""Which item next (issue 19): the learner chooses only once its uncertainty has been shown to
mean something — it predicted the thumbs 👎 of the answers asked in the queue order better than
chance (``next_item.Readiness``); until then the queue order goes on, in the bench and in the
trainer alike."""

import numpy as np
import pytest

from mmrl_desktop.core.learning import next_item
from mmrl_desktop.core.learning.next_item import NextItemChooser, Readiness, rank_auc
from tests.core.enginefixtures import TINY_MODEL, make_pngs
from tests.core.test_next_item import _trainer


def _answer(ready: Readiness, scores, downs, start=0, num_labels=0):
    ids = [f"i{start + j}" for j in range(len(scores))]
    ready.scored(ids, np.asarray(scores, dtype=float))
    for j, (item, down) in enumerate(zip(ids, downs, strict=True)):
        ready.answered(item, up=not down, answers=start + j + 1)
        if (start + j + 1) % 10 == 0:  # looked at every 10 answers, as the bench picks
            ready.check(start + j + 1, num_labels)


def test_rank_auc_counts_ties_as_half_and_says_how_far_from_chance():
    assert rank_auc([1, 1, 1, 1], [True, False, True, False]) == (pytest.approx(0.5), 0.0)
    auc, z = rank_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False])
    assert auc == pytest.approx(1.0) and z > 1.5
    assert rank_auc([0.1, 0.2], [True, True]) == (0.5, 0.0)  # one outcome only: no evidence


def _ready_share(n: int, noise: float | None, runs: int = 200) -> float:
    """The share of ``runs`` sequences of ``n`` answers after which the learner is ready: the
    scores predict 👎 up to ``noise`` (None: not at all)."""
    ready_runs = 0
    for seed in range(runs):
        rng = np.random.default_rng(seed)
        scores = rng.random(n)
        if noise is None:
            downs = rng.random(n) < 0.5
        else:
            downs = scores + noise * rng.standard_normal(n) > 0.5
        ready = Readiness()
        _answer(ready, scores, downs)
        ready_runs += ready.ready
    return ready_runs / runs


def test_uncertainty_that_predicts_the_thumbs_down_makes_the_learner_ready():
    assert _ready_share(40, noise=0.3) >= 0.9  # rank AUC about .85: ready within 40 answers


def test_uncertainty_unrelated_to_the_thumbs_keeps_the_queue_order():
    """Looked at every 10 answers, unrelated scores rarely pass by chance (about 8 % of runs of
    150 answers at z = 2.5; at z = 2 it was 19 %)."""
    assert _ready_share(150, noise=None) <= 0.1


def test_once_ready_the_learner_keeps_choosing():
    """The chosen items are the unsure ones, on which uncertainty ranks worse: no flip-flop."""
    ready = Readiness()
    _answer(ready, np.linspace(0, 1, 30), np.linspace(0, 1, 30) > 0.5)
    at = ready.ready_at
    rng = np.random.default_rng(2)
    _answer(ready, rng.random(60), rng.random(60) < 0.5, start=30)
    assert ready.ready and ready.ready_at == at


def test_an_answer_without_a_score_before_it_is_no_evidence():
    ready = Readiness()
    for j in range(40):
        ready.answered(f"never-scored-{j}", up=j % 2 == 0, answers=j + 1)
    assert ready.evidence == 0 and not ready.check(40)
    ready.scored(["a"], np.array([0.5]))
    ready.answered("a", up=True, answers=41)
    ready.answered("a", up=False, answers=42)  # a second answer on it: the score is used once
    assert ready.evidence == 1


def test_the_trainer_scores_but_does_not_choose_until_ready(tmp_path, monkeypatch):
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)
    _project, trainer = _trainer(tmp_path, next_item="uncertain", next_item_random=0.0)
    trainer.info()
    chooser = NextItemChooser(trainer.config)
    assert chooser.choose(trainer, set(), model_version=0) == []  # no evidence yet
    assert len(chooser.readiness.scores) == len(trainer.pool_ids)  # but every item scored
    monkeypatch.setattr(next_item, "READY_Z", None)  # the check off: it chooses at once
    picks = chooser.choose(trainer, set(), model_version=1)
    assert len(picks) == min(next_item.BATCH, len(trainer.pool_ids))
    trainer.close(checkpoint=False)


def test_likely_positive_needs_no_readiness(tmp_path, monkeypatch):
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)
    _project, trainer = _trainer(tmp_path, next_item="likely-positive", positive_label="light")
    trainer.info()
    picks = NextItemChooser(trainer.config).choose(trainer, set())
    assert len(picks) == min(next_item.BATCH, len(trainer.pool_ids))
    trainer.close(checkpoint=False)


def test_the_bench_asks_in_the_stream_order_until_the_learner_is_ready(tmp_path, monkeypatch):
    """Past the warm-up, an unready learner asks as shuffle does; the JSON says when (if ever)
    the learner began to choose."""
    from mmrl_desktop.core.tools.bench import run_bench

    src = make_pngs(tmp_path / "png", per_class=6)
    args = dict(feedback=[4, 8], holdout=0.34, device="cpu", model_settings=TINY_MODEL)
    args |= dict(algorithm_settings={"updates_per_event": 1, "batch_size": 4}, warm_up=0)
    shuffled = run_bench(str(src), **args)
    monkeypatch.setattr(next_item, "READY_Z", 1e9)  # never ready
    unready = run_bench(str(src), order="uncertain", **args)
    assert unready["curve"] == shuffled["curve"] and unready["ready_at"] is None
    monkeypatch.setattr(next_item, "READY_Z", None)  # no check: chooses after the warm-up
    assert run_bench(str(src), order="uncertain", **args)["ready_at"] == 0


def test_skill_takes_chance_out_of_the_share_of_thumbs_up():
    assert next_item.skill(5, 40, 8) == pytest.approx(0.0)  # 1/8 👍: chance
    assert next_item.skill(40, 40, 8) == pytest.approx(1.0)
    assert next_item.skill(20, 40, 2) == pytest.approx(0.0)  # half 👍 of two labels: chance
    assert next_item.skill(20, 40, 0) == pytest.approx(0.5)  # K unknown: the plain share


def test_a_model_that_is_mostly_wrong_keeps_the_queue_order_however_well_it_ranks():
    """Words, 8 labels, thumbs only: the uncertainty ranked the 👎 well while 3 in 4 answers
    were 👎, and choosing then cost against the queue order (§6g). A ranking as good with the
    shown label right on 3 in 4 answers makes the learner ready."""
    every_fourth = np.arange(40) % 4 == 0
    ranked = np.linspace(0, 0.1, 40)  # a perfect ranking: every 👎 scored above every 👍
    mostly_wrong = Readiness()
    _answer(mostly_wrong, ranked + ~every_fourth, ~every_fourth, num_labels=8)  # 1 👍 in 4
    assert mostly_wrong.evidence == 40 and not mostly_wrong.ready
    assert rank_auc(ranked + ~every_fourth, ~every_fourth)[0] == pytest.approx(1.0)
    mostly_right = Readiness()
    _answer(mostly_right, ranked + every_fourth, every_fourth, num_labels=8)  # 3 👍 in 4
    assert mostly_right.ready
