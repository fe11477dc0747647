"""The Checkpoints dialog's part for a generate task: its adapters' checkpoints
(``checkpoints/generate-<task>/``: time, step, policy version, answers seen, note) and roll back.

Rolling back stops the trainer (its closing checkpoint is written first), promotes a copy of the
chosen checkpoint (``generate_ckpt.promote_generate_checkpoint``: the newest step and policy
version, audited in the store) and starts the trainer again, which resumes from it and drafts the
items ahead anew. Nothing is deleted; the answers given since stay in the log.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.learning import ckpt_files
from mmrl_desktop.core.learning.generate_ckpt import checkpoint_folder, promote_generate_checkpoint
from mmrl_desktop.gui.dialogs.rollback_run import promote_while_stopped
from mmrl_desktop.gui.widgets import list_table, set_row

COLUMNS = ["Saved", "Step", "Drafting model", "Answers seen", "Note"]
NOTES = {"on close": "when the trainer stopped"}


def generate_checkpoint_rows(project, task: str) -> list[dict]:
    """The task's checkpoints on disk, newest first (torch-free: the JSON beside each)."""
    rows = []
    for e in ckpt_files.newest_first(ckpt_files.scan(checkpoint_folder(project, task))):
        meta = e.meta or {}
        rows.append(
            {
                "path": str(e.weights.relative_to(project.root)),
                "created_at": float(meta.get("created_at", e.weights.stat().st_mtime)),
                "step": e.step,
                "policy_version": int(meta.get("policy_version", 0)),
                "answers_seen": int(meta.get("answers_seen", 0)),
                "note": str(meta.get("note", "")),
                "problem": e.problem,
            }
        )
    return rows


class GenerateCheckpointsPanel(QWidget):
    """One generate task's checkpoints and its Roll back button (inside the Checkpoints dialog)."""

    rolledBack = Signal(str, str)  # the task, the checkpoint's path relative to the project

    def __init__(self, project, task: str, parent=None):
        super().__init__(parent)
        self.project, self.task = project, task
        title = QLabel(f"<b>Drafting model — {task}</b>: its LoRA adapters (the base model "
                       "is not copied)")  # fmt: skip
        title.setWordWrap(True)
        self.table = list_table(COLUMNS, QAbstractItemView.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection)
        self.empty = QLabel(
            "No checkpoint of the drafting model yet: the first one is written a few seconds "
            "after it has trained on your first answers to its drafts."
        )
        self.empty.setWordWrap(True)
        self.rollback_button = QPushButton(f"Roll back the {task} drafts to this checkpoint")
        self.rollback_button.clicked.connect(self._rollback)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 8, 0, 0)
        for w in (title, self.table, self.empty):
            lay.addWidget(w, 1 if w is self.table else 0)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.rollback_button)
        lay.addLayout(row)
        self.rows: list[dict] = []
        self.refresh()

    def refresh(self) -> None:
        self.rows = generate_checkpoint_rows(self.project, self.task)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            note = NOTES.get(row["note"], row["note"])
            if row["problem"]:
                note += f" (cannot be read: {row['problem']})"
            cells = [
                time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["created_at"])),
                str(row["step"]),
                f"v{row['policy_version']}",
                str(row["answers_seen"]),
                note,
            ]
            set_row(self.table, r, cells, range(1, 4), not row["problem"], row["path"])
        self.empty.setVisible(not self.rows)
        self._selection()

    def selected(self) -> dict | None:
        r = self.table.currentRow()
        if not self.table.selectionModel().selectedRows() or not 0 <= r < len(self.rows):
            return None
        return self.rows[r]

    def _selection(self) -> None:
        row = self.selected()
        self.rollback_button.setEnabled(bool(row and not row["problem"]))

    def _rollback(self) -> None:
        row = self.selected()
        if row is None:
            return
        answer = QMessageBox.question(
            self,
            "Roll back",
            f"Draft from the {self.task} checkpoint of step {row['step']} (drafting model "
            f"v{row['policy_version']}, {row['answers_seen']} answers seen)?",
        )
        if answer == QMessageBox.Yes:
            self.rolledBack.emit(self.task, row["path"])
            self.refresh()


def rollback_generate(window, task: str, path: str) -> bool:
    """Stop the trainer, promote ``path`` for ``task``, restart the trainer. A sentence on
    failure (nothing rolled back)."""
    dest = promote_while_stopped(
        window, lambda store: promote_generate_checkpoint(window.project, task, path, store)
    )
    if dest is None:
        return False
    window.statusBar().showMessage(
        f"Rolled back: the {task} drafts continue from {Path(path).stem} (now {dest.stem}).",
        15000,
    )
    return True
