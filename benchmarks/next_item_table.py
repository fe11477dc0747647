"""Which item next (issue 19): the bench under each next-item order, at one commit, as a table.

Runs ``mmrl-desktop bench --json`` (a subprocess, as a user runs it) one run at a time, seed by
seed, and rewrites the JSON file after each run (``--resume`` skips the runs already in it):

* digits, thumbs only (the default algorithm): ``--order shuffle|uncertain|diverse``, held-out
  accuracy at 100 / 300 / 600 / 1000 answers;
* the anchor, ``--algorithm supervised`` (the true label on every answer): ``uncertain`` (margin)
  and ``shuffle``;
* screening: the imbalanced digits folder (``benchmarks/imbalanced_digits.py``: 5 % ``positive``),
  ``--order likely-positive --positive positive`` and ``shuffle``: the share of the positives
  asked after 10 / 25 / 50 % of the stream.

Then prints (and writes beside the JSON, ``.md``) the Markdown table, mean ± sd over the seeds,
with the issue's goals checked: ``uncertain`` or ``diverse`` reaches shuffle's acc@1000 in ≤ 60 %
of the answers; ``likely-positive`` finds ≥ 90 % of the positives after ≤ 30 % (here: 25 %).

    git archive HEAD | tar -x -C /tmp/app && git rev-parse HEAD > /tmp/app/.commit
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/next_item_table.py --seeds 0-4 \\
        --app-root /tmp/app --out benchmarks/results/next_item.json --resume
    python benchmarks/next_item_table.py --table-only --out benchmarks/results/next_item.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean, stdev

ROOT = Path(__file__).resolve().parents[1]
POINTS = (100, 300, 600, 1000)
SCREEN_POINTS = (100, 300)  # the screening runs go on to 50 % of the stream whatever these are
# (data, algorithm, order): the order of the runs within one seed
CONFIGS = (
    ("digits", "default", "shuffle"),
    ("digits", "default", "uncertain"),
    ("digits", "default", "diverse"),
    ("digits", "supervised", "uncertain"),
    ("imbalanced", "default", "likely-positive"),
    ("digits", "supervised", "shuffle"),
    ("imbalanced", "default", "shuffle"),
)
GOAL_SHARE = 0.6  # of shuffle's answers (1000) to reach its acc@1000
GOAL_FOUND = 0.9  # of the positives, by 30 % of the stream


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def bench_command(data: str, folder: str, algorithm: str, order: str, seed: int) -> list[str]:
    points = SCREEN_POINTS if data == "imbalanced" else POINTS
    cmd = ["bench", "--data", folder, "--feedback", ",".join(map(str, points))]
    cmd += ["--order", order, "--seed", str(seed), "--json"]
    if algorithm != "default":
        cmd += ["--algorithm", algorithm]
    if data == "imbalanced":
        cmd += ["--positive", "positive"]
    return cmd


def run_one(cmd: list[str], app_root: str | None) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if app_root:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [app_root, env.get("PYTHONPATH")]))
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-m", "mmrl_desktop", *cmd],
        capture_output=True,
        text=True,
        env=env,
        cwd=app_root or ROOT,
    )
    wall = round(time.perf_counter() - t0, 1)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
        return {"error": " ".join(tail), "wall_seconds": wall}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {**out, "wall_seconds": wall}


def _commit(app_root: str | None) -> str:
    if app_root and (Path(app_root) / ".commit").is_file():
        return (Path(app_root) / ".commit").read_text().strip()
    res = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    return res.stdout.strip() + " (working tree)"


def _key(run: dict) -> tuple:
    return run["set"], run["learner"], run["order_asked"], run["seed_asked"]


def run_all(args) -> dict:
    out = Path(args.out)
    results = json.loads(out.read_text()) if args.resume and out.is_file() else {}
    results.setdefault("commit", _commit(args.app_root))
    results.setdefault("runs", [])
    done = {_key(r) for r in results["runs"] if "error" not in r}
    results["runs"] = [r for r in results["runs"] if "error" not in r]
    folders = {"digits": "digits", "imbalanced": str(_imbalanced(Path(args.cache)))}
    for seed in args.seeds:
        for data, algorithm, order in CONFIGS:
            if algorithm not in args.learners or (data, algorithm, order, seed) in done:
                continue
            cmd = bench_command(data, folders[data], algorithm, order, seed)
            print(f"[{time.strftime('%H:%M:%S')}] mmrl-desktop {' '.join(cmd)}", flush=True)
            run = run_one(cmd, args.app_root)
            run.update(set=data, learner=algorithm, order_asked=order, seed_asked=seed)
            run["command"] = "mmrl-desktop " + " ".join(cmd)
            results["runs"].append(run)
            out.write_text(json.dumps(results, indent=1) + "\n")
            print(f"  {run.get('wall_seconds')} s {run.get('error') or ''}", flush=True)
    return results


def _imbalanced(cache: Path) -> Path:
    folder = cache / "imbalanced"
    if not (folder / "positive").is_dir():
        sys.path.insert(0, str(ROOT))
        from benchmarks.imbalanced_digits import write_imbalanced

        write_imbalanced(folder)
    return folder


def _ms(values: list[float]) -> str:
    if not values:
        return "–"
    sd = stdev(values) if len(values) > 1 else 0.0
    return f"{mean(values):.3f} ± {sd:.3f}"


def _group(runs: list[dict]) -> dict[tuple, list[dict]]:
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        if "error" not in r:
            groups.setdefault((r["set"], r["learner"], r["order_asked"]), []).append(r)
    return groups


def _acc(run: dict, point: int) -> float | None:
    return next((c["accuracy"] for c in run["curve"] if c["feedback"] == point), None)


def table(results: dict) -> str:
    groups = _group(results["runs"])
    lines = [f"Commit {results['commit']}; mean ± sd over the seeds (n).", ""]
    lines += ["| set | algorithm | order | n | " + " | ".join(f"acc@{p}" for p in POINTS) + " |"]
    lines += ["|---" * (4 + len(POINTS)) + "|"]
    for (data, algorithm, order), runs in groups.items():
        if data != "digits":
            continue
        cells = [_ms([a for r in runs if (a := _acc(r, p)) is not None]) for p in POINTS]
        lines.append(
            f"| {data} | {algorithm} | {order} | {len(runs)} | " + " | ".join(cells) + " |"
        )
    lines += ["", *_digits_goal(groups), ""]
    lines += ["| set | order | n | found@10 % | found@25 % | found@50 % |", "|---" * 6 + "|"]
    for (data, _algorithm, order), runs in groups.items():
        if data != "imbalanced":
            continue
        cells = []
        for frac in (0.1, 0.25, 0.5):
            vals = [
                f["found"]
                for r in runs
                for f in r.get("positives_found", [])
                if abs(f["fraction"] - frac) < 1e-9
            ]
            cells.append(_ms(vals))
        lines.append(f"| {data} | {order} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += ["", *_screen_goal(groups)]
    return "\n".join(lines) + "\n"


def _digits_goal(groups) -> list[str]:
    """Per seed: the first point where an active order reaches that seed's shuffle acc@1000."""
    shuffle = {
        r["seed_asked"]: _acc(r, 1000) for r in groups.get(("digits", "default", "shuffle"), [])
    }
    out = []
    for order in ("uncertain", "diverse"):
        reached = []
        for r in groups.get(("digits", "default", order), []):
            target = shuffle.get(r["seed_asked"])
            if target is None:
                continue
            first = next((p for p in POINTS if (_acc(r, p) or 0) >= target), None)
            reached.append((r["seed_asked"], first))
        if reached:
            ok = sum(1 for _, p in reached if p is not None and p <= GOAL_SHARE * 1000)
            each = ", ".join(f"seed {s}: {p if p else '>1000'}" for s, p in sorted(reached))
            out.append(
                f"- `{order}` reaches the seed's shuffle acc@1000 by {int(GOAL_SHARE * 1000)} "
                f"answers at {ok} of {len(reached)} seeds ({each})."
            )
    return out


