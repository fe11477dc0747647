"""Which item next on the own folders (issue 19): one table over next-item orders, from the
results files ``run.py --order O`` wrote (one file per order), with the issue's goal checked per
set and point: ``uncertain`` or ``diverse`` (thumbs only) at least as good as ``shuffle``.

    python -m benchmarks.own_folders.orders \\
        --results shuffle=benchmarks/results/own_folders_order_shuffle.json,uncertain=...,diverse=... \\
        --out benchmarks/results/own_folders_orders.md

A name ending in ``/supervised`` takes the file's ``--algorithm supervised`` runs (the anchor:
``uncertain/supervised=FILE``, the true label on each item the margin picks; ``run.py --learners
supervised --order uncertain``); a name may be any text (``uncertain, ready check=FILE``). Means ± sd over the
seeds of each row; the goal lines compare the means over the seeds both orders ran, and say how
many of those seeds the order was below shuffle at, with a paired 95 % interval of the difference.
A ``.jsonl`` file is ``order_measure_runs.py``'s lines (thumbs only, at its ``POINTS`` or a
row's own ``points``): ``NAME=FILE.jsonl`` takes them all, ``NAME@MEASURE=FILE.jsonl`` the lines
of one measure (``diverse-typical@typical=1=…``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from benchmarks.own_folders import report


def load(spec: str) -> dict[str, list[dict]]:
    """``name=file,...`` → {row name: runs}. A name ending in ``/supervised`` takes the file's
    ``--algorithm supervised`` runs, any other its thumbs-only runs; one name may list several
    files (their runs are pooled)."""
    rows: dict[str, list[dict]] = {}
    for part in filter(None, spec.split(",")):
        name, _, path = part.rpartition("=") if part.endswith(".jsonl") else part.partition("=")
        if path.endswith(".jsonl"):
            name, _, measure = name.partition("@")
            rows.setdefault(name, []).extend(measure_runs(Path(path), measure))
            continue
        sup = name.endswith("/supervised")
        want = report.APP_SUPERVISED if sup else report.APP_DEFAULT
        data = json.loads(Path(path).read_text())
        runs = [r for r in data["runs"] if r.get("learner") == want and not r.get("error")]
        for r in runs:
            r["_commit"] = data.get("commit", "?")
        rows.setdefault(name, []).extend(runs)
    return rows


def measure_runs(path: Path, measure: str = "") -> list[dict]:
    """``order_measure_runs.py``'s lines (of one ``measure``, or all) in ``run.py``'s run form."""
    from benchmarks.own_folders.order_measure_runs import POINTS

    out = []
    for line in path.read_text().splitlines():
        row = json.loads(line)
        if measure and row["measure"] != measure:
            continue
        points = row.get("points", POINTS)  # a row run at other points says which
        ups = row.get("up") or [None] * len(points)
        curve = [
            {"feedback": p, "accuracy": a, "thumbs_up_rate": u}
            for p, a, u in zip(points, row["acc"], ups, strict=True)
        ]
        out.append({"set": row["set"], "seed": row["seed"], "curve": curve,
                    "_commit": f"{path.name} ({row['measure']})"})  # fmt: skip
    return out


def _acc(run: dict, point: int) -> float | None:
    return next((c["accuracy"] for c in run["curve"] if c["feedback"] == point), None)


def _cell(vals: list[float]) -> str:
    if not vals:
        return "–"
    sd = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return f"{statistics.fmean(vals):.3f} ± {sd:.3f}"


def _by_seed(runs: list[dict], name: str) -> dict[int, dict]:
    return {r["seed"]: r for r in runs if r["set"] == name}


def paired_interval(diffs: list[float]) -> str:
    """The text "; 95 % CI lo to hi" of the mean paired difference (Student's t over the seeds), or "" for
    one seed: with four or five seeds a difference of a few hundredths is usually inside it."""
    if len(diffs) < 2:
        return ""
    from benchmarks.own_folders.paired import t_interval

    lo, hi = t_interval(diffs)
    return f"; 95 % CI {lo:+.3f} to {hi:+.3f}"


def goal_lines(rows: dict, name: str, points: list[int]) -> list[str]:
    """Per thumbs-only row other than shuffle and point: its mean over the seeds shuffle also ran
    against shuffle's."""
    base = _by_seed(rows.get("shuffle", []), name)
    out = []
    for order in rows:
        if order == "shuffle" or order.endswith("/supervised"):
            continue
        runs = _by_seed(rows[order], name)
        seeds = sorted(set(runs) & set(base))
        if not seeds:
            continue
        cells, below_any = [], False
        for p in points:
            a = [_acc(runs[s], p) for s in seeds]
            b = [_acc(base[s], p) for s in seeds]
            if None in a or None in b:
                continue
            d = statistics.fmean(a) - statistics.fmean(b)
            worse = sum(x < y for x, y in zip(a, b, strict=True))
            below_any |= d < 0
            ci = paired_interval([x - y for x, y in zip(a, b, strict=True)])
            cells.append(f"@{p} {d:+.3f} ({worse}/{len(seeds)} seeds below{ci})")
        ok = "NO" if below_any else "yes"
        seeds_txt = ",".join(map(str, seeds))
        out.append(
            f"- `{order}` ≥ shuffle at every point (seeds {seeds_txt}): {ok}; " + "; ".join(cells)
        )
    return out


def up_line(rows: dict, name: str, point: int) -> list[str]:
    """The mean share of 👍 among the first ``point`` answers (``thumbs_up_rate``) per row."""
    cells = []
    for row, rs in rows.items():
        ups = [
            c["thumbs_up_rate"]
            for r in _by_seed(rs, name).values()
            for c in r["curve"]
            if c["feedback"] == point and c.get("thumbs_up_rate") is not None
        ]
        if ups and not row.endswith("/supervised"):
            cells.append(f"{row} {statistics.fmean(ups):.3f} ({len(ups)} seeds)")
    return [f"- 👍 share of the first {point} answers, mean: " + "; ".join(cells)] if cells else []


def table(rows: dict, sets: list[str] | None = None) -> str:
    runs = [r for rs in rows.values() for r in rs]
    points = sorted({c["feedback"] for r in runs for c in r["curve"]})
    names = sets or list(dict.fromkeys(r["set"] for r in runs))
    commits = sorted({r["_commit"] for r in runs})
    out = [f"App commit(s): {', '.join(commits)}. Held-out accuracy, mean ± sd over the seeds.", ""]
    for name in names:
        out += [
            f"### {name}",
            "",
            "| order | seeds | " + " | ".join(f"acc@{p}" for p in points) + " |",
        ]
        out += ["|---" * (2 + len(points)) + "|"]
        for row, rs in rows.items():
            mine = sorted(_by_seed(rs, name).items())
            if not mine:
                continue
            seeds = ",".join(str(s) for s, _ in mine)
            cells = [_cell([v for _, r in mine if (v := _acc(r, p)) is not None]) for p in points]
            out.append(f"| {row} | {seeds} | " + " | ".join(cells) + " |")
        out += ["", *goal_lines(rows, name, points), *up_line(rows, name, points[-1]), ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="order=file,... (order/supervised=file)")
    ap.add_argument("--sets", default="", help="comma-separated, in this order (default: all)")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args(argv)
    text = table(load(args.results), [s for s in args.sets.split(",") if s] or None)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
