"""Off-policy estimates of a candidate policy's thumbs-up rate from logged feedback.

What is estimated: the **thumbs-up rate** ``V(pi) = E_x sum_a pi(a|x) P(thumbs up | x, a)``, a
number in [0, 1], that a candidate policy ``pi`` would get if it chose the shown labels. A logged
reward ``r`` of +1 (thumbs up) counts as 1 and −1 (thumbs down) as 0: ``u = (r + 1) / 2``. (On the
±1 scale the mean reward is ``2 V − 1``.)

Inputs, one row per logged answer (``N`` rows, ``K`` labels of the task):
- ``actions``: index of the label that was shown, ``[N]``;
- ``propensities``: probability with which the logging policy showed it, ``[N]`` in (0, 1];
- ``rewards``: +1 / −1, ``[N]``;
- ``target_probs``: the candidate's action probabilities ``pi(a|x_i)``, ``[N, K]`` (one-hot for a
  greedy candidate);
- ``q_hat`` (doubly robust only): a reward model's thumbs-up probability for every label,
  ``[N, K]`` in [0, 1] — e.g. the candidate's own class probabilities (a label is thumbed up when it
  is the right one) or a fitted regression.

Estimators (each returns an :class:`Estimate` with a confidence interval):
- IPS: mean of ``w_i u_i`` with ``w_i = pi(a_i|x_i) / p_i``; unbiased when propensities are right.
- SNIPS: ``sum w_i u_i / sum w_i``; slightly biased, much lower variance; CI by the delta method.
- DR: mean of ``sum_a pi(a|x_i) q_hat(x_i, a) + w_i (u_i − q_hat(x_i, a_i))``; unbiased if either
  the propensities or ``q_hat`` are right, and low-variance when ``q_hat`` is good.

The normal-approximation CI is ``estimate ± z * stderr`` over the per-sample terms; optionally a
percentile bootstrap with a fixed seed (``bootstrap=B``). With few answers both can collapse (all
thumbs up: stderr 0, "100.0 (100.0–100.0)"), so the interval is never narrower than the Wilson
score interval of the estimate at the Kish effective sample size of the importance weights
(``small_sample_floor``). The estimate and the interval ends are clipped to [0, 1] (a rate cannot
leave it); ``raw_value`` keeps the unclipped estimate.

**Under a chosen order** (issue 19, ADR 0013) the answered items are not a uniform sample of the
pool: ``item_weights`` (``selection_weights``) multiplies each answer's weight by
``1 / (m · p_sel)``, its item's selection probability ``p_sel`` among the ``m`` unanswered items it
was chosen from, relative to a uniform draw. The estimates are then of the rate on an unanswered
item drawn uniformly (the queue order's own meaning); with the deterministic strategies the weight
rests on the ε-uniform picks (weight 1/ε) and the strategy's own picks count for almost nothing
(``1 / (ε + m(1 − ε))``), so the effective sample is about ε × the chosen answers, plus the answers
in the queue order (weight 1). An answer whose selection is unknown (written before schema 3, or
an item the expert opened) keeps weight 1: it is treated as a uniform draw, as before.

``not_reportable(n, effective_n, weights)`` says in one sentence why no number should be shown
(fewer than ``MIN_ANSWERS`` answers, weights that leave almost no effective sample, or weights
whose mean is far from 1: ``weight_check``); callers show that sentence instead of a degenerate
or leaning estimate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from statistics import NormalDist

import numpy as np

from mmrl_desktop.core.metrics import wilson_interval

MIN_ANSWERS = 20  # fewer answers: no estimate, a sentence instead
MIN_EFFECTIVE_N = 5.0  # importance weights leaving fewer effective answers: likewise
MAX_WEIGHT_Z = 3.0  # importance weights whose mean is this many SEs from 1: likewise ...
MIN_WEIGHT_GAP = 0.2  # ... and at least this far


@dataclass(frozen=True)
class Estimate:
    method: str  # 'ips' | 'snips' | 'dr'
    value: float  # estimated thumbs-up rate, clipped to [0, 1]
    stderr: float
    ci_low: float
    ci_high: float
    n: int
    ci_method: str = "normal"  # or 'bootstrap'
    effective_n: float = 0.0  # Kish effective sample size of the importance weights
    raw_value: float = float("nan")  # before clipping (IPS and DR can leave [0, 1])

    def to_dict(self) -> dict:
        return {
            k: (None if isinstance(v, float) and v != v else v) for k, v in asdict(self).items()
        }


def rewards_to_rate(rewards) -> np.ndarray:
    """+1 → 1.0 (thumbs up), −1 → 0.0 (thumbs down)."""
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if not np.all((r == 1) | (r == -1)):
        raise ValueError("rewards must be +1 or -1")
    return (r + 1.0) / 2.0


def selection_weights(probabilities, pools) -> np.ndarray:
    """``1 / (m · p_sel)`` per answer (``None`` in either: unknown, weight 1). The queue order's
    ``p_sel = 1/m`` gives 1."""
    out = np.ones(len(probabilities), dtype=np.float64)
    for i, (p, m) in enumerate(zip(probabilities, pools, strict=True)):
        if p is not None and m is not None and p > 0 and m > 0:
            out[i] = 1.0 / (float(m) * float(p))
    return out


def _inputs(actions, propensities, rewards, target_probs, item_weights=None):
    a = np.asarray(actions, dtype=np.int64).reshape(-1)
    p = np.asarray(propensities, dtype=np.float64).reshape(-1)
    u = rewards_to_rate(rewards)
    pi = np.asarray(target_probs, dtype=np.float64)
    n = a.shape[0]
    if p.shape[0] != n or u.shape[0] != n or pi.ndim != 2 or pi.shape[0] != n:
        raise ValueError("actions, propensities, rewards and target_probs must have N rows")
    if n and (a.min() < 0 or a.max() >= pi.shape[1]):
        raise ValueError("an action index is outside 0..K-1")
    if np.any(~(p > 0)) or np.any(p > 1):
        raise ValueError("propensities must be in (0, 1]")
    w = pi[np.arange(n), a] / p
    if item_weights is not None:
        v = np.asarray(item_weights, dtype=np.float64).reshape(-1)
        if v.shape[0] != n or np.any(~(v >= 0)):
            raise ValueError("item_weights must be N non-negative numbers")
        w = w * v
    return a, p, u, pi, w


def _z(alpha: float) -> float:
    return NormalDist().inv_cdf(1 - alpha / 2)


def _ess(w: np.ndarray) -> float:
    s2 = float((w**2).sum())
    return float(w.sum() ** 2 / s2) if s2 > 0 else 0.0


def _clip(x: float) -> float:
    return float(min(max(x, 0.0), 1.0))


def wilson(rate: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a rate observed on ``n`` (possibly fractional) samples: the one
    ``metrics.wilson_interval``, given a rate instead of a count."""
    if not n > 0 or rate != rate:
        return 0.0, 1.0
    p = min(max(rate, 0.0), 1.0)
    return wilson_interval(min(p * n, n), n, z=_z(alpha))


