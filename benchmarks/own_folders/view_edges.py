"""Issue 17 measurement (not a test): leave-one-out 1-NN with every true label of each fixed view
and of hog and gradients side by side at shares 0.3 / 0.5 / 0.7 of hog (the ``edges`` view is
0.5), on each own-folder set's seed-0 pool.

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.view_edges digits glyphs shapes textures
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from benchmarks.own_folders.view_ceiling import knn_acc, pool_of
from mmrl_desktop.core.learning import views


def main() -> None:
    torch.set_num_threads(1)
    for name in sys.argv[1:]:
        _, alg, y = pool_of(name)
        f, _ = views.fixed_views(alg._chunks(), alg._sample_rate())
        out = {v: knn_acc(x, y)[0] for v, x in f.items()}
        for a in (0.3, 0.5, 0.7):
            out[f"hog{a}+gradients"] = knn_acc(views.mix(f["gradients"], f["hog"], a), y)[0]
        print(name, {k: round(v, 3) for k, v in out.items()}, flush=True)


if __name__ == "__main__":
    main()
