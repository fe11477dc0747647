"""Volumes benchmark (issue 15): lesion vs normal chest-CT phantoms, thumbs-only vs supervised, 3-D
CNN vs 2.5-D slab encoder, through the app's own bench (``core.tools.bench.run_bench``: import,
the trainer, the simulated expert, the held-out accuracy).

    python -m benchmarks.volumes.run --out benchmarks/volumes/results/run.jsonl \\
        [--cases 300] [--seeds 0,1,2] [--feedback 50,100,200] [--encoders 3d-cnn,2.5d] \\
        [--algorithms default,supervised] [--size 32] [--jobs 2]
    python -m benchmarks.volumes.run --summary benchmarks/volumes/results/run.jsonl

The data set (``make_data``) is written once under ``--data`` (default
``benchmarks/volumes/data``, ignored by git): ``nodule/`` and ``normal/`` class folders, each case
a phantom (``core.data.volumes.phantom``, 64 × 64 × 32) written as a DICOM series (one file per
slice, shuffled names) or as NIfTI (``.nii.gz``), the format chosen by a coin independent of
the class, so neither format nor file names tell the classes apart. Every run is one process
(``OMP_NUM_THREADS=1``); ``--jobs`` runs that many at once. One JSON line per run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_data(root: Path, cases: int, seed: int = 0) -> Path:
    """``cases`` phantoms, half with a nodule (idempotent: a finished set is reused)."""
    from mmrl_desktop.core.data.volumes.phantom import INTERCEPT, SPACING, chest_phantom
    from mmrl_desktop.core.data.volumes.synthetic import write_nifti, write_series

    stamp = root / f".done-{cases}-{seed}"
    if stamp.exists():
        return root
    rng = np.random.default_rng(seed)
    for n in range(cases):
        nodule = n % 2 == 0
        label = "nodule" if nodule else "normal"
        stored = chest_phantom(np.random.default_rng([seed, n]), nodule)
        name = f"case{n:04d}"
        if rng.random() < 0.5:
            order = rng.permutation(stored.shape[0])
            names = [f"{int(k):08x}.dcm" for k in rng.integers(0, 2**31, stored.shape[0])]
            names = [names[int(i)] for i in order]
            write_series(root / label / name, stored, SPACING, names=names)
        else:
            write_nifti(root / label / f"{name}.nii.gz", stored + INTERCEPT, SPACING)
    stamp.write_text("ok")
    return root


def one_run(data: Path, encoder: str, algorithm: str, seed: int, feedback, size: int) -> dict:
    from mmrl_desktop.core.tools.bench import run_bench

    out = run_bench(
        str(data),
        algorithm=algorithm,
        feedback=feedback,
        holdout=0.3,
        seed=seed,
        device="cpu",
        model_settings={"volume_encoder": encoder, "volume_size": size},
        progress=lambda row: print(json.dumps(row), file=sys.stderr, flush=True),
    )
    out.update(encoder=encoder, volume_size=size)
    return out


def _child(args) -> int:
    row = one_run(
        Path(args.data), args.encoder, args.algorithm, args.seed, args.feedback_list, args.size
    )
    print(json.dumps(row))
    return 0


def _spawn(args, encoder: str, algorithm: str, seed: int) -> subprocess.Popen:
    """One run in its own process; its progress (a curve point a line) in ``<out>.<run>.log``."""
    cmd = [
        sys.executable, "-m", "benchmarks.volumes.run", "--child", "--data", args.data,
        "--encoder", encoder, "--algorithm", algorithm, "--seed", str(seed),
        "--feedback", args.feedback, "--size", str(args.size),
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    log = open(f"{args.out}.{encoder}-{algorithm}-{seed}.log", "w")  # noqa: SIM115 (the child's)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env)


def run_all(args) -> None:
    make_data(Path(args.data), args.cases)
    todo = [
        (e, a, s) for s in args.seed_list for e in args.encoder_list for a in args.algorithm_list
    ]
    running: list[tuple[subprocess.Popen, tuple]] = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    while todo or running:
        while todo and len(running) < args.jobs:
            job = todo.pop(0)
            running.append((_spawn(args, *job), job))
        time.sleep(1.0)
        for proc, job in list(running):
            if proc.poll() is None:
                continue
            running.remove((proc, job))
            text = proc.stdout.read().strip().splitlines()
            if proc.returncode != 0 or not text:
                print(f"run {job} failed (exit {proc.returncode})", file=sys.stderr)
                continue
            with out.open("a") as fh:
                fh.write(text[-1] + "\n")
            row = json.loads(text[-1])
            acc = [p["accuracy"] for p in row["curve"]]
            print(f"{job}: accuracy {acc} in {row['seconds']} s", flush=True)


def summary(path: Path) -> str:
    """Per encoder, algorithm and answers: held-out accuracy, mean ± sd over seeds (n), then each
    seed's; each run's wall time; the thumbs-only / supervised ratio at the last point, on the
    means and per seed (seeds with both arms)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    acc: dict[tuple, dict[int, float]] = {}
    secs: dict[tuple, dict[int, float]] = {}
    for r in rows:
        key = (r["encoder"], r["algorithm"])
        for p in r["curve"]:
            acc.setdefault((*key, p["feedback"]), {})[r["seed"]] = p["accuracy"]
        secs.setdefault(key, {})[r["seed"]] = r["seconds"]
    points = sorted({k[2] for k in acc})
    lines = ["Wall time per run (s), by seed:", ""]
    for (enc, algo), by_seed in sorted(secs.items()):
        runs = ", ".join(f"seed {s}: {v:.0f}" for s, v in sorted(by_seed.items()))
        lines.append(f"- {enc} {algo}: {runs}")
    lines += ["", "| encoder | algorithm | " + " | ".join(f"{p} answers" for p in points) + " |"]
    lines.append("|" + "---|" * (len(points) + 2))
    encoders = sorted({k[0] for k in acc})
    for enc in encoders:
        for algo in ("default", "supervised"):
            cells = []
            for p in points:
                v = acc.get((enc, algo, p), {})
                if not v:
                    cells.append("")
                    continue
                a = np.array(list(v.values()))
                each = ", ".join(f"s{s} {v[s]:.2f}" for s in sorted(v))
                cells.append(f"{a.mean():.3f} ± {a.std(ddof=1) if len(a) > 1 else 0:.3f} ({each})")
            if any(cells):
                lines.append(f"| {enc} | {algo} | " + " | ".join(cells) + " |")
    lines.append("\n(mean ± sd over seeds, then each seed: s3 .85 = seed 3, accuracy .85)")
    last = points[-1] if points else None
    for enc in encoders:
        thumbs = acc.get((enc, "default", last), {})
        sup = acc.get((enc, "supervised", last), {})
        both = sorted(set(thumbs) & set(sup))
        if not both:
            continue
        mt = np.mean([thumbs[s] for s in both])
        ms = np.mean([sup[s] for s in both])
        each = ", ".join(f"seed {s}: {thumbs[s] / max(sup[s], 1e-9):.3f}" for s in both)
        lines.append(
            f"\n{enc}: thumbs-only / supervised at {last} answers = {mt / max(ms, 1e-9):.3f} on "
            f"the means (goal ≥ 0.9); per seed {each}"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE / "data"))
    ap.add_argument("--cases", type=int, default=300)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--feedback", default="50,100,200")
    ap.add_argument("--encoders", default="3d-cnn,2.5d")
    ap.add_argument("--encoder", default="3d-cnn")
    ap.add_argument("--algorithms", default="default,supervised")
    ap.add_argument("--algorithm", default="default")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "results" / "run.jsonl"))
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--summary", help="print the table of a results file and stop")
    args = ap.parse_args(argv)
    args.feedback_list = [int(x) for x in args.feedback.split(",")]
    args.seed_list = [int(x) for x in args.seeds.split(",")]
    args.encoder_list = args.encoders.split(",")
    args.algorithm_list = args.algorithms.split(",")
    if args.summary:
        print(summary(Path(args.summary)))
        return 0
    if args.child:
        return _child(args)
    run_all(args)
    print(summary(Path(args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
