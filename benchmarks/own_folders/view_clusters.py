"""Issue 17 diagnosis (an experiment, not a test): could the graph's first view be chosen
without answers, by how well each fixed view's neighbour graph splits into K clusters? For each
view: the sum of the K smallest eigenvalues of the symmetric 10-NN graph's normalised Laplacian
(near 0: K nearly separate groups) and the gap after the K-th, beside the view's leave-one-out
1-NN / 5-NN accuracy with every true label (``view_ceiling``: what the view could carry).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.view_clusters digits glyphs
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.own_folders.view_ceiling import knn_acc, pool_of
from mmrl_desktop.core.learning import views


def spectrum(x: np.ndarray, k_clusters: int, k: int = 10) -> tuple[float, float]:
    """(Σ of the K smallest eigenvalues, λ_{K+1} − λ_K) of the symmetric k-NN graph's
    normalised Laplacian on the unit rows ``x``."""
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    nb = np.argsort(-s, axis=1)[:, :k]
    n = len(x)
    w = np.zeros((n, n))
    w[np.repeat(np.arange(n), k), nb.ravel()] = 1.0
    w = np.maximum(w, w.T)
    d = w.sum(1)
    ev = np.linalg.eigvalsh(np.eye(n) - w / np.sqrt(np.outer(d, d)))
    return float(ev[:k_clusters].sum()), float(ev[k_clusters] - ev[k_clusters - 1])


def main() -> None:
    torch.set_num_threads(1)
    for name in sys.argv[1:]:
        _, alg, y = pool_of(name)
        k_clusters = int(y.max()) + 1
        fixed, _ = views.fixed_views(alg._chunks(), alg._sample_rate())
        for v, x in fixed.items():
            one, five = knn_acc(x, y)
            low, gap = spectrum(x, k_clusters)
            print(f"{name:8s} K={k_clusters} n={len(y)} {v:10s} 1-NN {one:.3f}  5-NN {five:.3f}"
                  f"  Σλ(K) {low:.3f}  gap {gap:.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
