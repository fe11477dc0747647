"""``mmrl-desktop bench-gui --project DIR [--clicks N] [--json]``."""

from __future__ import annotations

import json


def run(args) -> int:
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.gui.bench_gui import run_bench_gui

    project = resolve_project(args.project)
    result = run_bench_gui(project.root, clicks=args.clicks)
    if args.json:
        print(json.dumps(result))
    else:
        p, m = result["click_to_paint_ms"], result["click_to_model_s"]
        print(f"clicks: {result['clicks']}  device: {result['device']}")
        print(
            f"click → paint  p50 {p['p50']} ms  p95 {p['p95']} ms  p99 {p['p99']} ms  max {p['max']} ms"
        )
        print(f"click → model  p50 {m['p50']} s  p95 {m['p95']} s")
        d = result["answer_to_model_on_disk_s"]
        print(f"answer → model on disk  p50 {d['p50']} s  p95 {d['p95']} s")
        print(f"trainer: {result['trainer_updates_per_s']} updates/s")
        print(
            f"peak memory: {result['peak_rss_mb']} MB (window {result['peak_rss_gui_mb']} MB"
            f" + trainer {result['peak_rss_trainer_mb']} MB)"
        )
    return 0
