"""The TypiClust dev look's choice (benchmarks/own_folders/typical_order.py, docs §6y)."""

from __future__ import annotations

import numpy as np

from benchmarks.own_folders.typical_order import typiclust


def _blobs(sizes, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[: len(sizes)]
    x = np.concatenate(
        [c + rng.normal(0, 0.05, (n, 8)) for c, n in zip(centres, sizes, strict=True)]
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True), np.repeat(np.arange(len(sizes)), sizes)


def test_picks_one_typical_item_of_each_uncovered_cluster_largest_first():
    x, y = _blobs([30, 20, 10])
    left = np.ones(len(x), bool)
    picks = typiclust(x, ~left, left, 3, seed=0)
    assert sorted(y[picks]) == [0, 1, 2] and y[picks[0]] == 0
    centre = x[y == 0].mean(0)
    assert x[picks[0]] @ centre > np.quantile(x[y == 0] @ centre, 0.5)  # typical, not an outlier


def test_a_cluster_an_answer_reached_is_not_asked_again():
    x, y = _blobs([30, 20, 10])
    left = np.ones(len(x), bool)
    left[np.flatnonzero(y == 0)[:1]] = False  # one answer in the largest cluster
    picks = typiclust(x, ~left, left, 2, seed=0)
    assert sorted(y[picks]) == [1, 2] and all(left[picks])
