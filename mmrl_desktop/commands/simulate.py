"""``mmrl-desktop simulate``: a simulated expert answers items of a labelled project through the
same store, session and trainer as the GUI; prints ``ack <event_id>`` after each committed event."""

from __future__ import annotations

import sys


def run(args) -> int:
    from mmrl_desktop.commands.exclude import warn_unreadable
    from mmrl_desktop.commands.relocate import warn_gone
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.tools.simulate import run_simulation

    project = resolve_project(args.project)
    warn_gone(project, args.project)
    summary = run_simulation(
        project,
        clicks=args.clicks,
        corrections=args.corrections,
        seed=args.seed,
        device=getattr(args, "device", "auto"),
        on_ack=lambda eid: print(f"ack {eid}", flush=True),
    )
    sys.stderr.write(
        f"simulated {summary['clicks']} answers, thumbs-up rate "
        f"{summary['thumbs_up_rate']:.3f}, model v{summary['model_version']}\n"
    )
    warn_unreadable(summary.get("unreadable_items", []), args.project)
    return 0
