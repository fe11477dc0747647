"""Export: the model (TorchScript, ONNX), the feedback log (CSV, JSONL), the training metrics
(TensorBoard) or, with a generate task, its drafting model (LoRA adapters and the merged model,
``core.tools.generate_deploy``, in a process of its own: the window's never loads a language
model), to a chosen path, in the background; the result is one sentence.

"Pseudonymous item ids" replaces every item id (a file name, which may carry a patient's name) by
a keyed pseudonym (``core.data.pseudonyms``); only the feedback log has item ids.

The work runs on a :class:`~mmrl_desktop.gui.background.BackgroundTask` with its own project
object and store (``core.tools.export``, ``core.tools.feedback_export``). A model export reads the newest
checkpoint, so the main window restarts a running trainer first (its closing checkpoint then holds
the current model).

A format this install cannot write (``core.tools.export_formats``: a package it needs is missing) is greyed
out, its tooltip the one sentence that says what to install.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
)

from mmrl_desktop.core.tools.export_formats import unavailable
from mmrl_desktop.core.tools.generate_deploy import export_generate_apart
from mmrl_desktop.gui.background import BackgroundTask

GENERATE_NAME = "Drafting model: LoRA adapters + merged model (folder)"
# shown name → (format key, default file name, file filter; "" = a folder)
FORMATS: dict[str, tuple[str, str, str]] = {
    "TorchScript model (.pt)": ("torchscript", "model.pt", "TorchScript (*.pt)"),
    "ONNX model (.onnx)": ("onnx", "model.onnx", "ONNX (*.onnx)"),
    "Feedback log, CSV (.csv)": ("feedback-csv", "feedback.csv", "CSV (*.csv)"),
    "Feedback log, JSONL (.jsonl)": ("feedback-jsonl", "feedback.jsonl", "JSON lines (*.jsonl)"),
    "Training metrics for TensorBoard (folder)": ("tensorboard", "tensorboard", ""),
}
# listed too for a project with a generate task
GENERATE_FORMAT = {GENERATE_NAME: ("generate", "drafting-model", "")}
MODEL_FORMATS = ("torchscript", "onnx", "generate")
DESCRIPTION = {
    "torchscript": "The current model as a TorchScript program taking plain tensors, with a JSON "
    "description of its inputs and labels beside it; checked against the live model.",
    "onnx": "The current model as ONNX (opset 18) with a JSON description of its inputs and "
    "labels; checked with onnxruntime against the live model.",
    "feedback-csv": "Every answer, skip and undo with annotator, time, shown label and its "
    "propensity — the full audit trail. No file paths or patient identifiers.",
    "feedback-jsonl": "The same audit trail as CSV, one JSON object per line.",
    "tensorboard": "The training metrics (thumbs-up rate, loss, KL, held-out accuracy) as "
    "TensorBoard event logs, one folder per training run.",
    "generate": "The generate task's LoRA adapters (adapters/, with the base model they belong "
    "to) and the base model with them merged (merged/, safetensors and tokenizer: transformers "
    "loads it without this app); reloaded and checked. Written by a process of its own.",
}
PSEUDONYM_TEXT = (
    "Item ids are file names and can contain a patient's name. With this box ticked each id is "
    "replaced by a code such as item-3f9a0c1d2b4e5f60, the same code for the same item in every "
    "export of this project. The key stays in the project folder (pseudonym.key): do not send it "
    "along. To map codes back, export once more without this box and match the event_id column."
)
PSEUDONYM_NA = "Models and training metrics contain no item ids; nothing to replace."


def export_job(project_root: str, fmt: str, out: str, pseudonymize: bool = False):
    """The Qt-free work; returns the sentence to show."""

    def run(state) -> str:
        from mmrl_desktop.core.data.project import Project

        project = Project.open(project_root)
        if fmt.startswith("feedback"):
            from mmrl_desktop.core.data.pseudonyms import project_key
            from mmrl_desktop.core.tools.feedback_export import export_feedback

            key = project_key(project.root) if pseudonymize else None
            with project.open_store() as store:
                s = export_feedback(store, out, fmt, pseudonym_key=key)
            return (
                f"Wrote {_n(s['rows'], 'event')} ({_n(s['feedback'], 'answer')}, "
                f"{_n(s['skips'], 'skip')}, {_n(s['retractions'], 'undo')}) to {s['path']}"
                f"{', with pseudonymous item ids' if key else ''}."
            )
        from mmrl_desktop.core.tools import export

        if fmt == "generate":
            return _generate_sentence(export_generate_apart(project_root, out))
        if fmt == "tensorboard":
            s = export.export_tensorboard(project, out)
            return (
                f"Wrote {s['scalars']} values of {len(s['keys'])} metrics from {s['runs']} "
                f"training run{'s' if s['runs'] != 1 else ''} to {s['path']}. View them with "
                f"tensorboard --logdir {s['path']}"
            )
        info = export.export_model(project, fmt, out)
        diff = info.get("check", {}).get("max_abs_diff")
        check = (
            f" Re-loaded and checked: largest difference {diff:.1e}." if diff is not None else ""
        )
        return (
            f"Wrote model v{info.get('model_version', '?')} (step {info.get('step', '?')}) to "
            f"{info['path']}, described in {Path(info['sidecar']).name}.{check}"
        )

    return run


def _generate_sentence(info: dict) -> str:
    check = info.get("check", {})
    same = check.get("same_draft")
    checked = (
        " Reloaded with transformers: it drafts what the app's model drafts."
        if same
        else " Reloaded with transformers; its draft differs from the app's model's."
        if same is False
        else " Reloaded with transformers."
    )
    return (
        f"Wrote the {info['task']} task's adapters (policy v{info['policy_version']}, step "
        f"{info['step']}) to {info['adapters']} and the merged model to {info['merged']}."
        f"{checked}"
    )


class ExportDialog(QDialog):
    def __init__(self, project, parent=None, before_model_export=None):
        super().__init__(parent)
        self.project = project
        self.before_model_export = before_model_export
        self.task: BackgroundTask | None = None
        self.setWindowTitle(f"Export — {project.name}")
        self.resize(720, 380)
        self.format = QComboBox()
        self.formats = dict(FORMATS)
        if getattr(project, "generate_tasks", None):
            self.formats.update(GENERATE_FORMAT)
        self.format.addItems(list(self.formats))
        self._grey_out_unwritable()
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #718096;")
        self.pseudonymize = QCheckBox("Pseudonymous item ids")
        self.pseudonym_note = QLabel(PSEUDONYM_TEXT)
        self.pseudonym_note.setWordWrap(True)
        self.pseudonym_note.setStyleSheet("color: #718096;")
        form = QFormLayout()
        form.addRow("What", self.format)
        form.addRow("", self.description)
        form.addRow("Where", row)
        form.addRow("Privacy", self.pseudonymize)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.hide()
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.result.setObjectName("exportResult")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.export_button = self.buttons.addButton("Export", QDialogButtonBox.AcceptRole)
        self.export_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.pseudonym_note)  # outside the form: a wrapped label gets its height
        lay.addWidget(self.bar)
        lay.addWidget(self.result, 1)
        lay.addWidget(self.buttons)
        self.format.currentTextChanged.connect(self._format_changed)
        self._format_changed(self.format.currentText())

    def _grey_out_unwritable(self) -> None:
        """Formats whose packages are missing: not selectable, the tooltip says what to install."""
        model = self.format.model()
        for row, (key, _, _) in enumerate(self.formats.values()):
            reason = unavailable(key)
            if reason:
                item = model.item(row)
                item.setEnabled(False)
                item.setToolTip(reason[:1].upper() + reason[1:])

    def fmt(self) -> str:
        return self.formats[self.format.currentText()][0]

    def _format_changed(self, text: str) -> None:
        key, default, _ = self.formats[text]
        self.description.setText(DESCRIPTION[key])
        has_ids = key.startswith("feedback")
        self.pseudonymize.setEnabled(has_ids)
        self.pseudonym_note.setText(PSEUDONYM_TEXT if has_ids else PSEUDONYM_NA)
        current = self.path.text().strip()
        defaults = {str(self.project.exports_dir / d) for _, d, _ in self.formats.values()}
        if not current or current in defaults:
            self.path.setText(str(self.project.exports_dir / default))

    def _browse(self) -> None:
        _, default, filt = self.formats[self.format.currentText()]
        if not filt:
            path = QFileDialog.getExistingDirectory(self, "Export to folder", self.path.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path.text(), filt)
        if path:
            self.path.setText(path)

    def is_running(self) -> bool:
        return self.task is not None and self.task.is_running()

    def start(self) -> None:
        out = self.path.text().strip()
        if not out:
            QMessageBox.warning(self, "Export", "Choose where to write the export.")
            return
        fmt = self.fmt()
        reason = unavailable(fmt)
        if reason:
            self.result.setStyleSheet("color: #c53030;")
            self.result.setText(f"Nothing was exported: {reason}")
            return
        pseudo = fmt.startswith("feedback") and self.pseudonymize.isChecked()
        if fmt in MODEL_FORMATS and self.before_model_export is not None:
            self.before_model_export()
        self.export_button.setEnabled(False)
        self.format.setEnabled(False)
        self.pseudonymize.setEnabled(False)
        self.bar.show()
        self.result.setStyleSheet("")
        self.result.setText("Exporting…")
        job = export_job(str(self.project.root), fmt, out, pseudonymize=pseudo)
        self.task = BackgroundTask(job, "export")
        self.task.finished.connect(self._finished)
        self.task.failed.connect(self._failed)
        self.task.start()

    def _end(self) -> None:
        self.bar.hide()
        self.export_button.setEnabled(True)
        self.format.setEnabled(True)
        self.pseudonymize.setEnabled(self.fmt().startswith("feedback"))

    def _finished(self, sentence) -> None:
        self._end()
        self.result.setText(sentence or "The export was cancelled.")

    def _failed(self, text: str) -> None:
        self._end()
        self.result.setStyleSheet("color: #c53030;")
        self.result.setText(f"Nothing was exported: {text[:1].lower() + text[1:]}")

    def done(self, result: int) -> None:
        if self.task is not None:
            self.task.shutdown(30000)
        super().done(result)


def refresh_model(window) -> None:
    """Model export and evaluation read the newest checkpoint: restart a running trainer so
    that its closing checkpoint holds the current model."""
    if window.trainer.is_running():
        window.trainer.stop()
        window.trainer.start()


def open_export(window) -> ExportDialog:
    dlg = ExportDialog(window.project, window, before_model_export=lambda: refresh_model(window))
    dlg.open()
    return dlg


def _n(count: int, noun: str) -> str:
    """``1 skip``, ``3 skips``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
