"""File ▸ Find moved files…: the project's files moved to another folder; its items follow them.

For each folder the items were imported from that is gone (``core/data/relocation.gone_folders``)
the user picks where it is now; ``relocate`` re-points the items there (answers, splits and
checkpoints kept) or says in one sentence why not (a folder that holds none of the files). The
window then opens the project again (``MainWindow.open_project``), so the trainer's process reads
the new paths too.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from mmrl_desktop.core.data.demo import is_demo
from mmrl_desktop.core.data.relocation import gone_folders, relocate
from mmrl_desktop.core.errors import UserError

TITLE = "Find moved files"


def find_moved_files(window, choose=None) -> int:
    """Ask where each gone folder is now; returns the items re-pointed. ``choose(folder)``: the
    folder picker (tests give their own)."""
    project = window.project
    gone = gone_folders(project)
    if is_demo(project.root) or not gone:
        QMessageBox.information(
            window, TITLE, "Every folder this project reads its files from is where it was."
        )
        return 0
    pick = choose or (
        lambda folder: QFileDialog.getExistingDirectory(
            window, f"Where is {Path(folder).name} now? ({folder})", str(Path(folder).parent)
        )
    )
    moved = 0
    for folder in gone:
        path = pick(folder)
        if not path:
            continue
        try:
            moved += relocate(project, path, folder)["items"]
        except UserError as err:
            QMessageBox.warning(window, TITLE, str(err)[:1].upper() + str(err)[1:])
    if moved:
        window.open_project(str(project.root))
    return moved
