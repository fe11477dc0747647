"""Thumbs on drafted text (issue 16): the held-out thumbs-up rate before and after 100/300/1000
answers, thumbs-only KTO vs supervised-on-edits vs no training, over seeds, on the app's
``bench --task generate`` protocol (``mmrl_desktop/core/tools/bench_generate.py``).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.generate.run --data texts --seeds 0-2 \\
        --out benchmarks/results/generate_texts.json

``--data texts`` writes the own-folder suite's help-desk requests (5 classes, 300 each:
``benchmarks/own_folders/texts.py``) to a temporary folder; ``digits`` and a SOURCE folder work
too. Each seed makes its own base model once (``make_bench_lm``: a tiny LM warm-started on
unlabelled items and 2 labelled items per class) and every arm starts from it. The JSON keeps
every run (rewritten after each); the table is the mean ± sd over seeds; the goal line says
whether KTO moved at least halfway from the start to the supervised run at the last point. With
``--out X.json`` the tables (also per seed, greedy, and the share of drafts naming several
labels) are written to ``X.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from benchmarks.own_folders.run import parse_seeds
from mmrl_desktop.core.tools.bench_generate import (
    ARMS,
    load_items,
    make_bench_lm,
    run_generate_bench,
    split_items,
)


def _data(name: str, tmp: Path) -> str:
    if name == "texts":
        from benchmarks.own_folders.texts import write_texts

        write_texts(tmp / "texts", per_class=300, seed=0)
        return str(tmp / "texts")
    return name


def table(runs: list[dict], key: str = "heldout_thumbs_up") -> str:
    """Markdown: one row per arm, one column per point, mean ± sd over seeds."""
    arms = [a for a in ARMS if any(r["arm"] == a for r in runs)]
    points = sorted({row["feedback"] for r in runs for row in r["curve"]})
    lines = ["| arm | " + " | ".join(f"@{p}" for p in points) + " | seeds |"]
    lines.append("|---" * (len(points) + 2) + "|")
    for arm in arms:
        rs = [r for r in runs if r["arm"] == arm]
        cells = []
        for p in points:
            v = [row[key] for r in rs for row in r["curve"] if row["feedback"] == p and key in row]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{statistics.mean(v):.3f} ± {sd:.3f}" if v else "–")
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {len(rs)} |")
    return "\n".join(lines)


def per_seed(runs: list[dict], key: str = "heldout_thumbs_up") -> str:
    """Markdown: one row per seed and arm, one column per point."""
    points = sorted({row["feedback"] for r in runs for row in r["curve"]})
    lines = ["| seed | arm | " + " | ".join(f"@{p}" for p in points) + " |"]
    lines.append("|---" * (len(points) + 2) + "|")
    for r in sorted(runs, key=lambda r: (r["seed"], ARMS.index(r["arm"]))):
        by = {row["feedback"]: row.get(key) for row in r["curve"]}
        cells = [f"{by[p]:.3f}" if by.get(p) is not None else "–" for p in points]
        lines.append(f"| {r['seed']} | {r['arm']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goal(runs: list[dict]) -> str:
    """KTO's gain from the start over the supervised run's, at the last point, per seed."""
    out = []
    for seed in sorted({r["seed"] for r in runs}):
        by = {r["arm"]: r for r in runs if r["seed"] == seed}
        if "kto" not in by or "sft" not in by:
            continue
        start = by["kto"]["curve"][0]["heldout_thumbs_up"]
        kto, sft = by["kto"]["curve"][-1], by["sft"]["curve"][-1]
        gain = (kto["heldout_thumbs_up"] - start) / max(1e-9, sft["heldout_thumbs_up"] - start)
        out.append(f"seed {seed}: start {start:.3f}, kto {kto['heldout_thumbs_up']:.3f}, "
                   f"sft {sft['heldout_thumbs_up']:.3f} @{kto['feedback']}: "
                   f"{gain:.0%} of the way ({'met' if gain >= 0.5 else 'NOT met'})")  # fmt: skip
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="texts", help="texts, digits or a SOURCE folder")
    ap.add_argument("--lm", default=None, help="a model folder instead of the bench's own")
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--arms", default="kto,sft,none")
    ap.add_argument("--feedback", default="100,300,1000")
    ap.add_argument("--corrections", type=float, default=1.0)
    ap.add_argument("--settings", default="{}", help="JSON: overrides of bench_generate.DEFAULTS")
    ap.add_argument("--out", default=None, help="JSON file of every run")
    args = ap.parse_args(argv)
    points = [int(p) for p in args.feedback.split(",")]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="mmrl-gen-bench-") as tmp:
        data = _data(args.data, Path(tmp))
        items = load_items(data)
        for seed in parse_seeds(args.seeds):
            base = None
            if not args.lm:
                base = Path(tmp) / f"base-{seed}"
                make_bench_lm(base, items, split_items(items, 0.3, seed)[0], seed)
            for arm in args.arms.split(","):
                r = run_generate_bench(
                    data, args.lm, arm, points, args.corrections, seed=seed,
                    settings=json.loads(args.settings), base_cache=base,
                    progress=lambda row, a=arm, s=seed: print(f"{a} seed {s}: {row}", flush=True),
                )  # fmt: skip
                r["data"] = args.data
                runs.append(r)
                if args.out:
                    Path(args.out).write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    text = report(runs, args)
    print(text)
    if args.out:
        Path(args.out).with_suffix(".md").write_text(text, encoding="utf-8")
    return 0


def report(runs: list[dict], args) -> str:
    """The tables (sampled, greedy, drafts naming several labels), the goal per seed and the
    runs' settings, as markdown."""
    keys = runs[0]["settings"] if runs else {}
    return "\n".join(
        [
            f"# bench --task generate: {args.data}, seeds {args.seeds}",
            "",
            "Held-out thumbs-up rate (one draft per item, sampled at the loop's temperature):",
            "",
            table(runs),
            "",
            "Per seed:",
            "",
            per_seed(runs),
            "",
            "Greedy (temperature 0):",
            "",
            table(runs, "heldout_greedy"),
            "",
            "Share of held-out drafts naming two class words or more (a hedge):",
            "",
            table(runs, "heldout_several_labels"),
            "",
            "Goal (KTO at least halfway from the start to the supervised run):",
            "",
            *[f"- {line}" for line in goal(runs).splitlines()],
            "",
            f"Settings: `{json.dumps(keys)}`",
            "",
        ]
    )


if __name__ == "__main__":
    sys.exit(main())
