"""How the default algorithm predicts items outside its pool (core/learning/new_items.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmrl_desktop.core.learning.new_items import NewItemStack

K = 4


@dataclass
class _Answer:
    shown: int
    reward: int
    corrected: int = -1
    propensity: float = 1.0 / K  # the label shown: uniform over the K labels


def _rows(rng, right: bool) -> np.ndarray:
    """A prediction row: peaked on the true label 0 when ``right``, else on a random other."""
    top = 0 if right else int(rng.integers(1, K))
    p = np.full(K, 0.1 / (K - 1))
    p[top] = 0.9
    return p


def _log(stack: NewItemStack, net_right: float, vote_right: float, n: int = 60, seed: int = 0):
    """Answers on items whose label is 0; the label shown is uniform (thumbs on random labels)."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        net = _rows(rng, rng.random() < net_right)
        vote = _rows(rng, rng.random() < vote_right)
        shown = int(rng.integers(K))
        stack.record(net, vote, _Answer(shown, 1 if shown == 0 else -1))


def test_the_network_alone_until_enough_answers_are_logged():
    stack = NewItemStack(window=150, noise=0.05)
    _log(stack, 0.2, 1.0, n=5)
    assert stack.fit(min_answers=8) == (1.0, 0.0)
    p = np.array([[0.7, 0.1, 0.1, 0.1]])
    v = np.array([[0.1, 0.1, 0.1, 0.7]])
    assert np.allclose(stack.combine(p, v), p)


def test_the_vote_wins_where_it_foretold_the_answers_and_the_network_did_not():
    stack = NewItemStack(window=150, noise=0.05)
    _log(stack, net_right=0.1, vote_right=0.95)
    a, b = stack.fit(min_answers=8)
    assert b > a
    p = np.array([[0.1, 0.7, 0.1, 0.1]])  # the network says 1, the vote 0
    v = np.array([[0.6, 0.2, 0.1, 0.1]])
    out = stack.combine(p, v)
    assert out.argmax() == 0 and np.isclose(out.sum(), 1)


def test_the_network_keeps_its_say_where_it_foretold_better():
    stack = NewItemStack(window=150, noise=0.05)
    _log(stack, net_right=0.95, vote_right=0.1)
    a, b = stack.fit(min_answers=8)
    assert a > b
    p = np.array([[0.1, 0.7, 0.1, 0.1]])
    v = np.array([[0.6, 0.2, 0.1, 0.1]])
    assert stack.combine(p, v).argmax() == 1


def test_never_a_uniform_guess_and_only_the_window_counts():
    stack = NewItemStack(window=20, noise=0.05)
    _log(stack, net_right=0.95, vote_right=0.1, n=60)
    _log(stack, net_right=0.1, vote_right=0.95, n=20, seed=1)  # the last 20: the vote's
    assert len(stack.log) == 20
    a, b = stack.fit(min_answers=8)
    assert b > a and (a, b) != (0.0, 0.0)
    flat = NewItemStack(window=20, noise=0.05)
    for _ in range(10):  # two flat predictors: the likeliest would be the uniform guess
        flat.record(np.full(K, 0.25), np.full(K, 0.25), _Answer(0, -1))
    assert flat.fit(min_answers=8) != (0.0, 0.0)


def test_accuracy_rule_takes_the_vote_only_when_its_first_label_was_clearly_right_more():
    """new_item_rule accuracy: a 👍 on the first label counts 1 / its propensity; the vote
    replaces the network when it was right on clearly more of the answers, not on a hunch."""
    clear = NewItemStack(window=150, noise=0.05)
    _log(clear, net_right=0.1, vote_right=0.95, n=120)
    assert clear.fit(min_answers=8, rule="accuracy") != (1.0, 0.0)
    p, v = np.array([[0.1, 0.7, 0.1, 0.1]]), np.array([[0.9, 0.04, 0.03, 0.03]])
    assert clear.combine(p, v).argmax() == 0  # a confident vote outweighs the network
    close = NewItemStack(window=150, noise=0.05)
    _log(close, net_right=0.5, vote_right=0.6, n=40)
    assert close.fit(min_answers=8, rule="accuracy") == (1.0, 0.0)
    better_net = NewItemStack(window=150, noise=0.05)
    _log(better_net, net_right=0.95, vote_right=0.1, n=120)
    assert better_net.fit(min_answers=8, rule="accuracy") == (1.0, 0.0)
