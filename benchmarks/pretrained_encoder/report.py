"""The Markdown table of a ``pretrained_encoder.json`` and the issue-14 goal checks:

- with the pretrained encoder, thumbs-only acc@300 ≥ .9 × supervised acc@300 (same encoder);
- with the pretrained encoder, above the scratch policy at every point (thumbs only against
  thumbs only, supervised against supervised)."""

from __future__ import annotations

import math
import statistics

PRE_THUMBS, PRE_SUP = "pretrained-thumbs", "pretrained-supervised"
SCRATCH_THUMBS, SCRATCH_SUP = "scratch-thumbs", "scratch-supervised"
PROBE = "probe-logreg"
LEARNERS = (PRE_THUMBS, PRE_SUP, SCRATCH_THUMBS, SCRATCH_SUP, PROBE)
TITLES = {
    PRE_THUMBS: "**pretrained encoder, thumbs only (default)**",
    PRE_SUP: "pretrained encoder, supervised",
    SCRATCH_THUMBS: "scratch policy, thumbs only (default)",
    SCRATCH_SUP: "scratch policy, supervised",
    PROBE: "probe: logistic regression on the encoder's embedding",
}


def curves(results: dict, name: str, learner: str) -> dict[int, list[float]]:
    """feedback → the accuracies of every seed's run of (set, learner)."""
    out: dict[int, list[float]] = {}
    for r in results["runs"]:
        if r.get("set") == name and r.get("learner") == learner and not r.get("error"):
            for c in r["curve"]:
                out.setdefault(int(c["feedback"]), []).append(float(c["accuracy"]))
    return out


def mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _cell(values: list[float]) -> str:
    if not values:
        return "—"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean(values):.3f} ± {sd:.3f}"


def _seconds(results: dict, name: str, learner: str) -> str:
    s = [r["wall_seconds"] for r in results["runs"]
         if r.get("set") == name and r.get("learner") == learner and "wall_seconds" in r]  # fmt: skip
    return f"{mean(s):.0f}" if s else "—"


def _seeds(results: dict, name: str, learner: str) -> str:
    seeds = sorted({r["seed"] for r in results["runs"]
                    if r.get("set") == name and r.get("learner") == learner and not r.get("error")})  # fmt: skip
    return ",".join(map(str, seeds))


def checks(results: dict, name: str) -> list[str]:
    points = results["points"]
    pt, ps = curves(results, name, PRE_THUMBS), curves(results, name, PRE_SUP)
    st, ss = curves(results, name, SCRATCH_THUMBS), curves(results, name, SCRATCH_SUP)
    lines = []
    if 300 in points and pt.get(300) and ps.get(300):
        a, b = mean(pt[300]), mean(ps[300])
        ok = "yes" if a >= 0.9 * b else "NO"
        lines.append(f"- pretrained thumbs ≥ .9 × pretrained supervised at 300: {a:.3f} vs "
                     f".9 × {b:.3f} = {0.9 * b:.3f}: {ok}")  # fmt: skip
    for label, pre, scr in (("thumbs only", pt, st), ("supervised", ps, ss)):
        common = [p for p in points if pre.get(p) and scr.get(p)]
        if not common:
            continue
        below = [p for p in common if mean(pre[p]) <= mean(scr[p])]
        verdict = "yes" if not below else f"NO (not above at {', '.join(map(str, below))})"
        lines.append(f"- pretrained above scratch, {label}, at every point: {verdict}")
    return lines


def table(results: dict) -> str:
    points = results["points"]
    out = []
    enc = results.get("encoder", {})
    if enc:
        out.append(f"Encoder: {enc.get('describe', '')}; pretrained on {enc.get('letters', '?')} "
                   f"(val. accuracy {enc.get('val_accuracy', '?')}).\n")  # fmt: skip
    for name in results.get("set_order", []):
        info = results.get("sets", {}).get(name, {})
        seeds = sorted({r["seed"] for r in results["runs"] if r.get("set") == name})
        out.append(f"#### {name} ({info.get('classes', '?')} classes, {info.get('items', '?')} "
                   f"items; seeds {','.join(map(str, seeds))})\n")  # fmt: skip
        out.append("| learner | " + " | ".join(f"acc@{p}" for p in points) + " | seeds | s/run |")
        out.append("|---" * (len(points) + 3) + "|")
        for learner in LEARNERS:
            c = curves(results, name, learner)
            if c:
                cells = " | ".join(_cell(c.get(p, [])) for p in points)
                n = _seeds(results, name, learner)
                out.append(
                    f"| {TITLES[learner]} | {cells} | {n} | {_seconds(results, name, learner)} |"
                )
        out.append("")
        out += checks(results, name)
        out.append("")
    return "\n".join(out)
