"""Two arms of own-folder runs, paired by seed: the mean difference, how many seeds are below,
and a t interval over seeds — read from the JSON lines the run scripts append.

An arm is one or more sources ``PATH[?FIELD=VALUE&FIELD=VALUE…]``: the records of the file
whose fields equal the values (a value is read as JSON when it parses, else as text; ``null``
matches a record without that field). A record's accuracies line up with its ``points`` or, for
``order_measure_runs``' records (which have none), with that script's points. Seeds a set has in
both arms are paired; a seed two sources of one arm both hold is an error (filter them apart),
never a silent choice. Each arm's sources may come from different sessions — so a pooled
figure names exactly the runs it pools (``orders.py`` tables whole files by order; this pairs
any two filtered arms, e.g. a setting against the default of another session's runs). A source
ending in ``.json`` is ``run.py``'s results file (the anchors, ``--learners anchors``): each of
its runs is a record with its ``learner`` and the accuracies of its curve, so
``own_folders_anchors_S.json?learner=cnn`` pairs the CNN anchor with the app's runs:

    python -m benchmarks.own_folders.paired --set words --seeds 23-31 --points 150,300 \\
        --a 'benchmarks/results/own_folders_order_28.jsonl?order=diverse' \\
        --a 'benchmarks/results/own_folders_order_actrank_29.jsonl?order=diverse&measure=thumb' \\
        --b 'benchmarks/results/own_folders_cepstra_27.jsonl?settings={"options": {…}}' \\
        --b 'benchmarks/results/own_folders_order_actrank_29.jsonl?order=shuffle'
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


def _value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_source(spec: str) -> tuple[str, dict]:
    """``PATH?a=1&b=x`` → (PATH, {"a": 1, "b": "x"})."""
    path, _, query = spec.partition("?")
    filters: dict = {}
    for part in filter(None, query.split("&")):
        key, eq, text = part.partition("=")
        if not eq or not key:
            raise ValueError(f"the filter {part!r} of {spec!r} is not FIELD=VALUE")
        filters[key] = _value(text)
    return path, filters


def matches(record: dict, filters: dict) -> bool:
    return all(record.get(k) == v for k, v in filters.items())


def parse_seeds(text: str) -> list[int]:
    """``"23-25,29"`` → [23, 24, 25, 29]."""
    seeds: list[int] = []
    for part in filter(None, text.split(",")):
        lo, _, hi = part.partition("-")
        seeds.extend(range(int(lo), int(hi or lo) + 1))
    return seeds


def accuracy_at(record: dict, point: int) -> float | None:
    from benchmarks.own_folders.order_measure_runs import POINTS  # its records carry none

    points = record.get("points", POINTS)
    return record["acc"][list(points).index(point)] if point in points else None


def arm(sources: list[str], set_name: str, seeds: list[int]) -> dict[int, dict]:
    """The arm's record per seed of ``set_name`` among ``seeds``."""
    out: dict[int, dict] = {}
    where: dict[int, str] = {}
    for spec in sources:
        path, filters = parse_source(spec)
        for r in read_records(path):
            if r.get("set") != set_name or r.get("seed") not in seeds or not matches(r, filters):
                continue
            seed = r["seed"]
            if seed in out:
                raise ValueError(
                    f"{set_name} seed {seed} is in this arm twice ({where[seed]} and {spec}): "
                    "add a filter that tells them apart"
                )
            out[seed], where[seed] = r, spec
    return out


def read_records(path: str) -> list[dict]:
    """The records of a JSON-lines file, or the runs of ``run.py``'s ``.json`` results file as
    records (``points`` and ``acc`` from each run's curve)."""
    with open(path, encoding="utf-8") as f:
        if not path.endswith(".json"):
            return [json.loads(line) for line in f if line.strip()]
        runs = json.load(f).get("runs", [])
    return [
        {
            **{k: v for k, v in r.items() if k != "curve"},
            "points": [c["feedback"] for c in r.get("curve", [])],
            "acc": [c["accuracy"] for c in r.get("curve", [])],
        }
        for r in runs
    ]


def t_interval(diffs: list[float], level: float = 0.95) -> tuple[float, float]:
    """Student's t interval of the mean of paired differences over seeds (nan for one seed)."""
    if len(diffs) < 2:
        return (math.nan, math.nan)
    d = np.asarray(diffs, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    return (float(d.mean() - half), float(d.mean() + half))


@dataclass
class Paired:
    point: int
    seeds: list[int]
    a: list[float]
    b: list[float]

    @property
    def diffs(self) -> np.ndarray:
        return np.asarray(self.a) - np.asarray(self.b)

    def summary(self) -> dict:
        d = self.diffs
        lo, hi = t_interval(list(d))
        return {
            "point": self.point,
            "seeds": self.seeds,
            "mean_a": round(float(np.mean(self.a)), 4),
            "mean_b": round(float(np.mean(self.b)), 4),
            "diff": round(float(d.mean()), 4),
            "per_seed": [round(float(x), 4) for x in d],
            "below": int((d < 0).sum()),
            "t95": [round(lo, 4), round(hi, 4)],
        }


def pair(a: dict[int, dict], b: dict[int, dict], points: list[int]) -> list[Paired]:
    seeds = sorted(set(a) & set(b))
    out = []
    for p in points:
        both = [(s, accuracy_at(a[s], p), accuracy_at(b[s], p)) for s in seeds]
        both = [x for x in both if x[1] is not None and x[2] is not None]
        out.append(
            Paired(p, [s for s, _, _ in both], [x for _, x, _ in both], [y for *_, y in both])
        )
    return out


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True, help="the own-folder set, e.g. words")
    ap.add_argument("--seeds", required=True, help="e.g. 23-31 or 23-25,29")
    ap.add_argument("--points", default="150,300")
    ap.add_argument("--a", action="append", required=True, help="a source of arm A (repeatable)")
    ap.add_argument("--b", action="append", required=True, help="a source of arm B (repeatable)")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    a, b = arm(args.a, args.set, seeds), arm(args.b, args.set, seeds)
    missing = sorted(set(seeds) - (set(a) & set(b)))
    if missing:
        print(f"{args.set}: seeds {missing} are not in both arms and are left out")
    rows = []
    for paired in pair(a, b, [int(p) for p in args.points.split(",")]):
        s = paired.summary()
        rows.append(s)
        lo, hi = s["t95"]
        print(
            f"{args.set} @{s['point']}, {len(s['seeds'])} seeds: A {s['mean_a']:.3f}, "
            f"B {s['mean_b']:.3f}, A − B {s['diff']:+.3f} (below on {s['below']}; "
            f"t interval {lo:+.3f} to {hi:+.3f}); per seed "
            + ", ".join(f"{x:+.3f}" for x in s["per_seed"])
        )
    return rows


if __name__ == "__main__":
    main()
