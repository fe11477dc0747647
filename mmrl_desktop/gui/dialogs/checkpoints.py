"""Checkpoints: the list (time, step, model version, answers seen, metrics then) and roll back.

Rolling back stops the trainer (its closing checkpoint is written first), promotes the chosen
checkpoint with ``core.learning.rollback.promote_checkpoint`` — a copy becomes the newest checkpoint, the
store records ``audit("rollback", ...)`` — and starts the trainer again, which resumes from it.
Nothing is deleted; the answers given since stay in the log. A generate task's drafting model
has its own list below (``generate_checkpoints.py``).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QLabel,
    QMessageBox,
)

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.ckpt_files import read_entry
from mmrl_desktop.gui.dialogs.generate_checkpoints import (
    GenerateCheckpointsPanel,
    rollback_generate,
)
from mmrl_desktop.gui.dialogs.rollback_run import promote_while_stopped, refuse
from mmrl_desktop.gui.widgets import close_and_action, list_table, set_row, stack

# how checkpoints are written while the app is open (the trainer process, core/learning/trainer.py)
CADENCE = (
    "The trainer writes a checkpoint a few seconds after it has trained on new answers, and "
    "when it stops (note \u201cwhen the trainer stopped\u201d)."
)
EMPTY = (
    "No checkpoint yet: the first one is written a few seconds after the trainer has trained on "
    "your first answers."
)
# the trainer's own notes, as the table says them
NOTES = {
    "on close": "when the trainer stopped",
    "recent": "the newest model (the next checkpoint replaces it)",  # core/learning/model_on_disk.py
}
COLUMNS = ["Saved", "Step", "Model", "Answers seen", "Held-out accuracy", "Thumbs-up rate", "Note"]


def checkpoint_rows(project) -> list[dict]:
    """The store's checkpoint index, newest first, with the metrics logged up to each one."""
    with project.open_store() as store:
        records = store.checkpoints()
        acc = [r for r in store.metrics() if r[2].startswith("eval/accuracy")]
        ups = store.metrics("reward/thumbs_up_rate")
    rows = []
    for rec in reversed(records):

        def last(rows_, rec=rec):
            vals = [r[3] for r in rows_ if r[4] <= rec.created_at + 1.0]
            return vals[-1] if vals else None

        rows.append(
            {
                "path": rec.path,
                "created_at": rec.created_at,
                "step": rec.step,
                "model_version": rec.model_version,
                "answers_seen": rec.answers_seen,
                "accuracy": rec.metrics.get("accuracy", last(acc)),
                "thumbs_up_rate": rec.metrics.get("thumbs_up_rate", last(ups)),
                "note": rec.note,
                "on_disk": (project.root / rec.path).is_file(),
                "problem": _problem(project.root / rec.path),
            }
        )
    return rows


def _problem(weights: Path) -> str | None:
    """Why an on-disk checkpoint cannot be read (torch-free check), or None."""
    if not weights.is_file():
        return None
    return read_entry(weights).problem


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _usable(row: dict) -> bool:
    return row["on_disk"] and not row.get("problem")


def _state_note(row: dict) -> str:
    if not row["on_disk"]:
        return " (pruned from disk)"
    return f" (cannot be read: {row['problem']})" if row.get("problem") else ""


class CheckpointsDialog(QDialog):
    rolledBack = Signal(str)  # the checkpoint's path relative to the project

    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle(f"Checkpoints — {project.name}")
        self.resize(900, 420)
        intro = QLabel(
            f"{CADENCE} Rolling back makes a copy of the chosen one the newest: training "
            "continues from it, the later checkpoints stay on disk, and your answers stay in the "
            "log."
        )
        intro.setWordWrap(True)
        self.table = list_table(COLUMNS, QAbstractItemView.SingleSelection)
        self.table.itemSelectionChanged.connect(self._selection)
        self.empty = QLabel(EMPTY)
        self.empty.setWordWrap(True)
        self.buttons, self.rollback_button = close_and_action(
            self, "Roll back to this checkpoint", self._rollback
        )
        self.rollback_button.setEnabled(False)
        self.generate_panels = [  # a generate task's drafting model: its own list
            GenerateCheckpointsPanel(project, t.name, self)
            for t in getattr(project, "generate_tasks", [])
        ]
        stack(self, intro, self.table, self.empty, *self.generate_panels, self.buttons,
              stretch=self.table if project.tasks else None)  # fmt: skip
        if not project.tasks:  # drafts only: no label model
            for w in (self.table, self.empty, self.rollback_button):
                w.hide()
        self.rows: list[dict] = []
        self.refresh()

    def refresh(self) -> None:
        self.rows = checkpoint_rows(self.project)
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(row["created_at"]))
            cells = [
                saved,
                str(row["step"]),
                f"v{row['model_version']}",
                str(row["answers_seen"]),
                _pct(row["accuracy"]),
                _pct(row["thumbs_up_rate"]),
                NOTES.get(row["note"], row["note"]) + _state_note(row),
            ]
            set_row(self.table, r, cells, range(1, 6), _usable(row), row["path"])
        self.empty.setVisible(not self.rows)
        self._selection()

    def selected(self) -> dict | None:
        r = self.table.currentRow()
        sel = self.table.selectionModel().selectedRows()
        if not sel or not 0 <= r < len(self.rows):
            return None
        return self.rows[r]

    def _selection(self) -> None:
        row = self.selected()
        self.rollback_button.setEnabled(bool(row and _usable(row)))

    def _rollback(self) -> None:
        row = self.selected()
        if row is None:
            return
        answer = QMessageBox.question(
            self,
            "Roll back",
            f"Continue training from the checkpoint of step {row['step']} (model "
            f"v{row['model_version']}, {row['answers_seen']} answers seen)?",
        )
        if answer == QMessageBox.Yes:
            self.rolledBack.emit(row["path"])
            self.refresh()


def rollback(window, path: str) -> bool:
    """Stop the trainer, promote ``path``, restart the trainer. A sentence on failure."""
    from mmrl_desktop.core.learning.rollback import check_target, promote_checkpoint

    try:  # an unreadable target is refused before the trainer is even stopped
        check_target(window.project, (window.project.root / path).with_suffix(".safetensors"))
    except UserError as err:
        return refuse(window, err)
    dest = promote_while_stopped(
        window, lambda store: promote_checkpoint(window.project, path, store)
    )
    if dest is None:
        return False
    window.statusBar().showMessage(
        f"Rolled back: training continues from {Path(path).stem} (now {dest.stem}).", 15000
    )
    return True


def open_checkpoints(window) -> CheckpointsDialog:
    dlg = CheckpointsDialog(window.project, window)
    dlg.rolledBack.connect(lambda path: rollback(window, path))
    for panel in dlg.generate_panels:
        panel.rolledBack.connect(lambda task, path: rollback_generate(window, task, path))
    dlg.open()
    return dlg
