"""``mmrl-desktop export --project DIR --format FORMAT --out PATH [--json]``.

- ``feedback-csv`` / ``feedback-jsonl``: the feedback log with its audit trail
  (``mmrl_desktop.core.tools.feedback_export``);
- ``torchscript`` / ``onnx``: the current model, with a preprocessing sidecar, checked against the
  live model after re-loading (``mmrl_desktop.core.tools.export``); the success line and ``--json``
  (``model``: version, step, written) say which model, and stderr warns when the app open on the
  project holds a newer one (``core/evaluation/model_info.py``);
- ``tensorboard``: an event log of the training metrics (a folder).
- ``generate``: a generate task's LoRA adapters (``<out>/adapters``) and the merged model folder
  (``<out>/merged``) that ``transformers`` loads back (``mmrl_desktop.core.tools.generate_deploy``;
  ``--task`` picks the task, default the first).

``--out``: a path with a suffix is the file; a path without one, ending in ``/``, or an existing
folder is a folder (created, parents too) that gets ``model.pt``, ``model.onnx``,
``feedback.csv``/``.jsonl`` inside (``core.tools.feedback_export.output_path``).

The success line goes to stdout; with ``--json`` stdout is one JSON object (what was written,
with its ``path`` and ``format``) and nothing else. A model export shows its four steps as a
progress bar on stderr when stderr is a terminal. Errors: one line on stderr, exit 2.

``--pseudonymize``: item ids become pseudonyms (``mmrl_desktop.core.data.pseudonyms``); only the feedback
log carries item ids, the model and TensorBoard exports carry none. No export carries a file path.
"""

from __future__ import annotations

import json
import sys


def _done(args, line: str, info: dict) -> int:
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(info, allow_nan=False) + "\n")
    else:
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0


def run(args) -> int:
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.tools.export_formats import require

    project = resolve_project(args.project)
    fmt = args.format
    require(fmt)  # a missing package: what to install, before torch is even loaded
    if fmt in ("feedback-csv", "feedback-jsonl"):
        from mmrl_desktop.core.tools.feedback_export import export_feedback

        key = None
        if getattr(args, "pseudonymize", False):
            from mmrl_desktop.core.data.pseudonyms import project_key

            key = project_key(project.root)
        with project.open_store() as store:
            summary = export_feedback(store, args.out, fmt, pseudonym_key=key)
        line = (
            f"wrote {summary['rows']} events ({summary['feedback']} answers, {summary['skips']} "
            f"skips, {summary['retractions']} retractions) to {summary['path']}"
            f"{' with pseudonymous item ids' if key else ''}"
        )
        return _done(args, line, summary)
    if fmt in ("torchscript", "onnx"):
        from mmrl_desktop.commands.progress import Bar
        from mmrl_desktop.core.evaluation.model_info import tell, written_words
        from mmrl_desktop.core.tools.export import export_model

        with Bar(f"exporting to {fmt}", "steps") as bar:
            info = export_model(project, fmt, args.out, progress=bar)
        tell(info["model"], project.root, line=False)  # a newer model in the open app
        line = (
            f"wrote {info['path']} (model v{info['model_version']}, step {info['step']}, "
            f"{written_words(info['model'])}) and "
            f"{info['sidecar']}; re-loaded with {info['check']['reloaded_with']}: max abs "
            f"difference {info['check']['max_abs_diff']:.2e} on {info['check']['samples']} "
            "samples"
        )
        return _done(args, line, info)
    if fmt == "generate":  # a generate task's adapters and merged model (issue 16)
        from mmrl_desktop.core.tools.generate_deploy import export_generate

        info = export_generate(project, args.out, getattr(args, "task", None))
        line = (
            f"wrote the LoRA adapters to {info['adapters']} and the merged model to "
            f"{info['merged']} (task {info['task']}, policy v{info['policy_version']}, step "
            f"{info['step']}); re-loaded with transformers ({info['check']['reloaded_with']})"
        )
        return _done(args, line, info)
    if fmt == "tensorboard":
        from mmrl_desktop.core.tools.export import export_tensorboard

        info = export_tensorboard(project, args.out)
        line = (
            f"wrote {info['scalars']} scalars of {info['runs']} run(s) to {info['path']} "
            f"(view: tensorboard --logdir {info['path']})"
        )
        return _done(args, line, info)
    raise UserError(f"unknown export format {fmt!r}.")
