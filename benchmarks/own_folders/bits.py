"""How much a thumb can tell: issue 17's second goal (thumbs only ≥ .9 × `supervised` at the
largest point) against the information the thumbs-only answers hold.

A thumb answers one yes/no question, so n answers whose 👍 share is u hold at most
n·H(u) bits, H the binary entropy (by the chain rule and Jensen's inequality the answers' joint
entropy is at most the sum of their marginal entropies, and that sum at most n·H of their mean
share; here summed over the stretches between the run's points, from its cumulative 👍 rates).
A true label of K classes holds at most log₂ K bits. So n thumbs hold at most what
n·H(u) / log₂ K true labels hold: the table gives that *equal-information* number of answers and
the accuracy `supervised` reaches there, read off its curve of the same seed (linear between its
points; ``< first`` when it falls before the first point). It is a yardstick, not a bound on any
learner: a label the model already predicts holds less than log₂ K bits, and a learner can draw
more from a bit than another does — but a thumbs-only learner at ``supervised``'s accuracy of n
answers draws that much more from each bit than the supervised learner does from its labels.

A second yardstick, from below: every 👍 names its item's true label, so n answers whose 👍
share is u include u·n true labels. The table's last columns give that number and the accuracy
`supervised` reaches with as many answers (its curve, as above). A thumbs-only learner below
it draws less from its answers than `supervised` would from their 👍 alone — with the caveat
that the 👍'd items are the ones the learner already got right, not a random draw of the pool.

    python -m benchmarks.own_folders.bits --results RUNS.jsonl[,MORE.jsonl] [--out TABLE.md]

The 👍 share since the previous point is how often the label the learner *showed* was right
there (ε's uniform picks included): beside the held-out accuracy of its network it says whether
the learner acts on what its network knows.

``RUNS``: ``setting_runs.py`` rows without settings that record their points and 👍 rates
(``points``, ``ups``; since the nineteenth session), thumbs only (``default``) and
``supervised`` of the same sets and seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
from pathlib import Path

from benchmarks.own_folders import datasets


def binary_entropy(p: float) -> float:
    """H(p) in bits; 0 at p = 0 or 1."""
    if p <= 0.0 or p >= 1.0:
        return 0.0
    return -(p * math.log2(p) + (1 - p) * math.log2(1 - p))


def answer_bits(points: list[int], ups: list[float], upto: int) -> float:
    """At most how many bits the first ``upto`` thumbs hold, from the cumulative 👍 rates
    ``ups`` at ``points``: Σ over the stretches between points of length × H(the stretch's 👍
    share)."""
    bits, done, ups_done = 0.0, 0, 0.0
    for p, rate in zip(points, ups, strict=True):
        if p > upto:
            break
        n = p - done
        share = (rate * p - ups_done) / n if n else 0.0
        bits += n * binary_entropy(min(1.0, max(0.0, share)))
        done, ups_done = p, rate * p
    return bits


def accuracy_at(points: list[int], acc: list[float], m: float) -> float | None:
    """The curve's accuracy at ``m`` answers, linear between its points; None before the first
    point, the last accuracy past the last."""
    if m < points[0]:
        return None
    for i in range(len(points) - 1):
        p0, p1 = points[i], points[i + 1]
        if p0 <= m <= p1:
            return acc[i] + (acc[i + 1] - acc[i]) * (m - p0) / (p1 - p0)
    return acc[-1]


def rows_by_key(paths: list[str]) -> dict[tuple[str, int, str], dict]:
    """{(set, seed, algorithm): row} of the plain rows (no settings) that record points."""
    out = {}
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            r = json.loads(line) if line.strip() else None
            if r and not r.get("settings") and not r.get("model") and "points" in r:
                out[(r["set"], r["seed"], r["algorithm"])] = r
    return out


def per_seed(rows: dict, point: int, classes: dict[str, int]) -> list[dict]:
    """One record per (set, seed) with a thumbs-only and a ``supervised`` run reaching
    ``point``."""
    out = []
    for (name, seed, alg), t in sorted(rows.items()):
        s = rows.get((name, seed, "supervised"))
        if alg != "default" or s is None or point not in t["points"] or point not in s["points"]:
            continue
        bits = answer_bits(t["points"], t["ups"], point)
        i = t["points"].index(point)
        before, n0 = (t["ups"][i - 1], t["points"][i - 1]) if i else (0.0, 0)
        last = (t["ups"][i] * point - before * n0) / (point - n0)  # 👍 share since the last point
        m = bits / math.log2(classes[name])
        n_up = t["ups"][i] * point  # the 👍 so far: true labels
        out.append({
            "set": name, "seed": seed,
            "thumbs": t["acc"][i],
            "supervised": s["acc"][s["points"].index(point)],
            "up": t["ups"][i], "last": last, "since": n0,
            "bits": bits, "m": m,
            "sup_at_m": accuracy_at(s["points"], s["acc"], m),
            "n_up": n_up, "sup_at_up": accuracy_at(s["points"], s["acc"], n_up),
            "first": s["points"][0], "sup_first": s["acc"][0],
        })  # fmt: skip
    return out


def table(records: list[dict], point: int) -> str:
    """Markdown, one row per set: means over its seeds."""
    since = records[0]["since"] if records else 0
    head = (f"| set (seeds) | thumbs @{point} | `supervised` @{point} | ratio | 👍 share | "
            f"👍 share {since + 1}–{point} | bits ≤ | equal-information answers | "
            f"`supervised` there | thumbs − that | 👍 answers | `supervised` there | "
            f"thumbs − that |")  # fmt: skip
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name in dict.fromkeys(r["set"] for r in records):
        rs = [r for r in records if r["set"] == name]

        def mean(k: str, rs: list[dict] = rs) -> float:
            return statistics.fmean(r[k] for r in rs)

        def there(key: str, rs: list[dict] = rs) -> str:
            """``supervised`` at each seed's number of answers under ``key``, and thumbs − it."""
            at = [r[key] for r in rs]
            if all(v is not None for v in at):
                sup = statistics.fmean(at)
                return f"{sup:.3f} | {mean('thumbs') - sup:+.3f}"
            return f"< {rs[0]['first']} answers (`supervised` {mean('sup_first'):.3f} there) | —"

        seeds = ",".join(str(r["seed"]) for r in rs)
        lines.append(
            f"| {name} ({seeds}) | {mean('thumbs'):.3f} | {mean('supervised'):.3f} | "
            f"{mean('thumbs') / mean('supervised'):.2f} | {mean('up'):.3f} | {mean('last'):.3f} | "
            f"{mean('bits'):.0f} | "
            f"{mean('m'):.0f} | {there('sup_at_m')} | {mean('n_up'):.0f} | {there('sup_at_up')} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="setting_runs .jsonl files, comma-separated")
    ap.add_argument("--points", default="60,300", help="the thumbs runs' points to tabulate")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown here")
    args = ap.parse_args(argv)
    rows = rows_by_key(args.results.split(","))
    classes = {n: int(datasets.ensure(n)[1]["classes"]) for n in {k[0] for k in rows}}
    parts = [table(per_seed(rows, int(p), classes), int(p)) for p in args.points.split(",")]
    text = "\n\n".join(parts)
    print(text)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
