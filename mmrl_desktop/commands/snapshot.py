"""``mmrl-desktop snapshot --project DIR --out DIR``."""

from __future__ import annotations


def run(args) -> int:
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.gui.snapshot import take_snapshots

    project = resolve_project(args.project)
    for path in take_snapshots(project.root, args.out):
        print(path)
    return 0
