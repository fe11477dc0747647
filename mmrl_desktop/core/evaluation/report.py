"""``evaluate``'s text report (``format_report``): the JSON-ready result of
``core.evaluation.evaluate.evaluate_project`` as the tables ``mmrl-desktop evaluate`` prints."""

from __future__ import annotations

from mmrl_desktop.core.evaluation import prequential


def _f(x, pct: bool = False) -> str:
    if x is None:
        return "—"
    return f"{100 * x:.1f}%" if pct else f"{x:.3f}"


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        out.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def _ope_rows(ope_all: dict, names: list[str]) -> list[list[str]]:
    """The report's off-policy rows: each estimate with its interval, and the effective n."""
    rows = []
    for method, label in (
        ("ips", "thumbs-up IPS"),
        ("snips", "thumbs-up SNIPS"),
        ("dr", "thumbs-up DR"),
    ):
        if any(method in ope_all.get(n, {}) for n in names):
            cells = []
            for n in names:
                est = ope_all.get(n, {}).get(method)
                cells.append(
                    "—"
                    if est is None
                    else f"{_f(est['value'], True)} [{_f(est['ci_low'], True)}, "
                    f"{_f(est['ci_high'], True)}]"
                )
            rows.append([label, *cells])
    if any("ips" in ope_all.get(n, {}) for n in names):
        ess = [
            f"{ope_all[n]['ips']['effective_n']:.1f}" if "ips" in ope_all.get(n, {}) else "—"
            for n in names
        ]
        rows.append(["OPE effective n", *ess])
    return rows


def _per_class_lines(hold: dict, labels: list[str], names: list[str]) -> list[str]:
    """The held-out precision/recall of each label, then the first model's confusion matrix."""
    per = [["label", *[f"{n} P/R" for n in names], "support"]]
    for lab in labels:
        cells = [
            f"{_f(hold[n]['per_class'][lab]['precision'])}/"
            f"{_f(hold[n]['per_class'][lab]['recall'])}"
            for n in names
        ]
        per.append([lab, *cells, str(hold[names[0]]["per_class"][lab]["support"])])
    lines = [""] + ["  " + s for s in _table(per)]
    cm = hold[names[0]]["confusion_matrix"]
    lines += ["", f"  confusion matrix of {names[0]} (rows: true, columns: predicted)"]
    grid = [["", *labels]] + [
        [lab, *[str(v) for v in row]] for lab, row in zip(labels, cm, strict=True)
    ]
    return lines + ["  " + s for s in _table(grid)]


def format_report(result: dict) -> str:
    names = [m["name"] for m in result["models"]]
    lines = [f"Project {result['project']} — algorithm {result['algorithm']}"]
    if result.get("order_note"):  # which item next (issue 19): what the figures are about
        lines.append(f"  next item: {result.get('order', 'shuffle')}; {result['order_note']}")
    for m in result["models"]:
        extra = f", step {m['step']}" if m.get("step") else ""
        lines.append(f"  {m['name']}: {m['source']}{extra}")
    if "prequential" in result:
        lines += ["", *prequential.format_lines(result["prequential"])]
    for t, e in result["tasks"].items():
        lines += [
            "",
            f"Task {t!r}: {e['holdout_items']} held-out items, "
            f"{e['feedback_events']} logged answers",
        ]
        if not e["holdout_items"]:
            lines.append(f"  {prequential.NO_HOLDOUT}")
        rows = [["metric", *names]]
        hold = e["holdout"]
        if e["holdout_items"]:
            rows.append(["accuracy", *[_f(hold[n]["accuracy"], True) for n in names]])
            rows.append(["macro-F1", *[_f(hold[n]["macro_f1"]) for n in names]])
            rows.append(["ECE (calibration)", *[_f(hold[n]["ece"]) for n in names]])
        ope_all = e["ope"]
        rows += _ope_rows(ope_all, names)
        for n in names:
            if ope_all.get(n, {}).get("reason"):
                lines.append(f"  off-policy, {n}: {ope_all[n]['reason']}")
        for n in names:
            note = e.get("calibration", {}).get(n, {}).get("note")
            if note:
                lines.append(f"  calibration, {n}: {note}")
        if e.get("logged_thumbs_up_rate") is not None:
            lines.append(f"  logged thumbs-up rate: {_f(e['logged_thumbs_up_rate'], True)}")
        if len(rows) > 1:
            lines += ["  " + s for s in _table(rows)]
        if e["holdout_items"]:
            lines += _per_class_lines(hold, e["labels"], names)
    bad = result.get("unreadable_items") or []
    if bad:
        lines += ["", f"{len(bad)} item(s) could not be read and were left out:"]
        lines += [f"  {b['item_id']}: {b['reason']}" for b in bad[:20]]
        lines += [f"  … and {len(bad) - 20} more"] if len(bad) > 20 else []
    return "\n".join(lines)
