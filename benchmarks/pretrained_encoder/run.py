"""Issue 14's learning gain: a small ResNet pretrained here on glyphs of 76 other characters
(``pretrain.py``: Latin, Greek and Cyrillic letters and symbols, none of the target letters or
their look-alikes, no digits), used through ``mmrl-desktop bench --encoder image=PATH`` on data
it never saw — glyphs of the own-folder suite's 10 letters (A B C D E G H K R S, 150 per letter)
and scikit-learn's digits — against today's scratch policy, thumbs only (the default algorithm) and supervised, same protocol, same seeds.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.pretrained_encoder.run \
        --out benchmarks/results/pretrained_encoder.json --seeds 0-2

The JSON is rewritten after each run (``--resume`` does the missing ones); the Markdown table
with the goal checks is printed at the end (``--table-only``: print it, run nothing)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.own_folders import datasets
from benchmarks.own_folders.run import _commit, merge, parse_seeds
from benchmarks.pretrained_encoder import pretrain, report

ROOT = Path(__file__).resolve().parents[2]
SETS = {"glyphs": 150, "digits": None}  # name → items per class (None: the whole set)
APP = {  # learner → (uses the pretrained encoder, extra bench arguments)
    report.PRE_THUMBS: (True, ()),
    report.PRE_SUP: (True, ("--algorithm", "supervised")),
    report.SCRATCH_THUMBS: (False, ()),
    report.SCRATCH_SUP: (False, ("--algorithm", "supervised")),
}


def run_app(name: str, folder: str, seed: int, points, holdout: float, learner: str, encoder):
    """One ``mmrl-desktop bench --json`` run in a subprocess, as a user runs it."""
    pretrained, extra = APP[learner]
    cmd = [sys.executable, "-m", "mmrl_desktop", "bench", "--data", folder, "--json"]
    cmd += ["--feedback", ",".join(map(str, points)), "--seed", str(seed)]
    cmd += ["--holdout", str(holdout), "--device", "cpu", *extra]
    if pretrained:
        cmd += ["--encoder", f"image={encoder}"]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    row = {"set": name, "learner": learner, "seed": seed, "command": " ".join(cmd[2:])}
    row["wall_seconds"] = round(time.perf_counter() - t0, 2)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        return {**row, "error": " ".join(tail), "curve": []}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {**out, **row}


def run_probe(name: str, folder: str, seed: int, points, holdout: float, encoder):
    from benchmarks.pretrained_encoder import probe

    t0 = time.perf_counter()
    out = probe.run_probe(Path(encoder), Path(folder), seed, points, holdout)
    return {**out, "set": name, "wall_seconds": round(time.perf_counter() - t0, 2)}


def _save(results: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(out)


def _parse(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/pretrained_encoder.json")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-2"))
    ap.add_argument("--points", default="100,300,1000")
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--learners", default=",".join(report.LEARNERS))
    ap.add_argument("--encoder", type=Path, default=None,
                    help="an image encoder folder instead of the one pretrain.py makes")  # fmt: skip
    ap.add_argument("--cache", type=Path, default=None, help="where the data sets are made")
    ap.add_argument("--resume", action="store_true", help="keep --out's runs, do the missing ones")
    ap.add_argument("--merge", default="", help="comma-separated results files whose runs to add")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args(argv)
    args.points = sorted(int(p) for p in args.points.split(","))
    args.names = [s for s in args.sets.split(",") if s]
    args.learners = [x for x in args.learners.split(",") if x]
    bad = [s for s in args.names if s not in SETS] + [x for x in args.learners if x not in report.LEARNERS]  # fmt: skip
    if bad:
        ap.error(f"unknown set or learner: {', '.join(bad)}")
    return args


def _encoder(args, results: dict) -> str:
    """The encoder folder (made now unless cached); "" when no learner asked uses it."""
    if not set(args.learners) & {report.PRE_THUMBS, report.PRE_SUP, report.PROBE}:
        return ""
    if args.encoder is not None:
        folder, info = args.encoder, {}
    else:
        folder, info = pretrain.ensure_encoder()
    try:
        from mmrl_desktop.core.learning.pretrained import inspect_encoder

        info = {**info, "describe": inspect_encoder(folder, "image").describe()}
    except ImportError:  # an app without issue 14's core
        pass
    results["encoder"] = {**info, "folder": str(folder)}
    return str(folder)


def _merge(results: dict, old: dict) -> None:
    """Add ``old``'s runs (one per set, learner and seed: the first kept), sets and encoder."""
    merge(results, old)
    if old.get("encoder"):
        results.setdefault("encoder", old["encoder"])


def main(argv=None) -> dict:
    args = _parse(argv)
    results = {"commit": _commit(), "points": args.points, "holdout": args.holdout,
               "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "set_order": list(args.names), "sets": {}, "runs": []}  # fmt: skip
    olds = [args.out] if (args.resume or args.table_only) and args.out.is_file() else []
    for old in [*olds, *(Path(m) for m in args.merge.split(",") if m)]:
        _merge(results, json.loads(old.read_text()))
    if args.table_only:
        if args.merge:
            _save(results, args.out)
        print(report.table(results))
        return results
    encoder = _encoder(args, results)
    done = {(r["set"], r["learner"], r["seed"]) for r in results["runs"]}
    for name in args.names:
        folder, info = datasets.ensure(name, args.cache, SETS[name])
        results["sets"][name] = {**info, "folder": str(folder)}
        for seed in args.seeds:
            for learner in args.learners:
                if (name, learner, seed) in done:
                    continue
                if learner == report.PROBE:
                    row = run_probe(name, str(folder), seed, args.points, args.holdout, encoder)
                else:
                    row = run_app(name, str(folder), seed, args.points, args.holdout, learner, encoder)  # fmt: skip
                results["runs"].append(row)
                _save(results, args.out)
                what = row.get("error") or " ".join(
                    f"{c['feedback']}:{c['accuracy']:.3f}" for c in row["curve"]
                )
                print(f"{name} {learner} seed {seed}: {what} ({row['wall_seconds']} s)",
                      file=sys.stderr, flush=True)  # fmt: skip
    _save(results, args.out)
    print(report.table(results))
    return results


if __name__ == "__main__":
    main()
