"""``mmrl-desktop export --project DIR --format FORMAT --out PATH``.

- ``feedback-csv`` / ``feedback-jsonl``: the feedback log with its audit trail
  (``mmrl_desktop.core.feedback_export``);
- ``torchscript`` / ``onnx``: the current model, with a preprocessing sidecar, checked against the
  live model after re-loading (``mmrl_desktop.core.export``);
- ``tensorboard``: an event log of the training metrics (needs the optional ``tensorboard``).

``--pseudonymize``: item ids become pseudonyms (``mmrl_desktop.core.pseudonyms``); only the feedback
log carries item ids, the model and TensorBoard exports carry none. No export carries a file path.
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

        key = None
        if getattr(args, "pseudonymize", False):
            from mmrl_desktop.core.pseudonyms import project_key

            key = project_key(project.root)
        with project.open_store() as store:
            summary = export_feedback(store, args.out, fmt, pseudonym_key=key)
        sys.stderr.write(
            f"wrote {summary['rows']} events ({summary['feedback']} answers, {summary['skips']} "
            f"skips, {summary['retractions']} retractions) to {summary['path']}"
            f"{' with pseudonymous item ids' if key else ''}\n"
        )
        return 0
    if fmt in ("torchscript", "onnx"):
        from mmrl_desktop.core.export import export_model

        info = export_model(project, fmt, args.out)
        sys.stderr.write(
            f"wrote {info['path']} (model v{info['model_version']}, step {info['step']}) and "
            f"{info['sidecar']}; re-loaded with {info['check']['reloaded_with']}: max abs "
            f"difference {info['check']['max_abs_diff']:.2e} on {info['check']['samples']} "
            "samples\n"
        )
        return 0
    if fmt == "tensorboard":
        from mmrl_desktop.core.export import export_tensorboard

        info = export_tensorboard(project, args.out)
        sys.stderr.write(
            f"wrote {info['scalars']} scalars of {info['runs']} run(s) to {info['path']} "
            f"(view: tensorboard --logdir {info['path']})\n"
        )
        return 0
    raise UserError(f"unknown export format {fmt!r}.")
