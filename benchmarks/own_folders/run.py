"""Run the own-folder suite: make the sets once (cache), run the anchors and the app's bench
(``--algorithm supervised`` and the default, thumbs only) on each, keep every run in a JSON file
(rewritten after each run, so a stopped run resumes with ``--resume``), print the Markdown table.

    nice -n 10 python -m benchmarks.own_folders.run --sets shapes,glyphs,textures,words,texts,digits \
        --seeds 0-4 --points 30,60,150,300 --out benchmarks/results/own_folders.json --jobs 1

``--order uncertain`` (issue 19) runs the app's bench with that next-item order (the anchors are
the same under every order): keep each order's runs in their own ``--out`` file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from benchmarks.own_folders import datasets, report
from benchmarks.own_folders.sound import NoEspeak

ROOT = Path(__file__).resolve().parents[2]
APP_ALGORITHMS = {report.APP_SUPERVISED: ("--algorithm", "supervised"), report.APP_DEFAULT: ()}


def parse_seeds(text: str) -> list[int]:
    """'0-4' → [0..4]; '0,2,5' → [0, 2, 5]."""
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def _quiet_cpu() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def run_anchors(name: str, folder: str, seed: int, points: list[int], holdout: float) -> list[dict]:
    """Every anchor of set ``name`` for one seed, on the app's split of that seed."""
    from benchmarks.own_folders import anchors, protocol

    _quiet_cpu()
    ds = datasets.SETS[name]
    entries = protocol.folder_items(Path(folder), ds.modality)
    stream, test = protocol.stratified_split([e.label for e in entries], holdout, seed)
    out = []
    for learner, (loader, fit) in anchors.anchors_for(
        ds.modality, ds.orientation_free, ds.cnn_size
    ).items():
        r = anchors.run_anchor(learner, loader, fit, entries, stream, test, points, seed)
        out.append({"set": name, **r, "test_items": len(test), "stream_items": len(stream)})
    return out


def run_app(name, folder, seed, points, holdout, learner, app_root=None, order="shuffle"):
    """One ``mmrl-desktop bench --json`` run (a subprocess, as a user runs it); ``app_root``: a
    checkout whose ``mmrl_desktop`` is run instead of the installed one (``--app-root``);
    ``order``: the next-item order (``--order``)."""
    cmd = [sys.executable, "-m", "mmrl_desktop", "bench", "--data", folder, "--json"]
    cmd += ["--order", order] if order != "shuffle" else []
    cmd += ["--feedback", ",".join(map(str, points)), "--seed", str(seed)]
    cmd += ["--holdout", str(holdout), *APP_ALGORITHMS[learner], *datasets.SETS[name].bench_args]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if app_root:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [app_root, env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=app_root or ROOT)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        return [
            {"set": name, "learner": learner, "seed": seed, "error": " ".join(tail), "curve": []}
        ]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    out.update(
        set=name, learner=learner, seed=seed, command=" ".join(cmd[1:]),
        wall_seconds=round(time.perf_counter() - t0, 2),
    )  # fmt: skip
    return [out]


def _commit(app_root: str | None = None) -> str:
    """The app's commit: ``app_root``'s ``.commit`` file (an exported tree), or the working
    tree's HEAD, marked when ``mmrl_desktop/`` has uncommitted changes."""
    if app_root:
        stamp = Path(app_root) / ".commit"
        return stamp.read_text().strip()[:12] if stamp.is_file() else f"tree at {app_root}"
    try:
        res = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "mmrl_desktop"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout.strip()
        return res.stdout.strip() + ("+uncommitted mmrl_desktop changes" if dirty else "")
    except OSError:
        return "unknown"


def _jobs(args, folders: dict[str, str], done: set) -> list[tuple]:
    jobs = []
    for name, folder in folders.items():
        for seed in args.seeds:
            if "anchors" in args.learners and (name, "anchors", seed) not in done:
                jobs.append((run_anchors, name, folder, seed, args.points, args.holdout))
            for learner in APP_ALGORITHMS:
                key = "supervised" if learner == report.APP_SUPERVISED else "default"
                if key in args.learners and (name, learner, seed) not in done:
                    jobs.append(
                        (
                            run_app,
                            name,
                            folder,
                            seed,
                            args.points,
                            args.holdout,
                            learner,
                            args.app_root,
                            args.order,
                        )
                    )
    return jobs