def _screen_goal(groups) -> list[str]:
    runs = groups.get(("imbalanced", "default", "likely-positive"), [])
    vals = [f["found"] for r in runs for f in r.get("positives_found", []) if f["fraction"] == 0.25]
    if not vals:
        return []
    ok = sum(v >= GOAL_FOUND for v in vals)
    return [
        f"- `likely-positive` finds ≥ 90 % of the positives by 25 % at {ok} of {len(vals)} seeds."
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/next_item.json"))
    ap.add_argument("--seeds", type=parse_seeds, default=parse_seeds("0-4"))
    ap.add_argument("--app-root", default=None, help="a checkout whose mmrl_desktop is run")
    ap.add_argument("--cache", default="/tmp/mmrl-next-item", help="where the imbalanced set goes")
    ap.add_argument("--resume", action="store_true", help="skip the runs already in --out")
    ap.add_argument("--table-only", action="store_true", help="only print the table of --out")
    ap.add_argument(
        "--learners",
        type=lambda t: t.split(","),
        default=["default", "supervised"],
        help="run only these learners' rows (default,supervised)",
    )
    args = ap.parse_args(argv)
    if args.table_only:
        results = json.loads(Path(args.out).read_text())
    else:
        results = run_all(args)
    text = table(results)
    Path(args.out).with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
