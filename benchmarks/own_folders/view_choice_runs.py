"""Thumbs-only runs of the default algorithm with a given ``view_choice`` (issue 17, an
experiment): ``run_bench`` in process on the own-folder sets, one JSON line per run appended to
``--out``. The same protocol as ``run.py``'s default learner (checked equal on texts seed 0).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.view_choice_runs \\
        --out results.jsonl glyphs:1:mixture glyphs:1:switch shapes:0:mixture …
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks.own_folders import datasets

POINTS = [30, 60, 150, 300]


def main() -> None:
    import torch

    from mmrl_desktop.core.tools.bench import run_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("jobs", nargs="+", help="SET:SEED:CHOICE")
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    for job in args.jobs:
        name, seed, choice = job.split(":")
        folder, _ = datasets.ensure(name)
        alg: dict = {"options": {"view_choice": choice}}
        if datasets.SETS[name].orientation_free:
            alg["orientation_free"] = True
        t = time.time()
        r = run_bench(str(folder), "default", POINTS, seed=int(seed), holdout=0.3, device="cpu",
                      algorithm_settings=alg)  # fmt: skip
        row = {"set": name, "seed": int(seed), "view_choice": choice,
               "acc": [c["accuracy"] for c in r["curve"]], "s": round(time.time() - t)}  # fmt: skip
        print(row, flush=True)
        with open(args.out, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
