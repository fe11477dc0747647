"""``mmrl-desktop predict --project DIR SOURCE [--device D] [--json]``: label new files (a file, a
folder or a manifest) with the project's current model on ``--device`` (auto: a GPU when there is
one); see ``mmrl_desktop.core.tools.predict`` for the JSON. A progress bar (files read, then items
predicted) goes to stderr when it is a terminal, never to stdout.

The JSON names no folder of this machine: ``source`` is SOURCE as given when that is a relative
path inside the working folder, else only its last component (``scan`` for ``/home/ann/scan``);
``model`` is the model used (version, step, written: ``core/evaluation/model_info.py``), also said on stderr
in text mode, with a warning when the app open on the project holds a newer one;
``project`` is the project folder's name; every file path is relative to SOURCE (as before).
"""

from __future__ import annotations

import json
import os


def public_name(path: str | os.PathLike) -> str:
    """``path`` as given when relative and not climbing out (``..``), else its last component."""
    text = os.path.normpath(os.fspath(path))
    if not os.path.isabs(text) and not text.startswith(".." + os.sep) and text != "..":
        return text.replace(os.sep, "/")
    return os.path.basename(os.path.normpath(os.path.abspath(text))) or "."


def run(args) -> int:
    from mmrl_desktop.commands.progress import Bar
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.evaluation.model_info import tell
    from mmrl_desktop.core.tools.predict import format_predictions, predict_source

    project = resolve_project(args.project)
    device = getattr(args, "device", "auto")
    with Bar("reading files", "files") as bar:

        def report(done: int, total: int) -> None:  # files checked (total 0), then items
            if total > 0:
                bar.update(done, total, label="predicting", unit="items")
            else:
                bar.update(done, total)

        result = predict_source(project, args.source, device=device, progress=report)
    tell(result["model"], project.root, line=not args.json)  # which model; a newer one in the app
    if args.json:
        shown = {**result, "source": public_name(args.source), "project": project.root.name}
        print(json.dumps(shown, allow_nan=False))
    else:
        print(format_predictions(result))
    if not result["items"]:
        raise UserError(f"nothing in {args.source} could be labelled (see the skipped files).")
    return 0
