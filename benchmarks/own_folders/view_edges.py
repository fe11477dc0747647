"""Issue 17 measurement (not a test): leave-one-out 1-NN with every true label of each fixed view
and of hog and gradients side by side at shares 0.3 / 0.5 / 0.7 of hog (the ``edges`` view is
0.5), on each own-folder set's seed-0 pool (``SET:SEED`` another seed's; ``digits32``: the
8×8 digits drawn at 32 px), and the share of each item's 5 nearest in the pixels view that are
among its 5 nearest in ``edges`` (``views.neighbour_overlap``, docs/benchmarks.md §5zc).

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.view_edges digits glyphs shapes textures
    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.view_edges digits32 digits32:6 glyphs:23
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from benchmarks.own_folders.digits32_first_view import folder as digits32
from benchmarks.own_folders.view_ceiling import knn_acc, pool_in, pool_of
from mmrl_desktop.core.learning import views


def main() -> None:
    torch.set_num_threads(1)
    for arg in sys.argv[1:]:
        name, _, seed = arg.partition(":")
        seed = int(seed or 0)
        _, alg, y = pool_in(digits32(), seed) if name == "digits32" else pool_of(name, seed)
        f, _ = views.fixed_views(alg._chunks(), alg._sample_rate())
        out = {v: knn_acc(x, y)[0] for v, x in f.items()}
        for a in (0.3, 0.5, 0.7):
            out[f"hog{a}+gradients"] = knn_acc(views.mix(f["gradients"], f["hog"], a), y)[0]
        out["overlap@5"] = views.neighbour_overlap(f["pixels"], f["edges"], 5)
        print(arg, {k: round(v, 3) for k, v in out.items()}, flush=True)


if __name__ == "__main__":
    main()
