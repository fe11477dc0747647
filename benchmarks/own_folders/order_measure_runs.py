"""Thumbs-only runs of the default algorithm under an active order with a chosen ranking
measure (issue 19, an experiment): ``run_bench`` in process on the own-folder sets, one JSON line
per run appended to ``--out``. The same protocol as ``run.py --order O`` (checked equal on texts
seed 0 with the measure ``thumb``, the app's own). The readiness check keeps the app's measure;
only the ranking of the unanswered items changes.

Measures (per item, class probabilities ``p`` of the label that would be shown):
* ``thumb``: the app's, ``Σ p_l h(p_l)`` — a thumb's expected information, 👍 and 👎 alike;
* ``up``: the information of the 👍 outcomes only, ``Σ p_l² log2(1/p_l)`` — an answer that names
  the label is what this learner draws most from;
* ``random=F``: the app's measure with a larger uniform fraction ``F`` of the picks;
* ``power=B``: the app's measure, each pick drawn ∝ uncertainty^B (``next_item.POWER``);
* ``typical=B``: the app's measure; ``diverse``'s picks after the first weigh the distance to the
  picks by typicality^B (``next_item.TYPICAL``: outliers discounted);
* ``handback=F``: the app's measure, handing back to the queue order at the share ``F`` of the
  pool (``next_item.HANDBACK_SHARE``; ``handback=none``: never, the order before §6u);
* ``acting``: the app's measure on the default algorithm's acting distribution of each pool
  item (what the shown label is drawn from) instead of the network's class probabilities
  (``pool_candidates``' source), for the ranking and the readiness check alike;
* ``actrank``: the acting rows for the ranking only; the readiness check keeps the network's
  class probabilities (``acting``'s readiness passed far earlier, §6k).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.order_measure_runs \\
        --out results.jsonl words:0:uncertain:up shapes:0:uncertain:thumb …
    … order_measure_runs --out results.jsonl --points 100,300,600,1000 bench-digits:0:diverse:thumb
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import numpy as np

from benchmarks.own_folders import datasets

POINTS = [30, 60, 150, 300]


def up_gain(probs: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-12, 1.0)
    return (p * p * -np.log2(p)).sum(-1)


def _acting(trainer, c, task):
    """``c`` with the probabilities of its pool items replaced by the algorithm's acting rows."""
    alg = trainer.algorithm
    acting = getattr(alg, "acting", {}).get(task)
    if acting is None or c.probs is None or not len(c.ids):
        return c
    rows = alg._rows(list(c.ids), len(c.ids))
    known = (rows >= 0) & (rows < len(acting))
    probs = c.probs.copy()
    probs[known] = acting[rows[known]]
    return dataclasses.replace(c, probs=probs)


def _on_acting(own):
    """``pool_candidates`` whose probabilities of pool items are the algorithm's acting rows."""

    def candidates(trainer, items, task, embedding=False):
        return _acting(trainer, own(trainer, items, task, embedding), task)

    return candidates


def _rank_on_acting(bench) -> None:
    """``choose`` ranks by the acting rows of the candidates ``pool_candidates`` just gave (the
    readiness check, which reads the candidates before ``choose``, keeps the network's)."""
    own_candidates, own_choose = bench.pool_candidates, bench.choose
    last: dict = {}

    def candidates(trainer, items, task, embedding=False):
        c = own_candidates(trainer, items, task, embedding)
        last["c"], last["acting"] = c, _acting(trainer, c, task)
        return c

    def choose(order, cands, *args, **kwargs):
        if last.get("c") is cands:
            cands = last["acting"]
        return own_choose(order, cands, *args, **kwargs)

    bench.pool_candidates, bench.choose = candidates, choose


def patch(measure: str) -> float | None:
    """Make the bench rank by ``measure``; a random fraction to use instead, or None."""
    from mmrl_desktop.core.learning import next_item
    from mmrl_desktop.core.tools import bench

    if measure.startswith("random="):
        return float(measure.split("=", 1)[1])
    if measure.startswith("power="):
        next_item.POWER = float(measure.split("=", 1)[1])
        return None
    if measure.startswith("handback="):
        value = measure.split("=", 1)[1]
        next_item.HANDBACK_SHARE = None if value == "none" else float(value)
        return None
    if measure.startswith("typical="):
        next_item.TYPICAL = float(measure.split("=", 1)[1])
        return None
    if measure == "thumb":
        return None
    if measure == "acting":
        bench.pool_candidates = _on_acting(bench.pool_candidates)
        return None
    if measure == "actrank":
        _rank_on_acting(bench)
        return None
    own_uncertainty, own_choose = next_item.uncertainty, next_item.choose

    def uncertainty(probs, m="thumb"):
        return up_gain(probs) if m == "up" else own_uncertainty(probs, m)

    def choose(order, cands, n, rng, random_fraction=0.1, positive=None, m="thumb"):
        return own_choose(order, cands, n, rng, random_fraction, positive,
                          measure if m == "thumb" else m)  # fmt: skip

    next_item.MEASURES = (*next_item.MEASURES, measure)
    next_item.uncertainty = uncertainty  # _ranker's; the bench's readiness keeps its own import
    bench.choose = choose
    return None


def main() -> None:
    import torch

    from mmrl_desktop.core.tools.bench import run_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("job", help="SET:SEED:ORDER:MEASURE (one run: the patch is per process)")
    ap.add_argument("--points", default=",".join(map(str, POINTS)), help="answers, e.g. 30,60")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    name, seed, order, measure = args.job.split(":")
    fraction = patch(measure)
    alg: dict = {}
    if name == "bench-digits":  # `mmrl-desktop bench --data digits`, as setting_runs names it
        folder = "digits"
    else:
        folder = datasets.ensure(name)[0]
        if datasets.SETS[name].orientation_free:
            alg["orientation_free"] = True
    t = time.time()
    extra = {} if fraction is None else {"random_fraction": fraction}
    points = [int(x) for x in args.points.split(",")]
    r = run_bench(str(folder), "default", points, seed=int(seed), holdout=0.3, device="cpu",
                  algorithm_settings=alg, order=order, **extra)  # fmt: skip
    row = {"set": name, "seed": int(seed), "order": order, "measure": measure,
           "acc": [c["accuracy"] for c in r["curve"]],
           "up": [c.get("thumbs_up_rate") for c in r["curve"]],
           "ready_at": r.get("ready_at"), "s": round(time.time() - t)}  # fmt: skip
    print(row, flush=True)
    with open(args.out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
