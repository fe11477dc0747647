"""``mmrl-desktop export --project DIR --format FORMAT --out PATH``.

- ``feedback-csv`` / ``feedback-jsonl``: the feedback log with its audit trail
  (``mmrl_desktop.core.feedback_export``);
- ``torchscript`` / ``onnx``: the current model, with a preprocessing sidecar, checked against the
  live model after re-loading (``mmrl_desktop.core.export``);
- ``tensorboard``: an event log of the training metrics (needs the optional ``tensorboard``).
"""

from __future__ import annotations

import sys


def run(args) -> int:
    from mmrl_desktop.core.demo import resolve_project
    from mmrl_desktop.core.errors import UserError

    project = resolve_project(args.project)
    fmt = args.format
    if fmt in ("feedback-csv", "feedback-jsonl"):
        from mmrl_desktop.core.feedback_export import export_feedback

        with project.open_store() as store:
            summary = export_feedback(store, args.out, fmt)
        sys.stderr.write(
            f"wrote {summary['rows']} events ({summary['feedback']} answers, {summary['skips']} "
            f"skips, {summary['retractions']} retractions) to {summary['path']}\n"
        )
        return 0
    raise UserError(f"export --format {fmt} is not available in this version yet.")