def small_sample_floor(value, lo, hi, ess, alpha=0.05) -> tuple[float, float]:
    """``(lo, hi)`` widened to at least the Wilson interval of ``value`` at ``ess`` answers."""
    wl, wh = wilson(_clip(value), ess, alpha)
    return min(lo, wl), max(hi, wh)


def not_reportable(n: int, effective_n: float, weights=None) -> str | None:
    """A sentence saying why an estimate from ``n`` answers should not be shown, or None.
    ``weights`` (``weight_check``: their mean and its standard error), when given: importance
    weights whose mean is far from 1 (``MAX_WEIGHT_Z`` standard errors and ``MIN_WEIGHT_GAP``)
    say the logged labels missed many of the candidate's choices — the answers it would have
    been thumbed down on are the ones the logging policy seldom showed, and none came up — and
    every estimate from them leans (the evaluation view of ``mmrl-desktop snapshot --project demo``
    showed IPS .510, SNIPS 1.000 and DR .967 for a model right on .55 of the held-out items: its
    weights averaged IPS / SNIPS = .51)."""
    if n < MIN_ANSWERS:
        return f"not enough answers (n = {n}; needs ≥ {MIN_ANSWERS})"
    if effective_n < MIN_EFFECTIVE_N:
        return (
            f"the logged labels are rarely the ones this model would choose (effective "
            f"n = {effective_n:.1f} of {n}; needs ≥ {MIN_EFFECTIVE_N:.0f})"
        )
    if weights is not None:
        mean, se = weights
        gap = abs(mean - 1.0)
        if gap >= MIN_WEIGHT_GAP and gap > MAX_WEIGHT_Z * se:
            return (
                f"the logged labels missed many of the ones this model would choose (its "
                f"importance weights average {mean:.2f}, where labels that covered its choices "
                "would average 1): an estimate from them would lean"
            )
    return None