def make_sets(names: list[str], cache: Path | None, results: dict) -> dict[str, str]:
    folders = {}
    for name in names:
        try:
            folder, info = datasets.ensure(name, cache)
        except NoEspeak as exc:
            print(exc, file=sys.stderr)
            results["skipped"][name] = str(exc)
            continue
        results["sets"][name] = {**info, "folder": str(folder)}
        folders[name] = str(folder)
        print(f"{name}: {info}", file=sys.stderr)
    return folders


def _save(results: dict, out: Path) -> None:
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    tmp.replace(out)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(datasets.SETS))
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-4"))
    ap.add_argument("--points", default="30,60,150,300")
    ap.add_argument("--holdout", type=float, default=0.3)
    ap.add_argument("--learners", default="anchors,supervised,default")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/own_folders.json")
    ap.add_argument("--cache", type=Path, default=None, help="where the sets are made")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument(
        "--app-root",
        help="run the app from this checkout (e.g. `git archive HEAD | tar -x -C DIR`, with the "
        "commit in DIR/.commit) instead of the installed one, so others' uncommitted edits stay out",
    )
    ap.add_argument(
        "--order",
        default="shuffle",
        choices=("shuffle", "uncertain", "diverse"),
        help="the app's next-item order (bench --order; issue 19)",
    )
    ap.add_argument("--resume", action="store_true", help="keep --out's runs, do the missing ones")
    ap.add_argument("--merge", default="", help="comma-separated results files to add to --out")
    ap.add_argument("--table-only", action="store_true", help="print --out's table, run nothing")
    args = ap.parse_args(argv)
    args.points = sorted(int(p) for p in args.points.split(","))
    args.learners = set(args.learners.split(","))
    args.names = [s for s in args.sets.split(",") if s]
    unknown = [s for s in args.names if s not in datasets.SETS]
    if unknown:
        ap.error(f"unknown set(s) {', '.join(unknown)}; known: {', '.join(datasets.SETS)}")
    return args


def merge(results: dict, old: dict) -> dict:
    """``old``'s runs, sets and commit folded into ``results`` (a run of the same set, learner
    and seed is kept once, the first one)."""
    have = {(r["set"], r["learner"], r["seed"]) for r in results["runs"]}
    for r in old.get("runs", []):
        if not r.get("error") and (r["set"], r["learner"], r["seed"]) not in have:
            results["runs"].append(r)
            have.add((r["set"], r["learner"], r["seed"]))
    for name, info in old.get("sets", {}).items():
        results["sets"].setdefault(name, info)
    for name in old.get("set_order", []):
        if name not in results["set_order"]:
            results["set_order"].append(name)
    results["commits_merged"] = sorted({old.get("commit", "?"), *results.get("commits_merged", [])})
    return results


def _start(args) -> dict:
    results = {"commit": _commit(args.app_root), "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "points": args.points, "holdout": args.holdout, "set_order": list(args.names),
               "sets": {}, "skipped": {}, "runs": [], "order": args.order}  # fmt: skip
    if (args.resume or args.table_only) and args.out.is_file():
        results = merge(results, json.loads(args.out.read_text()))
    for extra in filter(None, args.merge.split(",")):
        results = merge(results, json.loads(Path(extra).read_text()))
    return results


def _run_jobs(jobs: list[tuple], results: dict, out: Path, workers: int) -> None:
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        futs = {pool.submit(*job): job for job in jobs}
        for k, fut in enumerate(as_completed(futs), 1):
            rows = fut.result()
            results["runs"] += rows
            results["wall_seconds"] = round(time.perf_counter() - t0, 1)
            _save(results, out)
            for r in rows:
                what = r.get("error") or " ".join(
                    f"{c['feedback']}:{c['accuracy']:.2f}" for c in r["curve"]
                )
                print(
                    f"[{k}/{len(jobs)}] {r['set']} {r['learner']} seed {r['seed']}: {what}",
                    file=sys.stderr,
                )


def main(argv: list[str] | None = None) -> dict:
    args = _parse(argv)
    results = _start(args)
    if not args.table_only:
        done = {(r["set"], "anchors" if r["learner"] not in report.APP_LEARNERS else r["learner"], r["seed"])
                for r in results["runs"]}  # fmt: skip
        folders = make_sets(args.names, args.cache, results)
        _run_jobs(_jobs(args, folders, done), results, args.out, args.jobs)
        _save(results, args.out)
    elif args.merge:
        _save(results, args.out)
    print(report.table(results))
    return results


if __name__ == "__main__":
    main()
