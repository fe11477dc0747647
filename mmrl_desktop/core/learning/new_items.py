"""How the default algorithm predicts an item outside its pool: the network and the pool's vote.

An item the pool does not hold (a held-out case, a file imported after the pool was attached) has
no row in the graph posterior. ``act`` already shows it the vote of its pool neighbours (their
mean posterior in the graph's view); the held-out figure scored the network alone. Which of the
two is right more often changes as the answers come (docs/benchmarks.md §5zj: on shapes the vote
.56 at 60 answers against the network's .36, the network ahead at 300), so neither is taken on
trust: each item's first answer, before it is used, is scored under both predictions of its item
as they stood — the network's probabilities from the last embedding of the pool, and the vote of
the item's graph neighbours from the posterior of the last refresh, neither of which had seen
it — and the prediction for a new item is

    p ∝ p_network^a · vote^b

with (a, b) from the last ``view_window`` logged answers by ``new_item_rule``:

- ``accuracy`` (the option's default): the network alone (1, 0) unless the vote alone (0, 1) or
  the two at equal powers (1, 1) had its first label right on more of them by ``view_z``
  standard errors of the paired differences (a 👍 on the shown label counts 1 / its propensity,
  a correction 1);
- ``likelihood``: the powers (grid 0, 0.1–10) under which the answers were likeliest (each
  mixed with ``answer_noise`` of uniform, as the views are scored); both at 0 is not allowed (a
  uniform guess has no first label).

Until ``NEW_ITEM_MIN_ANSWERS`` (10) answers are logged, or ``view_min_labels`` when fewer: the
network alone. Neither rule can yet tell when the network has overtaken the vote: the answers are
on labels the graph posterior chose to show, rarely the network's where the two disagree (ADR
0030, docs/benchmarks.md §5zl; ``explore_network`` shows some). The option is off by default.

    stack = NewItemStack(window=150, noise=0.05)
    stack.record(net_row, vote_row, answer)     # in GraphViews.score, before the answer is used
    stack.fit(min_answers=8, rule="accuracy")   # in GraphViews.choose
    probs = stack.combine(p_net, vote)          # [B, K] each
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mmrl_desktop.core.learning.graph_answers import first_label_hits, paired_z

NEW_ITEM_MIN_ANSWERS = 10  # logged answers before the powers are fitted (the network alone)
# new_item_rule accuracy: the network alone, the two at equal powers, the vote alone
CANDIDATES = ((1.0, 0.0), (1.0, 1.0), (0.0, 1.0))
POWERS = np.concatenate([[0.0], np.geomspace(0.1, 10.0, 16)])


class NewItemStack:
    def __init__(self, window: int, noise: float):
        self.log: deque = deque(maxlen=window)  # (network row, vote row, answer)
        self.noise = noise
        self.powers = (1.0, 0.0)  # (a: network, b: vote)

    def record(self, net_row: np.ndarray, vote_row: np.ndarray, answer) -> None:
        self.log.append((np.asarray(net_row, float).copy(), np.asarray(vote_row, float), answer))

    def fit(
        self, min_answers: int, rule: str = "likelihood", z: float = 2.0
    ) -> tuple[float, float]:
        """The powers for new items from the logged answers (see the module docstring)."""
        if len(self.log) < max(1, min_answers):
            self.powers = (1.0, 0.0)
            return self.powers
        if rule == "accuracy":
            return self._fit_accuracy(z)
        ln = np.log(np.stack([n for n, _, _ in self.log]) + 1e-12)
        lv = np.log(np.stack([v for _, v, _ in self.log]) + 1e-12)
        n, k = ln.shape
        idx = np.array([r.corrected if r.corrected >= 0 else r.shown for _, _, r in self.log])
        hit = np.array([r.corrected >= 0 or r.reward > 0 for _, _, r in self.log])
        a, b = POWERS[:, None, None, None], POWERS[None, :, None, None]
        logits = a * (ln - ln.max(1, keepdims=True)) + b * (lv - lv.max(1, keepdims=True))
        logits = logits - logits.max(3, keepdims=True)  # [A, B, n, K]
        p = np.exp(logits)
        p = p[:, :, np.arange(n), idx] / p.sum(3)  # [A, B, n]
        p = (1 - self.noise) * p + self.noise / k
        total = np.where(hit, np.log(p), np.log1p(-p)).sum(2)
        total[0, 0] = -np.inf  # both at 0: a uniform guess, no first label
        i, j = np.unravel_index(int(np.argmax(total)), total.shape)
        self.powers = (float(POWERS[i]), float(POWERS[j]))
        return self.powers

    def _fit_accuracy(self, z: float) -> tuple[float, float]:
        """The network alone unless a candidate in ``CANDIDATES`` had its first label right on
        more of the logged answers by more than ``z`` standard errors of the paired differences
        (then the best such). An answer reveals the label by a correction (weight 1) or a 👍 on
        the label shown (weight 1 / its propensity, floored: ``graph_answers.first_label_hits``): over the
        labels the acting could have shown, the weighted hits average the indicator that the
        first label is right — unbiased, where the 👍 alone favour the posterior that chose
        what to show."""
        ln = np.stack([n for n, _, _ in self.log])
        lv = np.stack([v for _, v, _ in self.log])
        rows = [r for _, _, r in self.log]
        hits = [first_label_hits(_combine(ln, lv, p).argmax(1), rows) for p in CANDIDATES]
        best, self.powers = 0.0, CANDIDATES[0]
        for c in range(1, len(CANDIDATES)):
            gain = float(np.mean(hits[c] - hits[0]))
            if paired_z(hits[c], hits[0]) > z and gain > best:
                best, self.powers = gain, CANDIDATES[c]
        return self.powers

    def combine(self, p_net: np.ndarray, vote: np.ndarray) -> np.ndarray:
        """p ∝ p_net^a · vote^b, row by row [B, K]."""
        return _combine(p_net, vote, self.powers)


def _combine(p_net: np.ndarray, vote: np.ndarray, powers: tuple[float, float]) -> np.ndarray:
    a, b = powers
    logits = a * np.log(p_net + 1e-12) + b * np.log(vote + 1e-12)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)
