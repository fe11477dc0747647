"""Runs of the app's learners with chosen training settings (an experiment): ``run_bench`` in
process on the own-folder sets, one JSON line per run appended to ``--out``. The same protocol
as ``run.py`` (the set's own bench arguments, e.g. ``--orientation-free``, included).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.setting_runs \\
        --out results.jsonl --settings '{"shrink_perturb": 0.5}' shapes:0:supervised glyphs:1:default

``--settings``: the project's ``[algorithm]`` fields (``TrainConfig``) as JSON, on top of the set's;
``--model``: its ``[model]`` fields (``ModelConfig``), e.g. ``'{"image_size": 32}'``; ``--noise P``:
the simulated expert answers wrongly with probability P (``bench --noise``).
Instead of running: ``--table BASE.json`` prints the runs in ``--out`` against the same set,
learner and seed in a ``run.py`` results file (the app without the settings) or in a ``.jsonl``
of this script's runs without settings (``--out`` itself may hold both; several files, comma-
separated, are merged): means over the seeds both have, and the paired difference;
``--goals BASE.json`` prints the suite's table and goal lines with these runs as the app's rows
beside BASE's anchors of the same seeds (``--out`` may name several files, comma-separated;
``--plain`` keeps only the runs without settings). ``--corrections P``: the simulated expert gives
the right label with each 👎 with probability P (``bench --corrections``; 1: every answer is
full information, as ``supervised``'s).

The set ``bench-digits`` is ``mmrl-desktop bench --data digits`` (§1's protocol; give ``--points
100,300,1000``).
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchmarks.own_folders import datasets

POINTS = [30, 60, 150, 300]


def _plain(row: dict) -> bool:
    """A run of the app as it is: no ``--settings``, no ``--model``, no ``--noise``."""
    return not any(row.get(k) for k in ("settings", "model", "noise", "ask_again", "corrections"))


def _base_curves(path: str) -> dict:
    """{(set, learner, seed): accuracies} of a ``run.py`` results file, or of this script's own
    JSON lines run without settings (``--table`` on a ``.jsonl``: the same file may hold both)."""
    from benchmarks.own_folders import report

    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        return {(r["set"], r["algorithm"], r["seed"]): r for r in rows if _plain(r)}
    names = {report.APP_SUPERVISED: "supervised", report.APP_DEFAULT: "default"}
    with open(path, encoding="utf-8") as fh:
        runs = json.load(fh)["runs"]
    return {(r["set"], names[r["learner"]], r["seed"]): {"acc": [c["accuracy"] for c in r["curve"]],
            "points": [c["feedback"] for c in r["curve"]]}
            for r in runs if r["learner"] in names and not r.get("error")}  # fmt: skip


def at_points(row: dict, points: list[int]) -> list[float] | None:
    """``row``'s accuracies at ``points``: a row that records its own ``points`` (runs since the
    nineteenth session, which may hold more) gives those asked for; an older row, its ``acc``
    when it has one per point; None when it lacks a point."""
    have = row.get("points")
    if have is None:
        return row["acc"] if len(row["acc"]) == len(points) else None
    by = dict(zip(have, row["acc"], strict=True))
    return [by[p] for p in points] if all(p in by for p in points) else None


def table(out: str, base_path: str, points: list[int]) -> str:
    """Markdown: per set and learner, the runs' mean against the baseline's over shared seeds."""
    import statistics

    base: dict = {}
    for path in base_path.split(","):  # several files: a later one's run of the same key wins
        base.update(_base_curves(path))
    rows: dict = {}
    with open(out, encoding="utf-8") as fh:
        runs = [json.loads(line) for line in fh if line.strip()]
    for r in runs:
        key = (r["set"], r["algorithm"], r["seed"])
        if ".jsonl" in base_path and _plain(r):
            continue  # a baseline itself
        mine, theirs = at_points(r, points), key in base and at_points(base[key], points)
        if mine and theirs:
            rows.setdefault(key[:2], []).append((r["seed"], mine, theirs))
    head = " / ".join(map(str, points))
    lines = [f"| set | learner | seeds | without, {head} | with, {head} | with − without |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for (name, alg), got in sorted(rows.items()):
        seeds = ",".join(str(s) for s, _, _ in sorted(got))
        with_ = [statistics.fmean(g[1][j] for g in got) for j in range(len(points))]
        without = [statistics.fmean(g[2][j] for g in got) for j in range(len(points))]
        cells = [" / ".join(f"{v:.3f}" for v in vs) for vs in (without, with_)]
        diff = " / ".join(f"{a - b:+.3f}" for a, b in zip(with_, without, strict=True))
        lines.append(f"| {name} | {alg} | {seeds} | {cells[0]} | {cells[1]} | {diff} |")
    return "\n".join(lines)


def with_anchors(out: str, base_path: str, points: list[int], plain: bool = False) -> str:
    """``report.table`` of the runs in ``out`` (several files: comma-separated) as the app's rows
    beside ``base_path``'s anchors of the same sets and seeds: the issue's goal lines for the app
    with the settings; ``plain``: only the runs without settings (the app as it is)."""
    from benchmarks.own_folders import report

    names = {"supervised": report.APP_SUPERVISED, "default": report.APP_DEFAULT}
    with open(base_path, encoding="utf-8") as fh:
        base = json.load(fh)
    mine = []
    for path in out.split(","):
        with open(path, encoding="utf-8") as fh:
            mine += [json.loads(line) for line in fh if line.strip()]
    if plain:
        mine = [r for r in mine if _plain(r)]
    seeds = {(r["set"], r["seed"]) for r in mine}  # the anchors of the same seeds only
    runs = [r for r in base["runs"]
            if r["learner"] not in report.APP_LEARNERS and (r["set"], r["seed"]) in seeds]  # fmt: skip
    for r in mine:
        acc = at_points(r, points)
        if r["set"] in base.get("sets", {}) and acc:
            curve = [{"feedback": p, "accuracy": a} for p, a in zip(points, acc, strict=True)]
            runs.append({"set": r["set"], "learner": names[r["algorithm"]], "seed": r["seed"],
                         "curve": curve, "seconds": r["s"]})  # fmt: skip
    return report.table({**base, "runs": runs})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--settings", default="{}", help="TrainConfig fields as JSON")
    ap.add_argument("--model", default="", help="ModelConfig fields as JSON (e.g. image_size)")
    ap.add_argument("--noise", type=float, default=0.0, help="the expert's error rate")
    ap.add_argument("--corrections", type=float, default=0.0, help="bench --corrections P")
    ap.add_argument("--points", default=",".join(map(str, POINTS)))
    ap.add_argument("--ask-again", type=float, default=0.0, help="bench's ask_again threshold")
    ap.add_argument("--table", default="", help="a run.py results file: print the comparison")
    ap.add_argument("--goals", default="", help="a run.py results file: its anchors, these runs")
    ap.add_argument("--plain", action="store_true", help="--goals: only the runs without settings")
    ap.add_argument("jobs", nargs="*", help="SET:SEED:ALGORITHM (supervised or default)")
    args = ap.parse_args()
    if args.table or args.goals:
        points = [int(p) for p in args.points.split(",")]
        print(table(args.out, args.table, points) if args.table else "")
        print(with_anchors(args.out, args.goals, points, args.plain) if args.goals else "")
        return
    settings = json.loads(args.settings)
    points = [int(p) for p in args.points.split(",")]
    for job in args.jobs:
        name, seed, algorithm = job.split(":")
        extra = {"model": json.loads(args.model)} if args.model else {}
        if args.noise:
            extra["noise"] = args.noise
        if args.ask_again:
            extra["ask_again"] = args.ask_again
        if args.corrections:
            extra["corrections"] = args.corrections
        run_one(args.out, name, int(seed), algorithm, settings, points, **extra)


def run_one(out: str, name: str, seed: int, algorithm: str, settings: dict, points: list[int],
            **extra) -> dict:  # fmt: skip
    """One ``run_bench`` in process on set ``name`` with ``settings`` (and ``extra["model"]``:
    ModelConfig fields; ``extra["noise"]``: the expert's error rate); its row (plus ``extra``)
    printed and appended to ``out``."""
    import torch

    from mmrl_desktop.core.tools.bench import run_bench

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    if name == "bench-digits":
        folder, alg = "digits", {}
    else:
        folder = datasets.ensure(name)[0]
        alg = {"orientation_free": True} if datasets.SETS[name].orientation_free else {}
    alg.update(settings)
    t = time.time()
    r = run_bench(str(folder), algorithm, points, seed=seed, holdout=0.3, device="cpu",
                  algorithm_settings=alg, model_settings=extra.get("model"),
                  noise=extra.get("noise", 0.0), ask_again=extra.get("ask_again", 0.0),
                  corrections=extra.get("corrections", 0.0))  # fmt: skip
    row = {"set": name, "seed": seed, "algorithm": algorithm, "settings": settings, **extra,
           "points": [c["feedback"] for c in r["curve"]], "acc": [c["accuracy"] for c in r["curve"]],
           "ups": [c["thumbs_up_rate"] for c in r["curve"]], "s": round(time.time() - t), "asked_again": r["asked_again"]}  # fmt: skip
    if any("network_accuracy" in c for c in r["curve"]):  # the network alone, beside
        row["net"] = [c.get("network_accuracy") for c in r["curve"]]
    print(row, flush=True)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


if __name__ == "__main__":
    main()
