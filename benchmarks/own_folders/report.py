"""The suite's Markdown table (per set × learner, mean ± sd of held-out accuracy at each point)
and the issue's goal checks, from the raw results JSON."""

from __future__ import annotations

import statistics
from collections import defaultdict

APP_SUPERVISED = "app-supervised"
APP_DEFAULT = "app-default (thumbs)"
APP_LEARNERS = (APP_SUPERVISED, APP_DEFAULT)


def curves(runs: list[dict]) -> dict:
    """{set: {learner: {point: [accuracy per seed]}}}"""
    out: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    for r in runs:
        for row in r["curve"]:
            out[r["set"]][r["learner"]][row["feedback"]].append(row["accuracy"])
    return out


def mean_sd(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def best_anchor(by_learner: dict) -> str | None:
    """The anchor with the highest accuracy averaged over its points' seed means."""
    anchors = {k: v for k, v in by_learner.items() if k not in APP_LEARNERS}
    if not anchors:
        return None
    return max(anchors, key=lambda k: statistics.fmean(mean_sd(v)[0] for v in anchors[k].values()))


def goals(by_learner: dict, points: list[int]) -> list[str]:
    """The issue's goals for one set, each a line ending in 'yes' or 'NO' (means over seeds)."""
    lines = []
    sup = by_learner.get(APP_SUPERVISED)
    thumbs = by_learner.get(APP_DEFAULT)
    anchor = best_anchor(by_learner)
    if sup and anchor:
        a = by_learner[anchor]
        worse = [p for p in points if p in sup and p in a and mean_sd(sup[p])[0] < mean_sd(a[p])[0]]
        ok = "yes" if not worse else "NO (below at " + ", ".join(map(str, worse)) + ")"
        lines.append(f"supervised ≥ anchor ({anchor}) at every point: {ok}")
    if sup and thumbs:
        for p, f in ((max(points), 0.9), (60, 0.8)):
            if p in sup and p in thumbs:
                s, t = mean_sd(sup[p])[0], mean_sd(thumbs[p])[0]
                ok = "yes" if t >= f * s else "NO"
                lines.append(f"thumbs ≥ {f}× supervised at {p}: {t:.2f} vs {f * s:.2f}: {ok}")
    return lines


def table(results: dict) -> str:
    """Markdown: one table per set, then its goal lines."""
    runs = results["runs"]
    by_set = curves(runs)
    points = sorted({row["feedback"] for r in runs for row in r["curve"]})
    out = []
    for name in results.get("set_order") or sorted(by_set):
        if name not in by_set:
            continue
        info = results.get("sets", {}).get(name, {})
        seeds = sorted({r["seed"] for r in runs if r["set"] == name})
        out.append(
            f"### {name} ({info.get('classes', '?')} classes, {info.get('items', '?')} items, "
            f"chance {1 / info['classes']:.2f}; seeds {','.join(map(str, seeds))})\n"
            if info.get("classes")
            else f"### {name}\n"
        )
        out.append("| learner | " + " | ".join(f"acc@{p}" for p in points) + " | s/run |")
        out.append("|---|" + "---|" * (len(points) + 1))
        anchor = best_anchor(by_set[name])
        for learner, by_point in sorted(by_set[name].items(), key=lambda kv: _order(kv[0])):
            cells = []
            for p in points:
                if p in by_point:
                    m, s = mean_sd(by_point[p])
                    cells.append(f"{m:.2f} ± {s:.2f}")
                else:
                    cells.append("–")
            secs = [r["seconds"] for r in runs if r["set"] == name and r["learner"] == learner]
            tag = " (the anchor)" if learner == anchor else ""
            out.append(
                f"| {learner}{tag} | " + " | ".join(cells) + f" | {statistics.fmean(secs):.0f} |"
            )
        out.append("")
        out += [f"- {line}" for line in goals(by_set[name], points)]
        out.append("")
    return "\n".join(out)


def _order(learner: str) -> tuple:
    return (0 if learner == APP_SUPERVISED else 1 if learner == APP_DEFAULT else 2, learner)
