"""A generate task's settings in the window (issue 16): the New-project wizard's optional
"Drafted text" group and Settings' "Drafts" tab.

``GenerateTaskBox`` is a group with a checkbox in its title (unticked: no generate task, as
before): the task's name, the prompt the expert writes once, the model folder (Browse… a folder),
the longest draft in tokens, the sampling temperature and the number of drafts shown. The model
folder is checked as it is typed by ``check_lm_folder`` (config.json, the file names and the
safetensors headers: milliseconds, neither torch nor transformers imported — the language model
is only ever loaded by the trainer process, ADR 0017); the line under the field says what the
folder holds, or why it is refused in one sentence, and ``problem()`` keeps the wizard's Next
button off until it is fixed. ``tasks()`` is the ``GenerateTask`` list ``Project.create`` writes
to project.toml, validated by the core as a hand-written one is.

In Settings (``editable_model=False``) the box is not checkable and the model folder is shown,
not edited (the adapters learnt so far belong to that model), nor is the number of drafts shown
(the draft panel is built for it when the project opens).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.generate_task import GenerateTask
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.generate.lm_folder import check_lm_folder
from mmrl_desktop.gui.sentence import sentence
from mmrl_desktop.gui.widgets import NOTE_ERROR, NOTE_INFO, show_note

TITLE = "Drafted text (a language model writes the answer)"
DEFAULT_NAME = "finding"
PROMPT_EXAMPLE = "One-line finding:"


class GenerateTaskBox(QGroupBox):
    """One generate task's settings; ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, task: GenerateTask | None = None, editable_model: bool = True, parent=None):
        super().__init__(TITLE if editable_model else "", parent)
        self.setObjectName("generateTaskBox")
        self.editable_model = editable_model
        self._base = task.settings if task is not None else GenerateConfig()
        self.name = QLineEdit(task.name if task is not None else DEFAULT_NAME)
        self.name.setEnabled(task is None)  # the answers in the store are filed under it
        self.prompt = QLineEdit(self._base.prompt)
        self.prompt.setPlaceholderText(f"e.g. {PROMPT_EXAMPLE}")
        self.folder = QLineEdit(self._base.model)
        self.folder.setPlaceholderText("a Hugging Face model folder (config.json + .safetensors)")
        self.folder.setReadOnly(not editable_model)
        self.folder.setToolTip(
            "A causal language model drafts from each item's text; a vision-language model "
            "(saved with its image processor) from the image too. Nothing is downloaded."
        )
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self.choose_folder)
        self.browse.setVisible(editable_model)
        self.note = QLabel("")
        self.note.setObjectName("generateModelInfo")
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Minimum)
        self.max_new_tokens = _spin(1, 1024, self._base.max_new_tokens, " tokens")
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 5.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setDecimals(2)
        self.temperature.setValue(self._base.temperature)
        self.temperature.setToolTip("0 = always the most likely words (greedy)")
        self.candidates = _spin(1, 4, self._base.candidates, "")
        self.candidates.setEnabled(editable_model)  # the draft panel is built for this many
        self._lay_out()
        for edit in (self.name, self.prompt, self.folder):
            edit.textChanged.connect(self._update)
        for spin in (self.max_new_tokens, self.temperature, self.candidates):
            spin.valueChanged.connect(self.changed)
        if editable_model:
            self.setCheckable(True)
            self.setChecked(False)
            self.toggled.connect(self._update)
        self._update()

    def _lay_out(self) -> None:
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        folder_cell = QVBoxLayout()  # the note right under the field, as tall as its text
        folder_cell.setContentsMargins(0, 0, 0, 0)
        folder_cell.setSpacing(2)
        folder_cell.addLayout(folder_row)
        folder_cell.addWidget(self.note)
        numbers = QHBoxLayout()
        numbers.setContentsMargins(0, 0, 0, 0)
        numbers.addWidget(self.max_new_tokens)
        numbers.addSpacing(16)
        numbers.addWidget(QLabel("Temperature"))
        numbers.addWidget(self.temperature)
        numbers.addSpacing(16)
        numbers.addWidget(QLabel("Drafts shown"))
        numbers.addWidget(self.candidates)
        numbers.addStretch(1)
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
        form.addRow("Task name", self.name)
        form.addRow("Prompt", self.prompt)
        form.addRow("Model folder", folder_cell)
        form.addRow("Longest draft", numbers)

    # ------------------------------------------------------------ state
    def is_on(self) -> bool:
        return not self.isCheckable() or self.isChecked()

    def problem(self) -> str:
        """Why the task cannot be written yet (one sentence), or "" (also when unticked)."""
        if not self.is_on():
            return ""
        if not self.prompt.text().strip():
            return f"Write the prompt the model answers (e.g. {PROMPT_EXAMPLE})."
        return self._folder_problem

    def is_complete(self) -> bool:
        return not self.problem()

    def settings(self) -> GenerateConfig:
        """The task's settings: the fields here, the others (LoRA rank, KTO β…) as they were."""
        return dataclasses.replace(
            self._base,
            prompt=self.prompt.text().strip(),
            model=self.folder.text().strip(),
            max_new_tokens=self.max_new_tokens.value(),
            temperature=round(self.temperature.value(), 2),
            candidates=self.candidates.value(),
        )

    def tasks(self) -> list[GenerateTask]:
        """``[the generate task]`` validated by the core (a ``UserError`` sentence), or ``[]``
        when the box is unticked."""
        if not self.is_on():
            return []
        if self.problem():
            raise UserError(self.problem())
        task = GenerateTask(self.name.text().strip(), self.settings())
        task.validate()
        return [task]

    def choose_folder(self) -> None:
        start = self.folder.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, "Language model folder", start)
        if path:
            self.folder.setText(path)

    # ------------------------------------------------------------ reactions
    def _update(self, *_args) -> None:
        self._folder_problem = ""
        text = self.folder.text().strip()
        if not self.is_on():
            show_note(self.note, "", NOTE_INFO)
        elif not text:
            self._folder_problem = "Choose the language model's folder."
            show_note(self.note, self._folder_problem, NOTE_ERROR)
        elif not self.editable_model:
            show_note(
                self.note,
                "Kept as created: the drafts and adapters belong to this model.",
                NOTE_INFO,
            )
        else:
            try:
                info = check_lm_folder(text)
            except UserError as err:  # "<the path> has no …": the path is in the box above
                msg = str(err)
                if msg.startswith(text + " "):
                    msg = "This folder" + msg[len(text) :]
                self._folder_problem = sentence(msg)
                show_note(self.note, self._folder_problem, NOTE_ERROR)
            else:
                reads = "image and text" if info.vision else "text"
                show_note(
                    self.note,
                    f"{info.describe()}: reads each item's {reads}; the trainer loads it.",
                    NOTE_INFO,
                )
        self.changed.emit()


def _spin(low: int, high: int, value: int, suffix: str) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setSuffix(suffix)
    return spin


def box_page(box: GenerateTaskBox) -> QWidget:
    """A Settings tab holding ``box``."""
    page = QWidget()
    form = QFormLayout(page)
    form.addRow(box)
    return page
