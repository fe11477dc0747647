"""Import data into a project in the background: progress bar, cancel, then the report.

``ImportPanel`` is the shared widget (the new-project wizard's last page uses it too): it runs
``core.data.importer.import_source`` on a :class:`~mmrl_desktop.gui.background.BackgroundTask` with a
project object and store opened in that thread, and shows the report — how many items were
imported and a table of the skipped files with their reasons. Never a traceback.

``ImportDialog`` (File → Import data…) asks for a folder or a manifest, runs the panel on the
current project and, when items were added, asks the main window to reopen the project so the
queue, the task's labels and the trainer all see them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.tasks import TaskState
from mmrl_desktop.gui.background import BackgroundTask

MANIFEST_FILTER = "Manifests (*.csv *.jsonl)"


def summarize(report) -> dict:
    """The importer's report (an object or the ``import --json`` dict) as a plain dict:
    ``imported``, ``items``, ``classes``, ``skipped`` = [(path, reason), ...]."""

    def get(name, default=None):
        if isinstance(report, dict):
            return report.get(name, default)
        return getattr(report, name, default)

    skipped = []
    for s in get("skipped", None) or []:
        if isinstance(s, dict):
            skipped.append((str(s.get("path", "")), str(s.get("reason", ""))))
        elif isinstance(s, (tuple, list)) and len(s) >= 2:
            skipped.append((str(s[0]), str(s[1])))
        else:
            skipped.append((str(getattr(s, "path", s)), str(getattr(s, "reason", ""))))
    imported = get("imported", 0)
    if not isinstance(imported, int):
        imported = len(imported)
    items = get("items", imported)
    if not isinstance(items, int):
        items = len(items)
    return {
        "imported": int(imported),
        "items": int(items),
        "classes": [str(c) for c in (get("classes", None) or [])],
        "skipped": skipped,
        "unlabelled": int(get("unlabelled", 0) or 0),
        "warnings": [str(w) for w in (get("warnings", None) or [])],
        "holdout": {str(k): int(v) for k, v in (get("holdout", None) or {}).items()},
    }


def import_job(project_root: str, source: str, task: str, holdout: float | None = None):
    """The Qt-free work: open the project in the worker thread and import ``source``
    (``holdout``: the fraction of new labelled items kept for evaluation; None: the default)."""

    def run(state: TaskState) -> dict:
        from mmrl_desktop.core.data.holdout import DEFAULT_HOLDOUT
        from mmrl_desktop.core.data.importer import ImportCancelled, import_source
        from mmrl_desktop.core.data.project import Project

        project = Project.open(project_root)
        fraction = DEFAULT_HOLDOUT if holdout is None else holdout
        try:
            result = import_source(source, project, task=task, holdout=fraction, state=state)
            out = summarize(result)
        except ImportCancelled:
            out = summarize({"imported": 0, "items": 0})
            out["cancelled"] = True
            return out
        out["cancelled"] = False
        return out

    return run


def report_sentence(summary: dict) -> str:
    if summary.get("cancelled") and not summary["imported"]:
        return "The import was cancelled; nothing was imported."
    n, found, skipped = summary["imported"], summary["items"], len(summary["skipped"])
    text = f"{n} new item{'s' if n != 1 else ''} imported"
    if found > n:
        text += f" ({found - n} of the {found} found were already in the project)"
    classes = summary.get("classes") or []
    if classes:
        more = "…" if len(classes) > 12 else ""
        text += f"; labels: {', '.join(classes[:12])}{more}"
    text += "."
    held = sum((summary.get("holdout") or {}).values())
    if held:
        text += (
            f" {held} item{'s are' if held != 1 else ' is'} kept out of the questions to "
            "measure the model (hold-out)."
        )
    if summary.get("unlabelled"):
        text += f" {summary['unlabelled']} item(s) have no label."
    if skipped:
        text += f" {skipped} file{'s were' if skipped != 1 else ' was'} skipped — see below."
    for w in summary.get("warnings", []):
        text += " " + w[:1].upper() + w[1:]
    if found == 0:
        text += " Nothing could be imported from this source."
    return text


class ImportPanel(QWidget):
    """Progress + cancel while importing, then the report."""

    done = Signal(object)  # the summary dict, or None after a failure

    def __init__(self, parent=None):
        super().__init__(parent)
        self.task: BackgroundTask | None = None
        self.summary: dict | None = None
        self.status = QLabel("Waiting to start…")
        self.status.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.cancel_button = QPushButton("Cancel import")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Skipped file", "Reason"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.Interactive)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.setColumnWidth(0, 260)
        self.table.hide()
        lay = QVBoxLayout(self)
        lay.addWidget(self.status)
        lay.addLayout(row)
        lay.addWidget(self.table, 1)

    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def start(
        self, project_root: str | Path, source: str | Path, task: str, holdout: float | None = None
    ) -> None:
        job = import_job(str(project_root), str(source), task, holdout)
        self.run(job, f"Importing {source} …")

    def run(self, job, text: str) -> None:
        """Run ``job(state)`` (returning a summary dict) in the background."""
        self.summary = None
        self.table.hide()
        self.table.setRowCount(0)
        self.bar.setRange(0, 0)
        self.bar.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.status.setText(text)
        self.task = BackgroundTask(job, "import")
        self.task.progress.connect(self._on_progress)
        self.task.finished.connect(self._on_finished)
        self.task.failed.connect(self._on_failed)
        self.task.start()

    def cancel(self) -> None:
        if self.is_running():
            self.task.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling… the items read so far are kept.")

    def shutdown(self, timeout_ms: int = 5000) -> None:
        if self.task is not None:
            self.task.shutdown(timeout_ms)

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.bar.setFormat(f"{done} / {total} files")

    def _end(self) -> None:
        self.cancel_button.hide()
        if self.bar.maximum() == 0:
            self.bar.setRange(0, 1)
            self.bar.setValue(1)

    def _on_finished(self, summary) -> None:
        self._end()
        if summary is None:  # cancelled before the importer returned
            summary = {**summarize({}), "cancelled": True}
        self.summary = summary
        self.status.setText(report_sentence(summary))
        self.bar.setValue(self.bar.maximum())
        if summary["skipped"]:
            self.table.setRowCount(len(summary["skipped"]))
            for r, (path, reason) in enumerate(summary["skipped"]):
                for c, text in enumerate((path, reason)):
                    cell = QTableWidgetItem(text)
                    cell.setToolTip(text)
                    self.table.setItem(r, c, cell)
            self.table.resizeRowsToContents()
            self.table.show()
        self.done.emit(summary)

    def _on_failed(self, text: str) -> None:
        self._end()
        self.summary = None
        self.status.setText(f"The import stopped: {text}")
        self.done.emit(None)


def source_row(parent: QWidget, line: QLineEdit) -> QHBoxLayout:
    """A path field with "Folder…" and "Manifest…" pickers."""
    folder = QPushButton("Folder…")
    folder.setToolTip("A folder with one sub-folder per label: <folder>/<label>/<files>")
    manifest = QPushButton("Manifest…")
    manifest.setToolTip("items.csv or items.jsonl with columns id, image, audio, text, label")

    def pick_folder() -> None:
        path = QFileDialog.getExistingDirectory(parent, "Folder of classes", line.text())
        if path:
            line.setText(path)

    def pick_manifest() -> None:
        path, _ = QFileDialog.getOpenFileName(parent, "Manifest", line.text(), MANIFEST_FILTER)
        if path:
            line.setText(path)

    folder.clicked.connect(pick_folder)
    manifest.clicked.connect(pick_manifest)
    row = QHBoxLayout()
    row.addWidget(line, 1)
    row.addWidget(folder)
    row.addWidget(manifest)
    return row


def holdout_field() -> tuple[QSpinBox, QLabel, QHBoxLayout]:
    """The "Hold-out for evaluation" percentage (default ``core.data.holdout.DEFAULT_HOLDOUT``) with
    its one-line explanation: (spin box, note, the row holding both)."""
    from mmrl_desktop.core.data.holdout import DEFAULT_HOLDOUT, MIN_POOL

    spin = QSpinBox()
    spin.setRange(0, 50)
    spin.setSingleStep(5)
    spin.setSuffix(" %")
    spin.setValue(round(DEFAULT_HOLDOUT * 100))
    spin.setToolTip("0 % keeps every item in the questions")
    note = QLabel(
        "This share of each label's new items is never asked about: it measures how well the "
        f"model does on cases it has not learnt from. A label keeps at least {MIN_POOL} items to "
        f"be asked about ({MIN_POOL} or fewer: all of them). 0 % keeps none out."
    )
    note.setWordWrap(True)
    row = QHBoxLayout()
    row.addWidget(QLabel("Hold-out for evaluation"))
    row.addWidget(spin)
    row.addStretch(1)
    return spin, note, row


def check_source(text: str) -> str | None:
    """None when ``text`` names something importable, else a sentence saying why not."""
    if not text.strip():
        return "Choose a folder of classes or a CSV/JSONL manifest to import."
    path = Path(text.strip()).expanduser()
    if not path.exists():
        return f"There is nothing at {path}."
    if path.is_file() and path.suffix.lower() not in (".csv", ".jsonl"):
        return f"{path.name} is not a manifest: choose a .csv or .jsonl file, or a folder."
    return None


class ImportDialog(QDialog):
    """File → Import data…: add a folder or manifest to the current project."""

    imported = Signal(str)  # project root, when at least one item was added

    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.project = project
        self._known: set[str] = set()
        self.setWindowTitle(f"Import data into {project.name}")
        self.resize(760, 460)
        self.source = QLineEdit()
        self.source.setPlaceholderText("a folder of classes, or items.csv / items.jsonl")
        intro = QLabel(
            "Add the items of a folder (<i>folder/label/files</i>) or of a manifest to this "
            "project. Items already in the project are kept as they are."
        )
        intro.setWordWrap(True)
        self.holdout, holdout_note, holdout_row = holdout_field()
        self.panel = ImportPanel()
        self.panel.hide()
        self.panel.done.connect(self._on_done)
        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.Close)
        self.import_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(intro)
        lay.addLayout(source_row(self, self.source))
        lay.addLayout(holdout_row)
        lay.addWidget(holdout_note)
        lay.addWidget(self.panel, 1)
        lay.addStretch(0)  # takes the room while the panel is hidden, none once it shows
        lay.addWidget(self.buttons)

    def start(self) -> None:
        problem = check_source(self.source.text())
        if problem:
            QMessageBox.warning(self, "Import data", problem)
            return
        from mmrl_desktop.core.data.project import DEFAULT_TASK

        task = self.project.tasks[0].name if self.project.tasks else DEFAULT_TASK
        self.import_button.setEnabled(False)
        self.source.setEnabled(False)
        self.holdout.setEnabled(False)
        self._known = set(self.project.tasks[0].labels) if self.project.tasks else set()
        self.panel.show()
        holdout = self.holdout.value() / 100.0
        self.panel.start(self.project.root, self.source.text().strip(), task, holdout)

    def _on_done(self, summary) -> None:
        self.import_button.setEnabled(True)
        self.source.setEnabled(True)
        self.holdout.setEnabled(True)
        if not summary:
            return
        new = [c for c in summary["classes"] if c not in self._known]
        if new and self._known:
            self.panel.status.setText(
                self.panel.status.text() + f" New label{'s' if len(new) > 1 else ''} "
                f"{', '.join(new)}: the model starts afresh with the larger label set."
            )
        if summary["imported"] > 0 or new:
            self.imported.emit(str(self.project.root))

    def reject(self) -> None:
        if self.panel.is_running():
            self.panel.cancel()
            self.panel.shutdown(10000)
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.panel.shutdown(10000)
        super().closeEvent(event)


def open_import(window) -> ImportDialog:
    """Show the import dialog for ``window``'s project; reopen the project once it is closed
    after items were added (the queue, labels and trainer then see them)."""
    from mmrl_desktop.core.data.demo import is_demo

    if is_demo(window.project.root):
        QMessageBox.information(
            window,
            "Import data",
            "The built-in demo project does not take new data. Create a project of your own "
            "with File → New project….",
        )
        return None
    dlg = ImportDialog(window.project, window)
    dlg.setAttribute(Qt.WA_DeleteOnClose, False)
    added = []
    dlg.imported.connect(added.append)
    dlg.finished.connect(lambda _r: added and window.open_project(added[-1]))
    dlg.open()
    return dlg
