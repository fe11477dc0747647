"""``mmrl-desktop relocate``: a project's files moved to another folder; its items follow them.

    mmrl-desktop relocate --project DIR --to NEW_FOLDER [--from OLD_FOLDER] [--json]

Each item keeps the folder it was imported from (``source_root``) and absolute paths under it.
When that folder has moved — another disk, a renamed share — the items under the old folder are
re-pointed to the same relative paths under the new one (``FeedbackStore.relocate_items``): ids,
answers, splits, checkpoints and the event log stay, and the audit trail records the move.
Without ``--from`` the old folder is the one recorded folder that is gone. A new folder that holds
none of the items' files is refused (nothing is written): it is not where they went. A window
that has the project open reads the new paths once it opens the project again.
"""

from __future__ import annotations

import json
import sys

from mmrl_desktop.core.errors import UserError


def warn_gone(project, project_arg: str) -> None:
    """Before ``train``, ``simulate`` or ``evaluate`` read the items: a warning on stderr for each
    folder they were imported from that is gone, with the command that follows it."""
    from mmrl_desktop.core.data.relocation import gone_folders

    for folder in gone_folders(project):
        sys.stderr.write(
            f"warning: {folder}, a folder this project's files were imported from, is gone; "
            f"if it moved: mmrl-desktop relocate --project {project_arg} --to NEW_FOLDER\n"
        )


def run(args) -> int:
    from mmrl_desktop.core.data.demo import is_demo, resolve_project
    from mmrl_desktop.core.data.relocation import relocate

    project = resolve_project(args.project)
    if is_demo(project.root):
        raise UserError(
            "the demo finds its own files again when it opens; relocate is for your projects."
        )
    result = relocate(project, args.to, args.from_folder)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        missing = result["missing_files"]
        print(
            f"{result['items']} items now read their files from {result['to']} "
            f"(they read them from {result['from']})"
            + (f"; {missing} of their {result['files']} files are not there." if missing else ".")
        )
        print("A window that has this project open reads the new paths once it opens it again.")
    return 0
