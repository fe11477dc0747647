"""Settings: the annotator's name (user settings) and the project's algorithm and hyper-parameters.

The hyper-parameter fields are built from ``TrainConfig``'s dataclass fields, the "Algorithm
options" tab from the chosen algorithm's ``Options`` (``core/learning/algorithm_options.py``,
torch-free; rebuilt when the algorithm changes): each field's ``metadata["help"]`` is its tooltip
and the grey line under it. Values are validated through ``TrainConfig.from_dict`` and the
algorithm's ``parse_options`` — a bad value is reported as a sentence and nothing is saved. Only
options that differ from their defaults are written. The "Next item" tab chooses which item the
expert is asked next (``next_item``, its random share, the positive label for screening; issue
19); settings without an editor here (``augment``, ``orientation_free``) keep their values. The
"Encoders" tab chooses each modality's encoder (``encoder_picker.py``: the small built-in one or
a pretrained folder; issue 14), written to ``[encoders]``. A project with a generate task has a
"Drafts" tab (``generate_task_box.py``): its prompt, longest draft and temperature, written
to its ``[[tasks]]`` entry (the model folder and the drafts shown stay as created). On OK the
``[algorithm]`` table of project.toml is written (``Project.save``), the annotator is stored in the
user's settings and given to the running labeling session, and a running trainer is restarted so
it picks the new settings up.
"""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.config import (
    ALGORITHM_NAMES,
    DEVICES,
    NEXT_ITEM_NAMES,
    TrainConfig,
    help_table,
)
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.labelling.session import default_annotator
from mmrl_desktop.core.learning.algorithm_options import (
    OPTIONS,
    options_help,
    parse_options,
    typed,
)
from mmrl_desktop.gui.dialogs.encoder_picker import EncodersBox, device_text
from mmrl_desktop.gui.dialogs.generate_task_box import GenerateTaskBox, box_page

TITLES = {
    "algorithm": "Algorithm",
    "lr": "Learning rate",
    "batch_size": "Batch size",
    "epsilon": "Exploration ε",
    "kl_beta": "KL β",
    "updates_per_event": "Updates per answer",
    "gamma": "Discount γ",
    "weight_decay": "Weight decay",
    "grad_clip": "Gradient clip",
    "shrink_perturb": "Renewal λ (1 = off)",
    "renew_from": "First renewal at (answers)",
    "renew_catch_up": "Renewal catch-up (× answers)",
    "refit_until": "Refit while answers ≤",
    "refit_updates": "Updates per refit",
    "refit_growth": "Refit when answers grow ×",
    "refit_follow": "Refit follow-up (× share)",
    "draws_with_replacement": "Few answers drawn with replacement",
    "weight_average": "Shown model: weight average",
    "seed": "Random seed",
    "device": "Device",
    "cpu_threads": "CPU threads",
    "checkpoint_every": "Checkpoint every",
    "keep_checkpoints": "Checkpoints kept",
    "eval_every": "Evaluate every",
    "eval_items": "Held-out items",
    "cache_mb": "Feature cache (MB)",
    "next_item": "Next item",
    "next_item_random": "Random share",
    "positive_label": "Positive label",
}
LEARNING = ("algorithm", "lr", "batch_size", "epsilon", "kl_beta", "updates_per_event", "gamma")
NEXT = ("next_item", "next_item_random", "positive_label")
ADVANCED = tuple(k for k in TITLES if k not in LEARNING + NEXT)
FIXED = {"gamma"}  # shown, not editable: one-step feedback
ALGORITHM_SUMMARY = {
    "default": "A graph posterior over the project's items from every answer picks the label "
    "shown; a replayed softmax policy learns from the thumbs and the graph. Recommended.",
    "egreedy-q": "The source article's method: a reward (Q) head per label, ε-greedy choice.",
    "reinforce": "Policy gradient from thumbs with a per-item baseline, pulled toward the starting model.",
    "supervised": "Learns from the right labels: the upper bound when every answer carries "
    "one. Its option pseudo_weight lets the default's graph carry them to the items not yet "
    "answered.",
}
NEXT_ITEM_SUMMARY = {
    "shuffle": "A fixed random order: every answer is a random sample of the items.",
    "uncertain": "The model asks where it is least sure: fewer answers to a good model. The "
    "agreement figures then describe the hard cases it chose, not all items.",
    "diverse": "Uncertain items that differ from each other, so a run of questions is not the "
    "same case again and again.",
    "likely-positive": "Screening: the items most likely to carry the positive label first.",
}


def _scrolled(page: QWidget) -> QScrollArea:
    """``page`` in a frameless scroll area: its rows keep their height (a two-line help text is
    not squeezed into one) and a scroll bar appears when the dialog is shorter than the page."""
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.NoFrame)
    scroll.setWidget(page)
    return scroll


def humane(text: str) -> str:
    """A config error as a sentence that names the field as the dialog does."""
    for name in sorted(TITLES, key=len, reverse=True):
        for prefix in (f"TrainConfig.{name} ", f"{name} "):
            if text.startswith(prefix):
                text = TITLES[name] + " " + text[len(prefix) :]
    return text[:1].upper() + text[1:]


