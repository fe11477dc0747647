"""Which item next (issue 19): ``uncertain`` drawn ∝ uncertainty^β (``next_item.POWER``) —
stochastic uncertainty sampling: known selection probabilities for every item, near-uniform
picks where the model is as unsure of every item, the unsure items where it is sure of most."""

import numpy as np
import pytest

from mmrl_desktop.core.learning import next_item
from mmrl_desktop.core.learning.next_item import Candidates, choose, thumb_gain
from tests.core.test_next_item import IDS, LABELS, PROBS


def _cands(probs=PROBS, ids=IDS) -> Candidates:
    return Candidates(ids=list(ids), probs=np.asarray(probs), labels=LABELS)


def test_each_pick_is_drawn_with_the_probability_it_states():
    """Over many draws, each item's first-pick frequency equals its stated propensity, which is
    ε / m + (1 − ε) × its share of uncertainty^β."""
    eps, beta = 0.2, 1.0
    share = thumb_gain(PROBS) ** beta / (thumb_gain(PROBS) ** beta).sum()
    counts = dict.fromkeys(IDS, 0)
    rng = np.random.default_rng(3)
    trials = 6000
    for _ in range(trials):
        pick = choose("uncertain", _cands(), 1, rng, eps, power=beta)[0]
        counts[pick.item_id] += 1
        assert pick.propensity == pytest.approx(
            eps / 4 + (1 - eps) * share[IDS.index(pick.item_id)]
        )
    for k, item_id in enumerate(IDS):
        assert counts[item_id] / trials == pytest.approx(eps / 4 + (1 - eps) * share[k], abs=0.03)


def test_a_model_as_unsure_of_every_item_asks_them_all_alike():
    """Equal uncertainty everywhere (a weak model): the picks are a uniform sample."""
    probs = np.full((50, 3), 1 / 3)
    ids = [f"i{k}" for k in range(50)]
    picks = choose("uncertain", _cands(probs, ids), 10, np.random.default_rng(0), 0.1, power=1.0)
    for j, pick in enumerate(picks):
        assert pick.propensity == pytest.approx(1 / (50 - j))
    assert len({p.item_id for p in picks}) == 10


def test_a_model_sure_of_most_items_asks_about_the_few_it_is_not():
    sure = np.tile([[0.998, 0.001, 0.001]], (97, 1))
    unsure = np.array([[0.5, 0.5, 0.0], [0.4, 0.3, 0.3], [0.34, 0.33, 0.33]])
    probs = np.vstack([sure, unsure])
    ids = [f"i{k}" for k in range(100)]
    picks = choose("uncertain", _cands(probs, ids), 3, np.random.default_rng(1), 0.0, power=2.0)
    assert {p.item_id for p in picks} == {"i97", "i98", "i99"}


def test_no_uncertainty_anywhere_falls_back_to_a_uniform_draw():
    probs = np.tile([[1.0, 0.0, 0.0]], (5, 1))
    ids = [f"i{k}" for k in range(5)]
    picks = choose("uncertain", _cands(probs, ids), 5, np.random.default_rng(2), 0.0, power=1.0)
    assert sorted(p.item_id for p in picks) == ids
    assert [p.propensity for p in picks] == pytest.approx([1 / 5, 1 / 4, 1 / 3, 1 / 2, 1.0])


def test_power_zero_is_the_most_uncertain_item(monkeypatch):
    monkeypatch.setattr(next_item, "POWER", 0.0)
    pick = choose("uncertain", _cands(), 1, np.random.default_rng(0), 0.0)[0]
    assert pick.item_id == "a-or-c" and pick.propensity == pytest.approx(1.0)


def test_with_the_true_label_each_answer_the_draw_follows_one_minus_the_margin():
    """``supervised`` ranks by the margin (a negative uncertainty): drawn ∝ (1 − margin)^β."""
    rng = np.random.default_rng(5)
    first = [choose("uncertain", _cands(), 1, rng, 0.0, measure="margin", power=1.0)[0]
             for _ in range(2000)]  # fmt: skip
    top = np.sort(PROBS, axis=1)
    share = 1 - (top[:, -1] - top[:, -2])
    share = share / share.sum()
    for pick in first[:20]:
        assert pick.propensity == pytest.approx(share[IDS.index(pick.item_id)])
    freq = np.array([sum(p.item_id == i for p in first) for i in IDS]) / len(first)
    assert freq == pytest.approx(share, abs=0.03)


def test_the_trainer_draws_its_picks_with_their_probabilities(tmp_path, monkeypatch):
    """The trainer's chooser with power 1: unanswered items, each once, and each pick's
    probability its share of the pool's uncertainty (with ε / m), not 1 − ε."""
    from mmrl_desktop.core.learning.next_item import NextItemChooser, pool_candidates
    from tests.core.test_next_item import _trainer

    monkeypatch.setattr(next_item, "READY_Z", None)
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)
    monkeypatch.setattr(next_item, "POWER", 1.0)
    _project, trainer = _trainer(tmp_path, next_item="uncertain", next_item_random=0.1)
    trainer.info()
    answered = set(trainer.pool_ids[:2])
    picks = NextItemChooser(trainer.config).choose(trainer, answered, model_version=0)
    unanswered = [i for i in trainer.pool_ids if i not in answered]
    assert len({p.item_id for p in picks}) == len(picks) == min(next_item.BATCH, len(unanswered))
    gain = thumb_gain(pool_candidates(trainer, trainer._items(unanswered), "label").probs)
    first = picks[0]
    share = gain[unanswered.index(first.item_id)] / gain.sum()
    assert first.propensity == pytest.approx(0.1 / len(unanswered) + 0.9 * share)
    trainer.close(checkpoint=False)
