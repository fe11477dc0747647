"""Markdown tables of ``benchmarks/reliability.py``'s results; also re-renders a saved JSON:

python benchmarks/reliability_report.py results.json
"""

from __future__ import annotations

import json
import sys

COMMANDS = ("import", "simulate", "train", "evaluate", "predict", "predict-folder")


def _state(name: str, t: list[dict]) -> str:
    """What the kills hit: answers per kill, items written, or the export's file at the kill."""
    if name == "simulate":
        acks = [x["acknowledged"] for x in t]
        return f"{min(acks)}–{max(acks)} answers acked per run"
    if name == "import":
        items = [x["items_at_kill"] for x in t]
        return f"{min(items)}–{max(items)} items stored at the kill"
    finals = [x["final_after_kill"] for x in t]
    return ", ".join(f"{f} {finals.count(f)}" for f in sorted(set(finals)))


def kill_table(kills: dict) -> str:
    head = (
        "| command | kills (runs) | state at the kill | acknowledged | lost | labels lost "
        "| integrity failures "
        "| project does not open | final file broken | temp files left | re-run failures "
        "| temp files after re-run |"
    )
    lines = [head, "|---|---|---|" + "---:|" * 9]
    for name, trials in kills.items():
        t = [x for x in trials if x.get("kill") is not None]
        if not t:
            lines.append(f"| {name} | 0 | {trials[0]['outcome']} |" + " |" * 9)
            continue
        killed = sum(x["outcome"].startswith("killed") for x in t)
        sim = name == "simulate"
        ack = sum(x.get("acknowledged", 0) for x in t) if sim else "—"
        lost = sum(x.get("lost", 0) for x in t) if sim else "—"
        orphans = sum(bool(x["labels_missing_from_toml"]) for x in t) if name == "import" else "—"
        integ = sum(x.get("integrity", "ok") not in ("ok", "no database") for x in t)
        no_open = sum(not x.get("opens", True) for x in t)
        broken = sum(
            x.get("final_after_kill", "absent") not in ("absent", "complete", "partial") for x in t
        )
        temps = sum(bool(x["temp_files"]) for x in t)
        rerun = sum(not x.get("reimport_ok", x.get("next_ok", True)) for x in t)
        after = sum(
            bool(x.get("temp_files_after_reimport", x.get("temp_files_after_next"))) for x in t
        )
        export = name.startswith("export")
        lines.append(
            f"| {name} | {killed} ({len(t)}) | {_state(name, t)} | {ack} | {lost} | {orphans} "
            f"| {integ} "
            f"| {no_open if not export else '—'} | {broken if export else '—'} | {temps} "
            f"| {rerun if not sim else '—'} | {after if not sim else '—'} |"
        )
    return "\n".join(lines)


def crafted_tables(rows: list[dict]) -> str:
    by = {(r["input"], r["command"]): r for r in rows}
    inputs = list(dict.fromkeys(r["input"] for r in rows))
    out = [
        "Peak RSS (MB) per command; `!` = exit code not 0/2, `T` = traceback on stderr",
        "",
        "| input | " + " | ".join(COMMANDS) + " |",
        "|---|" + "---:|" * len(COMMANDS),
    ]
    for key in inputs:
        cells = []
        for c in COMMANDS:
            r = by.get((key, c))
            if r is None:
                cells.append("—")
                continue
            flag = "" if r["rc"] in (0, 2) else " !"
            if r["outcome"].startswith(("hung", ">")):
                flag = " (hung)" if r["outcome"].startswith("hung") else " (> cap, killed)"
            flag += " T" if r["traceback"] else ""
            cells.append(f"{r['peak_mb']:.0f}{flag}")
        out.append(f"| {key} | " + " | ".join(cells) + " |")
    out += ["", "| input | what | command | outcome | s | first line of stderr; files skipped | Traceback |",
            "|---|---|---|---|---:|---|---|"]  # fmt: skip
    for r in rows:
        err = (r["first_stderr"] + (" " + r["skipped"] if r["skipped"] else "")).strip()
        err = err.replace("|", "\\|")[:240]
        out.append(
            f"| {r['input']} | {r['what']} | {r['command']} | {r['outcome']} | "
            f"{r['seconds']:.1f} | {err} | {'yes' if r['traceback'] else 'no'} |"
        )
    return "\n".join(out)


def main(argv: list[str]) -> int:
    with open(argv[0]) as fh:
        result = json.load(fh)
    where = result.get("commit") or result.get("code")
    print(f"code {where}, {result.get('date')}, {result.get('seconds')} s\n")
    if "kills" in result:
        print(kill_table(result["kills"]) + "\n")
    if "crafted" in result:
        print(crafted_tables(result["crafted"]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
