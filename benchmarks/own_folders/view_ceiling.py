"""Issue 17 diagnosis (an experiment, not a test): how well each candidate view of the default
algorithm's neighbour graph could work at best — leave-one-out kNN accuracy with every pool
item's true label (5-NN majority, 1-NN) — for the fixed views and the untrained policy's
embedding. A view whose ceiling is near chance cannot carry thumbs to neighbours whatever the
graph posterior does.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.view_ceiling glyphs words shapes
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.own_folders import datasets
from mmrl_desktop.core.data.project import DEFAULT_TASK
from mmrl_desktop.core.learning import views
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.tools import bench


def knn_acc(x: np.ndarray, y: np.ndarray, k: int = 5) -> tuple[float, float]:
    s = x @ x.T
    np.fill_diagonal(s, -np.inf)
    nb = np.argsort(-s, axis=1)[:, :k]
    one = float((y[nb[:, 0]] == y).mean())
    votes = np.array([np.bincount(y[r], minlength=y.max() + 1).argmax() for r in nb])
    return one, float((votes == y).mean())


def pool_of(name: str, seed: int = 0):
    ds = datasets.SETS[name]
    folder, _ = datasets.ensure(name)
    return pool_in(folder, seed, ds.orientation_free)


def pool_in(folder: Path, seed: int = 0, orientation_free: bool = False):
    """(trainer, default algorithm, true label of each pool item) of the 70 % of the class
    subfolders of ``folder`` that a bench run with ``seed`` answers from."""
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-ceiling-"))
    settings = {"algorithm": "default", "seed": seed, "device": "cpu"}
    if orientation_free:
        settings["orientation_free"] = True
    project = bench._project(tmp, str(folder), settings, None)
    writer = project.open_store()
    bench._split(writer, str(folder), 0.3, seed)
    tr = Trainer(project, queue_size=0, checkpoints=False, resume=False)
    tr._ensure_built()
    alg = tr.algorithm
    labels = list(tr.labels[DEFAULT_TASK])
    y = np.array([labels.index(i.split("/")[0]) for i in alg.pool_ids])
    return tr, alg, y


def main() -> None:
    torch.set_num_threads(1)
    for name in sys.argv[1:]:
        tr, alg, y = pool_of(name)
        fixed, _ = views.fixed_views(alg._chunks(), alg._sample_rate())
        zs = [alg._embed(c)[0] for c in alg._chunks()]
        fixed["embedding(untrained)"] = views.unit_rows(torch.cat(zs).double().numpy())
        for v, x in fixed.items():
            one, five = knn_acc(x, y)
            print(f"{name:8s} n={len(y)} {v:22s} 1-NN {one:.3f}  5-NN {five:.3f}", flush=True)


if __name__ == "__main__":
    main()
