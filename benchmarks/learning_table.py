"""The learning-from-thumbs table of docs/benchmarks.md: every algorithm, seeds 0–4, mean ± sd.

    python benchmarks/learning_table.py --jobs 2 --out benchmarks/results/learning.jsonl
    python benchmarks/learning_table.py --table benchmarks/results/learning.jsonl

Each cell is one run of the real CLI, ``mmrl-desktop bench --data digits --feedback 100,300,1000
--seed S --json`` (plus ``--algorithm``, ``--corrections``, ``--noise``), in its own process with
one torch thread, so runs are independent and several fit on a multi-core machine. Results are
appended as JSON lines (a rerun skips the cells already present), then summarised as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROWS = [  # (label, algorithm, corrections, noise)
    ("default, thumbs only", "default", 0.0, 0.0),
    ("default, corrections 0.5", "default", 0.5, 0.0),
    ("default, noise 0.1", "default", 0.0, 0.1),
    ("supervised (upper bound)", "supervised", 0.0, 0.0),
    ("egreedy-q (the article's method)", "egreedy-q", 0.0, 0.0),
    ("reinforce (KL-regularised, baseline)", "reinforce", 0.0, 0.0),
]
POINTS = (100, 300, 1000)


def _key(algorithm: str, corrections: float, noise: float, seed: int) -> str:
    return f"{algorithm}|{corrections}|{noise}|{seed}"


def run_cell(algorithm: str, corrections: float, noise: float, seed: int, device: str) -> dict:
    cmd = [
        sys.executable, "-m", "mmrl_desktop", "bench", "--data", "digits",
        "--feedback", ",".join(map(str, POINTS)), "--seed", str(seed),
        "--algorithm", algorithm, "--corrections", str(corrections), "--noise", str(noise),
        "--device", device, "--json",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1:] or ["failed"], "cmd": cmd}
    return json.loads(out.stdout)


def run_all(out_path: Path, jobs: int, seeds: list[int], device: str, rows=ROWS) -> None:
    done = set()
    if out_path.exists():
        for line in out_path.read_text().splitlines():
            r = json.loads(line)
            if "curve" in r:
                done.add(_key(r["algorithm"], r["corrections"], r["noise"], r["seed"]))
    cells = [(a, c, n, s) for _, a, c, n in rows for s in seeds if _key(a, c, n, s) not in done]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool, open(out_path, "a") as fh:
        for result in pool.map(lambda cell: run_cell(*cell, device), cells):
            fh.write(json.dumps(result) + "\n")
            fh.flush()
            print(json.dumps({k: result.get(k) for k in ("algorithm", "seed", "curve")}))


def table(path: Path) -> str:
    results = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    results = [r for r in results if "curve" in r]
    lines = [
        "| learner | acc@100 | acc@300 | acc@1000 | thumbs-up rate @1000 | s/run | seeds |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, algorithm, corrections, noise in ROWS:
        rs = [
            r
            for r in results
            if r["algorithm"] == algorithm
            and r["corrections"] == corrections
            and r["noise"] == noise
        ]
        if not rs:
            continue
        cells = []
        for p in POINTS:
            accs = [c["accuracy"] for r in rs for c in r["curve"] if c["feedback"] == p]
            sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
            cells.append(f"{statistics.mean(accs):.3f} ± {sd:.3f}")
        ups = [c["thumbs_up_rate"] for r in rs for c in r["curve"] if c["feedback"] == POINTS[-1]]
        secs = statistics.mean(r["seconds"] for r in rs)
        seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        lines.append(
            f"| {label} | {' | '.join(cells)} | {statistics.mean(ups):.3f} | {secs:.0f} | {seeds} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/learning.jsonl"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--only", help="run only rows whose algorithm is this")
    ap.add_argument("--table", type=Path, help="print the Markdown table of a results file")
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return
    rows = [r for r in ROWS if args.only in (None, r[1])]
    seeds = [int(s) for s in args.seeds.split(",")]
    run_all(args.out, args.jobs, seeds, args.device, rows)
    print(table(args.out))


if __name__ == "__main__":
    main()