def weight_check(actions, propensities, target_probs, item_weights=None) -> tuple[float, float]:
    """(mean, standard error) of the importance weights ``π(a_i|x_i) / p_i`` (times the item
    weights): 1 in expectation whenever the propensities are right and the logging policy
    could show every label the candidate would (Σ_a π(a|x) = 1)."""
    n = np.asarray(actions).reshape(-1).shape[0]
    rewards = np.ones(n)  # unused by the weights
    *_, w = _inputs(actions, propensities, rewards, target_probs, item_weights)
    if n == 0:
        return float("nan"), float("inf")
    return float(w.mean()), float(w.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")


def _make(method, value, se, lo, hi, n, ci_method, ess, alpha=0.05) -> Estimate:
    """The estimate and its interval (never narrower than Wilson at the effective n) clipped to
    [0, 1] (a rate cannot leave it)."""
    lo, hi = small_sample_floor(value, lo, hi, ess, alpha)
    return Estimate(method, _clip(value), se, _clip(lo), _clip(hi), n, ci_method, ess, float(value))


def _from_terms(method, terms, alpha, bootstrap, seed, w) -> Estimate:
    n = terms.shape[0]
    if n == 0:
        nan = float("nan")
        return Estimate(method, nan, nan, nan, nan, 0)
    value = float(terms.mean())
    se = float(terms.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    if bootstrap:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(bootstrap, n))
        means = terms[idx].mean(axis=1)
        lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
        ci_method = "bootstrap"
    else:
        lo, hi = value - _z(alpha) * se, value + _z(alpha) * se
        ci_method = "normal"
    return _make(method, value, se, lo, hi, n, ci_method, _ess(w), alpha)


def ips(
    actions,
    propensities,
    rewards,
    target_probs,
    *,
    alpha=0.05,
    bootstrap=0,
    seed=0,
    item_weights=None,
) -> Estimate:
    """Inverse propensity scoring."""
    _, _, u, _, w = _inputs(actions, propensities, rewards, target_probs, item_weights)
    return _from_terms("ips", w * u, alpha, bootstrap, seed, w)


def snips(
    actions,
    propensities,
    rewards,
    target_probs,
    *,
    alpha=0.05,
    bootstrap=0,
    seed=0,
    item_weights=None,
) -> Estimate:
    """Self-normalised IPS; the CI uses the delta-method terms ``w_i (u_i − V) / mean(w)``."""
    _, _, u, _, w = _inputs(actions, propensities, rewards, target_probs, item_weights)
    n = w.shape[0]
    if n == 0 or w.sum() <= 0:
        nan = float("nan")
        return Estimate("snips", nan, nan, nan, nan, n, effective_n=_ess(w))
    value = float((w * u).sum() / w.sum())
    influence = w * (u - value) / w.mean()
    se = float(influence.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    if bootstrap:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=(bootstrap, n))
        ws, us = w[idx], u[idx]
        den = ws.sum(axis=1)
        vals = np.where(den > 0, (ws * us).sum(axis=1) / np.where(den > 0, den, 1), value)
        lo, hi = np.quantile(vals, [alpha / 2, 1 - alpha / 2])
        ci_method = "bootstrap"
    else:
        lo, hi = value - _z(alpha) * se, value + _z(alpha) * se
        ci_method = "normal"
    return _make("snips", value, se, lo, hi, n, ci_method, _ess(w), alpha)


def doubly_robust(
    actions,
    propensities,
    rewards,
    target_probs,
    q_hat,
    *,
    alpha=0.05,
    bootstrap=0,
    seed=0,
    item_weights=None,
) -> Estimate:
    """Doubly robust: the reward model's value plus an importance-weighted correction. With
    ``item_weights`` the direct part is weighted too (``v_i · Σ_a π q̂``), so both parts are
    about a uniformly drawn unanswered item."""
    a, _, u, pi, w = _inputs(actions, propensities, rewards, target_probs, item_weights)
    q = np.asarray(q_hat, dtype=np.float64)
    if q.shape != pi.shape:
        raise ValueError(f"q_hat must have the shape of target_probs {pi.shape}, got {q.shape}")
    n = a.shape[0]
    v = np.ones(n) if item_weights is None else np.asarray(item_weights, dtype=np.float64)
    terms = v * (pi * q).sum(axis=1) + w * (u - q[np.arange(n), a])
    return _from_terms("dr", terms, alpha, bootstrap, seed, w)


def estimate_all(
    actions,
    propensities,
    rewards,
    target_probs,
    q_hat=None,
    *,
    alpha=0.05,
    bootstrap=0,
    seed=0,
    item_weights=None,
) -> dict[str, dict]:
    """IPS, SNIPS and (when ``q_hat`` is given) DR, as JSON-ready dicts keyed by method."""
    kw = {"alpha": alpha, "bootstrap": bootstrap, "seed": seed, "item_weights": item_weights}
    out = {
        "ips": ips(actions, propensities, rewards, target_probs, **kw).to_dict(),
        "snips": snips(actions, propensities, rewards, target_probs, **kw).to_dict(),
    }
    if q_hat is not None:
        out["dr"] = doubly_robust(actions, propensities, rewards, target_probs, q_hat, **kw)
        out["dr"] = out["dr"].to_dict()
    return out
