"""``mmrl-desktop predict --project DIR SOURCE [--json]``: label new files (a file, a folder or a
manifest) with the project's current model; see ``mmrl_desktop.core.predict`` for the JSON."""

from __future__ import annotations

import json


def run(args) -> int:
    from mmrl_desktop.core.demo import resolve_project
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.predict import format_predictions, predict_source

    project = resolve_project(args.project)
    result = predict_source(project, args.source)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(format_predictions(result))
    if not result["items"]:
        raise UserError(f"nothing in {args.source} could be labelled (see the skipped files).")
    return 0
