"""Off-policy estimators on a synthetic bandit whose true thumbs-up rate is known."""

import numpy as np
import pytest

from mmrl_desktop.core.evaluation import ope

K = 4


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _bandit(n, seed):
    """Contexts with a known P(thumbs up | x, a); a logging and a (different) target policy."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    w_true = np.array([[1.0, -0.5, 0.2, 0.0], [0.3, 1.2, -0.7, 0.1], [-0.4, 0.2, 0.9, -1.0]])
    p_up = 1 / (1 + np.exp(-(x @ w_true)))  # [n, K] true thumbs-up probability
    logging = _softmax(0.5 * (x @ w_true) + rng.normal(scale=0.5, size=(n, K)))
    logging = 0.8 * logging + 0.2 / K  # keep every action possible
    target = _softmax(2.0 * (x @ w_true))  # better than the logger
    actions = np.array([rng.choice(K, p=row) for row in logging])
    prop = logging[np.arange(n), actions]
    up = rng.random(n) < p_up[np.arange(n), actions]
    rewards = np.where(up, 1, -1)
    truth = float((target * p_up).sum(axis=1).mean())
    return actions, prop, rewards, target, logging, p_up, truth


def test_estimates_cover_truth():
    a, p, r, target, _, p_up, truth = _bandit(20000, seed=1)
    for est in (
        ope.ips(a, p, r, target),
        ope.snips(a, p, r, target),
        ope.doubly_robust(a, p, r, target, p_up),
        ope.doubly_robust(a, p, r, target, np.full_like(p_up, 0.5)),  # a poor reward model
    ):
        assert est.ci_low <= truth <= est.ci_high, est
        assert abs(est.value - truth) < 0.02, est
        assert est.n == 20000 and 0 < est.effective_n <= 20000
    # a good reward model makes DR tighter than IPS
    assert ope.doubly_robust(a, p, r, target, p_up).stderr < ope.ips(a, p, r, target).stderr


def test_normal_ci_coverage_over_repeats():
    hits = {"ips": 0, "snips": 0, "dr": 0}
    reps = 200
    for s in range(reps):
        a, p, r, target, _, p_up, truth = _bandit(400, seed=100 + s)
        res = ope.estimate_all(a, p, r, target, p_up * 0.9)
        for m in hits:
            hits[m] += res[m]["ci_low"] <= truth <= res[m]["ci_high"]
    for m, h in hits.items():
        assert 0.88 <= h / reps <= 1.0, (m, h / reps)


def test_candidate_equal_to_logger_gives_empirical_mean():
    a, p, r, _, logging, _, _ = _bandit(3000, seed=2)
    rate = float(np.mean(r == 1))
    assert ope.ips(a, p, r, logging).value == pytest.approx(rate)
    assert ope.snips(a, p, r, logging).value == pytest.approx(rate)
    assert ope.ips(a, p, r, logging).effective_n == pytest.approx(3000)


def test_bootstrap_is_seeded_and_close_to_normal():
    a, p, r, target, _, p_up, _ = _bandit(2000, seed=3)
    b1 = ope.doubly_robust(a, p, r, target, p_up, bootstrap=300, seed=7)
    b2 = ope.doubly_robust(a, p, r, target, p_up, bootstrap=300, seed=7)
    nrm = ope.doubly_robust(a, p, r, target, p_up)
    assert b1 == b2 and b1.ci_method == "bootstrap"
    assert b1.ci_low == pytest.approx(nrm.ci_low, abs=0.01)
    assert b1.ci_high == pytest.approx(nrm.ci_high, abs=0.01)
    s = ope.snips(a, p, r, target, bootstrap=300, seed=7)
    assert s.ci_low < s.value < s.ci_high


def test_estimates_are_clipped_to_a_rate():
    est = ope.ips([0, 1], [0.1, 0.9], [1, -1], [[1.0, 0.0], [1.0, 0.0]])
    assert est.raw_value == pytest.approx(5.0) and est.value == 1.0
    assert 0.0 <= est.ci_low <= est.value <= est.ci_high <= 1.0


def test_reward_mapping_and_bad_input():
    assert ope.rewards_to_rate([1, -1, 1]).tolist() == [1.0, 0.0, 1.0]
    with pytest.raises(ValueError):
        ope.rewards_to_rate([0, 1])
    with pytest.raises(ValueError):
        ope.ips([0], [0.0], [1], [[1.0, 0.0]])  # zero propensity
    with pytest.raises(ValueError):
        ope.ips([2], [0.5], [1], [[1.0, 0.0]])  # action out of range
    with pytest.raises(ValueError):
        ope.doubly_robust([0], [0.5], [1], [[1.0, 0.0]], [[0.5]])
    empty = ope.estimate_all(np.zeros(0, int), np.zeros(0), np.zeros(0), np.zeros((0, 2)))
    assert empty["ips"]["value"] is None and empty["ips"]["n"] == 0
