"""Thumbs-only runs of the default algorithm with a given ``view_choice`` (issue 17, an
experiment): ``run_bench`` in process on the own-folder sets, one JSON line per run appended to
``--out``. The same protocol as ``run.py``'s default learner (checked equal on texts seed 0).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.view_choice_runs \\
        --out results.jsonl glyphs:1:mixture glyphs:1:switch shapes:0:mixture …
"""

from __future__ import annotations

import argparse

from benchmarks.own_folders.setting_runs import POINTS, run_one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("jobs", nargs="+", help="SET:SEED:CHOICE")
    args = ap.parse_args()
    for job in args.jobs:
        name, seed, choice = job.split(":")
        settings = {"options": {"view_choice": choice}}
        run_one(args.out, name, int(seed), "default", settings, POINTS, view_choice=choice)


if __name__ == "__main__":
    main()
