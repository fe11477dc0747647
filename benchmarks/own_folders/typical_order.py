"""Issue 17 / 19 dev look (an experiment, not the app): the bench's expert answers the items
TypiClust would ask (Hacohen, Dekel & Weinshall 2022, "Active learning on a budget"), from the
first answer, on the graph's first fixed view (``edges`` for pictures, ``cepstra`` for sounds,
``ngrams`` for texts): k-means into (answers + 10) clusters, then the most typical unanswered
item (the smallest mean cosine distance to its 20 nearest cluster members) of each of the
largest clusters no answer has reached; one pick in ten uniform, as the app's orders. With
``TYPICAL_UNTIL=N`` in the environment it asks so for the first N answers only, then in the
stream's order. docs/benchmarks.md §6y.

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.typical_order --out F.jsonl \\
        --points 30,60,150 texts:41:supervised        # setting_runs' arguments
    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.typical_order proxy texts,glyphs
        # 1-NN on the view with the chosen items' true labels: queue order against TypiClust
"""

from __future__ import annotations

import os
import sys

import numpy as np

PICK_TYPICAL_K = 20  # neighbours of the typicality (Hacohen et al.: 20)


def typiclust(x: np.ndarray, labelled: np.ndarray, left: np.ndarray, n: int, seed: int) -> list:
    """Up to ``n`` rows of ``x`` (unit rows) among ``left``: k-means into labelled + n clusters,
    the most typical ``left`` row of each of the largest clusters without a ``labelled`` row."""
    from sklearn.cluster import KMeans

    k = min(len(x), int(labelled.sum()) + n)
    lab = KMeans(k, n_init=1, random_state=seed).fit(x).labels_
    covered = set(lab[labelled].tolist())
    out: list[int] = []
    for c in np.argsort(-np.bincount(lab, minlength=k), kind="stable"):
        if len(out) >= n:
            break
        idx = np.array([i for i in np.flatnonzero((lab == c) & left) if i not in out], int)
        if c in covered or not len(idx):
            continue
        members = np.flatnonzero(lab == c)
        kk = min(PICK_TYPICAL_K, len(members) - 1)
        if kk <= 0:
            out.append(int(idx[0]))
            continue
        d = 1 - x[idx] @ x[members].T
        d[d < 1e-9] = np.inf  # itself
        out.append(int(idx[np.argmin(np.partition(d, kk - 1, axis=1)[:, :kk].mean(1))]))
    return out


def first_view(trainer) -> tuple[list[str], np.ndarray, str]:
    """The pool's ids and the graph's first fixed view of it (``GraphViews.candidates``)."""
    from mmrl_desktop.core.learning import views
    from mmrl_desktop.core.learning.graph_views import GraphViews

    trainer._ensure_built()
    alg = trainer.algorithm
    gv = GraphViews(alg.options)
    gv.fixed, gv.stats = views.fixed_views(alg._chunks(), alg._sample_rate())
    first = next(iter(alg._chunks()), {})
    gv.tiny_images = "image" in first and first["image"].shape[-1] <= 8
    gv.modalities = frozenset(k for k in ("image", "audio", "text") if k in first)
    name = gv.candidates()[0]
    if name == "embedding":
        name = "pixels" if "pixels" in gv.fixed else next(iter(gv.fixed))
    return list(alg.pool_ids), gv.fixed[name], name


def install(until: int = 0) -> None:
    """Patch the bench: its ``Asker`` asks TypiClust's picks (for the first ``until`` answers;
    0: always), with no warm-up."""
    from mmrl_desktop.core.tools import bench

    def pick(self):
        if until and self.asked > until:
            return [it for it in self.stream if it in self.unanswered][: bench.PICK_EVERY]
        if not hasattr(self, "_typ"):
            ids, x, _ = first_view(self.trainer)
            self._typ = ({i: j for j, i in enumerate(ids)}, x)
        pos, x = self._typ
        un = {it.item_id: it for it in self.unanswered}
        left = np.zeros(len(x), dtype=bool)
        left[[pos[i] for i in un]] = True
        own = typiclust(x, ~left, left, bench.PICK_EVERY, int(self.rng.integers(2**31)))
        inv = {j: i for i, j in pos.items()}
        picks = []
        for _ in range(min(bench.PICK_EVERY, int(left.sum()))):
            if self.rng.random() < self.random_fraction or not own:
                idx = int(self.rng.choice(np.flatnonzero(left)))
                if idx in own:
                    own.remove(idx)
            else:
                idx = own.pop(0)
            left[idx] = False
            picks.append(un[inv[idx]])
        return picks

    run = bench.run_bench

    def run_bench(*a, **kw):
        kw.setdefault("order", "typical")
        kw.setdefault("warm_up", 0)
        return run(*a, **kw)

    bench.Asker._pick = pick
    bench.check_order = lambda *a, **k: None
    bench.run_bench = run_bench


def _nn_accuracy(x: np.ndarray, y: np.ndarray, chosen) -> float:
    """Every pool item labelled as its nearest chosen item (cosine): the share right."""
    sel = np.asarray(chosen)
    return float((y[sel][(x @ x[sel].T).argmax(1)] == y).mean())


def proxy(names: list[str], draws: int = 40) -> None:
    """1-NN accuracy over the pool from the chosen items' true labels, on the first view:
    ``draws`` uniform samples (the queue order) against TypiClust's picks, 5 at a time."""
    from benchmarks.own_folders.view_ceiling import pool_of

    for name in names:
        tr, _, y = pool_of(name)
        _, x, view = first_view(tr)
        for b in (30, 60):
            rng = [np.random.default_rng(s) for s in range(draws)]
            rand = [_nn_accuracy(x, y, r.choice(len(y), b, replace=False)) for r in rng]
            typ = []
            for s in range(3):
                chosen: list[int] = []
                while len(chosen) < b:
                    left = np.ones(len(y), bool)
                    left[chosen] = False
                    chosen += typiclust(x, ~left, left, min(5, b - len(chosen)), s)
                typ.append(_nn_accuracy(x, y, chosen))
            print(f"{name} {view} {b} answers: queue order {np.mean(rand):.3f}, "
                  f"TypiClust {np.mean(typ):.3f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    if sys.argv[1:2] == ["proxy"]:
        proxy(sys.argv[2].split(","))
    else:
        install(int(os.environ.get("TYPICAL_UNTIL", "0")))
        from benchmarks.own_folders import setting_runs

        setting_runs.main()
