"""``mmrl-desktop evaluate --project DIR [--checkpoint FILE] [--json]``: held-out metrics and
off-policy thumbs-up estimates of the current model (or FILE) beside the starting model.

On stderr: which model (``model: version V, step S, written …``; text mode) and a warning when the
app open on the project holds a newer model than the newest checkpoint (``core/evaluation/model_info.py``).

A progress bar (items scored) goes to stderr when it is a terminal, never to stdout.

FILE is read with ``core.data.safe_load``: a pickle that carries code is refused (exit 2), never run.
"""

from __future__ import annotations

import json
import sys


def run(args) -> int:
    from mmrl_desktop.commands.exclude import warn_unreadable
    from mmrl_desktop.commands.progress import Bar
    from mmrl_desktop.commands.relocate import warn_gone
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.data.safe_load import load_weights
    from mmrl_desktop.core.evaluation.evaluate import evaluate_project, format_report
    from mmrl_desktop.core.evaluation.model_info import tell
    from mmrl_desktop.core.tasks import TaskState

    if args.checkpoint:  # before opening anything: a bad file is refused at once
        load_weights(args.checkpoint)
    project = resolve_project(args.project)
    warn_gone(project, args.project)
    with Bar("evaluating", "items scored") as bar:
        result = evaluate_project(project, checkpoint=args.checkpoint, state=TaskState(bar))
    for text in result.get("checkpoint_warnings", []):  # also in --json: checkpoint_warnings
        sys.stderr.write(f"warning: {text}\n")
    # which model (text mode) and whether the open app holds a newer one than the newest on disk
    tell(result["model"], project.root, line=not args.json, app=not args.checkpoint)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(format_report(result))
    warn_unreadable(result.get("unreadable_items", []), args.project)
    return 0
