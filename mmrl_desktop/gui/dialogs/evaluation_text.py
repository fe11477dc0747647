"""The Evaluation view's texts: table cells, notes and the line naming the models, as pure
functions of ``evaluate_project``'s JSON-ready result (the dialog is ``evaluation.py``)."""

from __future__ import annotations

from pathlib import Path

NAMES = {"current": "Current model", "reference": "Starting model"}
SHORT = {"current": "Current", "reference": "Starting"}

OPE_ROWS = (
    ("ips", "Thumbs-up rate, IPS"),
    ("snips", "Thumbs-up rate, SNIPS"),
    ("dr", "Thumbs-up rate, DR"),
)


def ope_cell(est: dict | None, method: str) -> tuple[str, str]:
    """(cell text, tooltip) of one model's off-policy estimate: the number with its interval, or
    a short "too few" with the full sentence as tooltip."""
    if not est:
        return "—", "no logged answers"
    if method in est:
        return f"{pct(est[method]['value'])}  ({ci(est[method])})", ""
    return f"n/a (n = {est.get('n', 0)})", est.get("reason", "")


def notes_of(entry: dict, names: list[str]) -> list[str]:
    """Sentences under the table: why an off-policy figure is missing, what each ECE is on."""
    out = []
    for n in names:
        reason = entry.get("ope", {}).get(n, {}).get("reason")
        if reason:
            out.append(f"Off-policy, {NAMES.get(n, n)}: {reason}.")
    for n in names:
        note = entry.get("calibration", {}).get(n, {}).get("note")
        if note:
            out.append(f"Calibration, {NAMES.get(n, n)}: {note}.")
    return out


def describe_models(result: dict) -> str:
    """One line naming what was compared."""
    parts = []
    for m in result["models"]:
        if m["name"] == "reference":
            continue
        step = f" (step {m['step']})" if m.get("step") else ""
        stem = Path(m["source"]).stem
        if m["name"] == "current":
            parts.append(f"Current model: {stem}{step}")
        else:
            parts.append(f"checkpoint {stem}{step}")
    parts.append("the starting model")
    secs = result.get("seconds", 0.0)
    return f"{'; '.join(parts)}. 95 % confidence intervals in parentheses. ({secs:.1f} s)"


def ci(est: dict) -> str:
    lo, hi = est.get("ci_low"), est.get("ci_high")
    if lo is None or hi is None:
        return "—"
    return f"{100 * lo:.1f}–{100 * hi:.1f}"


def pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def num(x) -> str:
    return "—" if x is None else f"{x:.3f}"