def option_title(name: str) -> str:
    """``graph_k`` → "Graph k": an option's name as the dialog shows it."""
    return name.replace("_", " ").capitalize()


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class SettingsDialog(QDialog):
    """Edit the annotator and the project's TrainConfig. ``result_config`` after OK."""

    def __init__(self, project, user_settings: UserSettings, parent=None):
        super().__init__(parent)
        self.project = project
        self.user_settings = user_settings
        self.setWindowTitle("Settings")
        self.resize(640, 600)
        try:
            current = TrainConfig.from_dict(project.algorithm)
        except UserError as err:  # a hand-edited project.toml: start from the defaults
            current = TrainConfig()
            self._load_problem = str(err)
        else:
            self._load_problem = ""
        self.current = current
        self.result_config: TrainConfig | None = None
        self.editors: dict[str, QWidget] = {}
        self.tabs = tabs = QTabWidget()
        general = QWidget()
        form = QFormLayout(general)
        self.annotator = QLineEdit(user_settings.annotator)
        self.annotator.setPlaceholderText(default_annotator())
        self.annotator.setMaxLength(100)
        form.addRow("Annotator", self.annotator)
        form.addRow(
            "",
            self._describe(
                "Your name in the feedback log and in exports. Empty: "
                f"the computer's user name ({default_annotator()})."
            ),
        )
        tabs.addTab(general, "General")
        for title, names in (("Learning", LEARNING), ("Next item", NEXT), ("Advanced", ADVANCED)):
            tabs.addTab(_scrolled(self._config_page(names)), title)
        self._next_item_changed(current.next_item)
        self.option_editors: dict[str, QLineEdit] = {}
        self.options_page = QWidget()
        self.options_form = QFormLayout(self.options_page)
        self.options_form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
        self._fill_options(current.algorithm, current.options)
        # the default algorithm has ~25 options: the dialog fits a screen
        tabs.addTab(_scrolled(self.options_page), "Algorithm options")
        tabs.addTab(self._encoders_page(), "Encoders")
        self.generate_box = None  # the first generate task's drafting settings
        if getattr(project, "generate_tasks", None):
            self.generate_box = GenerateTaskBox(project.generate_tasks[0], editable_model=False)
            tabs.addTab(box_page(self.generate_box), "Drafts")
            self.resize(700, 600)  # seven tabs side by side
        self._generate = []
        self.problem = QLabel(self._load_problem)
        self.problem.setObjectName("settingsProblem")
        self.problem.setStyleSheet("color: #c53030;")
        self.problem.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        lay = QVBoxLayout(self)
        lay.addWidget(tabs, 1)
        lay.addWidget(self.problem)
        lay.addWidget(buttons)

    def _config_page(self, names) -> QWidget:
        """TrainConfig's fields ``names``: an editor each, its help as tooltip and grey line."""
        help_of = {name: text for name, _default, text in help_table(TrainConfig)}
        page = QWidget()
        form = QFormLayout(page)
        form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
        for name in names:
            editor = self._editor(name, getattr(self.current, name))
            editor.setToolTip(help_of[name])
            self.editors[name] = editor
            form.addRow(TITLES[name], editor)
            text = help_of[name]
            if name == "algorithm":
                self.algo_note = self._describe(ALGORITHM_SUMMARY.get(self.current.algorithm, ""))
                editor.currentTextChanged.connect(self._algorithm_changed)
                form.addRow("", self.algo_note)
                continue
            if name == "next_item":
                self.next_note = self._describe(NEXT_ITEM_SUMMARY[self.current.next_item])
                editor.currentTextChanged.connect(self._next_item_changed)
                form.addRow("", self.next_note)
                continue
            form.addRow("", self._describe(text[:1].upper() + text[1:] + "."))
        return page

    def _encoders_page(self) -> QWidget:
        """Each modality's encoder; a pretrained folder shows what it holds or why it is refused."""
        self.encoders_before = dict(getattr(self.project, "encoders", None) or {})
        self.encoders = EncodersBox(
            self.encoders_before, device_text(self.current.device), root=self.project.root
        )
        page = QWidget()
        lay = QVBoxLayout(page)
        lay.addWidget(self.encoders)
        lay.addWidget(
            self._describe(
                "A pretrained encoder is a Hugging Face model folder on this computer (config.json "
                "and .safetensors; nothing is downloaded, no code from the folder is run). Each "
                "item's embedding is computed once, in the background, and kept in the project."
            )
        )
        lay.addStretch(1)
        return page

    @staticmethod
    def _describe(text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        label.setStyleSheet("color: #718096; font-size: 9pt;")
        return label

    def _editor(self, name: str, value) -> QWidget:
        choices = {"algorithm": ALGORITHM_NAMES, "device": DEVICES, "next_item": NEXT_ITEM_NAMES}
        if name == "positive_label":  # the first task's labels ("": none chosen)
            tasks = getattr(self.project, "tasks", [])
            choices[name] = ("", *(tasks[0].labels if tasks else ()))
        if name in choices:
            box = QComboBox()
            box.addItems(list(choices[name]))
            if str(value) not in choices[name]:  # a label no longer in the project: kept
                box.addItem(str(value))
            box.setCurrentText(str(value))
            return box
        line = QLineEdit(_format(value))
        if name in FIXED:
            line.setReadOnly(True)
            line.setEnabled(False)
        return line

    def _algorithm_changed(self, name: str) -> None:
        text = ALGORITHM_SUMMARY.get(name, "")
        if name != self.current.algorithm:
            text += " Changing the algorithm starts from a fresh model; its checkpoints are kept."
        self.algo_note.setText(text)
        same = name == self.current.algorithm
        self._fill_options(name, self.current.options if same else {})

    def _next_item_changed(self, name: str) -> None:
        self.next_note.setText(NEXT_ITEM_SUMMARY.get(name, ""))
        self.editors["positive_label"].setEnabled(name == "likely-positive")

    def _fill_options(self, algorithm: str, values: dict) -> None:
        """One editor per option of ``algorithm``: its value (else the default), its help as the
        tooltip and the grey line under it."""
        while self.options_form.rowCount():
            self.options_form.removeRow(0)
        self.option_editors = {}
        self.options_algorithm = algorithm
        rows = options_help(algorithm)
        if not rows:
            self.options_form.addRow(self._describe(f"{algorithm} has no options of its own."))
        for name, default, text in rows:
            editor = QLineEdit(_format(values.get(name, default)))
            editor.setToolTip(text)
            editor.setObjectName(f"option_{name}")
            self.option_editors[name] = editor
            self.options_form.addRow(option_title(name), editor)
            self.options_form.addRow("", self._describe(text[:1].upper() + text[1:] + "."))

    # ------------------------------------------------------------ values
    def values(self) -> dict:
        """The edited fields as a dict for ``TrainConfig.from_dict`` (UserError on bad text)."""
        kinds = {
            f.name: f.type if isinstance(f.type, str) else f.type.__name__
            for f in fields(TrainConfig)
        }
        out = self.current.to_dict()  # settings without an editor (augment, …) are kept
        for name, editor in self.editors.items():
            if isinstance(editor, QComboBox):
                out[name] = editor.currentText()
                continue
            text = editor.text().strip()
            try:
                out[name] = int(text) if kinds[name] == "int" else float(text)
            except ValueError:
                kind = "a whole number" if kinds[name] == "int" else "a number"
                raise UserError(f"{TITLES[name]} must be {kind}, not {text!r}.") from None
        out["options"] = self.option_values()
        return out

    def option_values(self) -> dict:
        """The options that differ from the algorithm's defaults, typed as the defaults are."""
        out = {}
        for name, default, _ in options_help(self.options_algorithm):
            text = self.option_editors[name].text().strip()
            if text == _format(default):
                continue
            try:
                out[name] = typed(default, text)
            except ValueError:
                kinds = {bool: "true or false", int: "a whole number", float: "a number"}
                kind = kinds.get(type(default), "text")
                raise UserError(f"{option_title(name)} must be {kind}, not {text!r}.") from None
        return out

    def validated(self) -> TrainConfig:
        cfg = TrainConfig.from_dict(self.values())
        parse_options(OPTIONS[cfg.algorithm], cfg.options, cfg.algorithm)  # a sentence if bad
        return cfg

    def accept(self) -> None:
        try:
            cfg = self.validated()
            if not self.encoders.is_complete():
                raise UserError(" ".join(self.encoders.problems()))
            self._generate = self.generate_box.tasks() if self.generate_box else []
        except UserError as err:
            text = humane(str(err))
            self.problem.setText(text)
            QMessageBox.warning(self, "Settings", text)
            return
        self.result_config = cfg
        self.save()
        super().accept()

    def save(self) -> None:
        """Write the [algorithm] table (only what differs from the defaults) and the annotator."""
        cfg = self.result_config
        defaults = TrainConfig().to_dict()
        table = {k: v for k, v in cfg.to_dict().items() if v != defaults[k]}
        self.project.algorithm = table
        self.project.encoders = self.encoders.table()
        for new in self._generate:  # the edited generate task, in its place
            tasks = self.project.generate_tasks
            self.project.generate_tasks = [new if t.name == new.name else t for t in tasks]
        self.project.save()
        self.user_settings.annotator = self.annotator.text().strip()
        try:
            self.user_settings.save()
        except OSError:
            pass  # a read-only config folder keeps the name for this session only


def apply_to_window(window, dialog: SettingsDialog) -> None:
    """After OK: the running session uses the new annotator; a running trainer restarts."""
    name = dialog.user_settings.annotator or None
    window.annotator = name
    if window.labeling is not None:
        window.labeling.session.annotator = name or default_annotator()
    trainer = window.trainer
    if trainer.is_running():
        trainer.stop()
        trainer.start()


def open_settings(window) -> SettingsDialog:
    dlg = SettingsDialog(window.project, UserSettings.load(), window)
    dlg.accepted.connect(lambda: apply_to_window(window, dlg))
    dlg.setWindowModality(Qt.WindowModal)
    dlg.open()
    return dlg
