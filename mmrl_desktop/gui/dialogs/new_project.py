"""New-project wizard: source → project folder and name → tasks and labels (and, optionally, a
task whose answer a local language model drafts: ``generate_task_box``) → model → import.

The last page creates the project (``Project.create``), copies a chosen weights file into it
(so the folder stays self-contained), writes the pretrained encoder folders chosen on the Model
page to ``[encoders]`` (by path: a 1 GB model is not copied) and imports the source in the background with a progress bar
and a cancel button; it ends with the import report. ``projectCreated(path)`` then tells the
main window to open the new project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizard,
    QWizardPage,
)

from mmrl_desktop.core.data.project import DEFAULT_TASK, PROJECT_FILE, Project, Task
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.gui.dialogs.encoder_picker import EncodersBox
from mmrl_desktop.gui.dialogs.generate_task_box import GenerateTaskBox
from mmrl_desktop.gui.dialogs.import_dialog import (
    ImportPanel,
    check_source,
    holdout_field,
    source_row,
)
from mmrl_desktop.gui.dialogs.wizard_helpers import (  # noqa: F401 (re-exported)
    guess_labels,
    parse_tasks,
    slug,
)
from mmrl_desktop.gui.sentence import sentence
from mmrl_desktop.paths import user_data_dir

WEIGHTS_SUFFIXES = (".safetensors", ".pt")
# label → (project.toml [model] keys, needs a weights file)
MODEL_PRESETS: dict[str, tuple[dict, bool]] = {
    "Small CNN (fast, default)": ({"image_encoder": "small-cnn"}, False),
    "ResNet-18 (from a local weights file…)": ({"image_encoder": "resnet18"}, True),
    "ResNet-34 (from a local weights file…)": ({"image_encoder": "resnet34"}, True),
    "MobileNet V3 small (from a local weights file…)": (
        {"image_encoder": "mobilenet_v3_small"},
        True,
    ),
    "EfficientNet-B0 (from a local weights file…)": ({"image_encoder": "efficientnet_b0"}, True),
}


# ---------------------------------------------------------------- Qt-free helpers
def create_job(
    root: str,
    name: str,
    tasks: list[Task],
    model: dict,
    weights: str,
    source: str,
    holdout: float | None = None,
    algorithm: dict | None = None,
    encoders: dict | None = None,
    generate_tasks: list | None = None,
):
    """The background work of the last page: create, copy weights, import (``holdout``: the
    fraction of labelled items kept for evaluation; None: the default; ``algorithm``: project.toml's
    ``[algorithm]`` table, e.g. ``orientation_free``; ``encoders``: its ``[encoders]`` table,
    modality → pretrained model folder; ``generate_tasks``: ``GenerateTask``s written beside the
    label tasks)."""
    from mmrl_desktop.gui.dialogs.import_dialog import import_job

    def run(state):
        model_table = dict(model)
        project = Project.create(
            root,
            name=name,
            tasks=tasks,
            model=model_table,
            algorithm=algorithm,
            source=source,
            generate_tasks=generate_tasks,
        )
        if weights:
            dest = project.root / "weights" / Path(weights).name
            dest.parent.mkdir(exist_ok=True)
            shutil.copyfile(weights, dest)
            project.model["weights_path"] = str(dest.relative_to(project.root))
            project.save()
        if encoders:
            project.encoders = dict(encoders)
            project.save()
        return import_job(str(project.root), source, tasks[0].name, holdout)(state)

    return run


# ---------------------------------------------------------------- pages
class SourcePage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Where are your cases?")
        self.setSubTitle(
            "A folder with one sub-folder per label (folder/label/files), or a manifest "
            "(items.csv / items.jsonl with columns id, image, audio, text, label)."
        )
        self.source = QLineEdit()
        self.source.setPlaceholderText("choose a folder or a manifest")
        self.source.textChanged.connect(self.completeChanged)
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.addLayout(source_row(self, self.source))
        lay.addWidget(self.hint)
        lay.addStretch(1)
        self.registerField("source*", self.source)

    def isComplete(self) -> bool:  # noqa: N802
        problem = check_source(self.source.text())
        self.hint.setText(problem or "")
        return problem is None


class ProjectPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Name the project")
        self.setSubTitle("The project folder will hold the answers, the model and its checkpoints.")
        self.name = QLineEdit()
        self.location = QLineEdit(str(user_data_dir() / "projects"))
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.folder = QLabel()
        self.folder.setWordWrap(True)
        loc = QHBoxLayout()
        loc.addWidget(self.location, 1)
        loc.addWidget(browse)
        form = QFormLayout(self)
        form.addRow("Project name", self.name)
        form.addRow("Create it in", loc)
        form.addRow("Project folder", self.folder)
        for w in (self.name, self.location):
            w.textChanged.connect(self._update)
        self.registerField("name*", self.name)

    def initializePage(self) -> None:  # noqa: N802
        if not self.name.text():
            src = Path(self.field("source")).expanduser()
            self.name.setText(src.stem if src.is_file() else src.name)

    def _browse(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Create the project in", self.location.text())
        if path:
            self.location.setText(path)

    def project_dir(self) -> Path:
        return Path(self.location.text().strip()).expanduser() / slug(self.name.text())

    def _update(self) -> None:
        self.folder.setText(str(self.project_dir()))
        self.completeChanged.emit()

    def validatePage(self) -> bool:  # noqa: N802
        root = self.project_dir()
        if (root / PROJECT_FILE).exists():
            QMessageBox.warning(self, "New project", f"{root} already holds a project.")
            return False
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            QMessageBox.warning(
                self, "New project", f"{root} exists and is not empty; choose another name."
            )
            return False
        return True


class TasksPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Tasks and labels")
        self.setSubTitle(
            "A task is a question asked of every item. Labels are separated by commas; each "
            "task needs at least two. Imported labels go to the first task."
        )
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["Task", "Labels (comma-separated)"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.setColumnWidth(0, 160)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        add = QPushButton("Add task")
        remove = QPushButton("Remove task")
        add.clicked.connect(lambda: self.add_row("", ""))
        remove.clicked.connect(self._remove)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        self.holdout, self.holdout_note, hold_row = holdout_field()
        self.generate = GenerateTaskBox()  # optional: a task whose answer a language model drafts
        self.generate.changed.connect(self.completeChanged)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        lay.addLayout(hold_row)
        lay.addWidget(self.holdout_note)
        lay.addSpacing(6)
        lay.addWidget(self.generate)
        self._source = None

    def add_row(self, task: str, labels: str) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        self.table.setItem(r, 0, QTableWidgetItem(task))
        self.table.setItem(r, 1, QTableWidgetItem(labels))

    def _remove(self) -> None:
        if self.table.rowCount() > 1:
            self.table.removeRow(max(0, self.table.currentRow()))

    def initializePage(self) -> None:  # noqa: N802
        source = self.field("source")
        if source == self._source:
            return  # keep the user's edits when they come back
        self._source = source
        self.table.setRowCount(0)
        self.add_row(DEFAULT_TASK, ", ".join(guess_labels(source)))

    def rows(self) -> list[tuple[str, str]]:
        out = []
        for r in range(self.table.rowCount()):
            cells = [self.table.item(r, c) for c in (0, 1)]
            out.append(tuple(c.text() if c is not None else "" for c in cells))
        return out

    def tasks(self) -> list[Task]:
        return parse_tasks(self.rows())

    def holdout_fraction(self) -> float:
        return self.holdout.value() / 100.0

    def generate_tasks(self) -> list:
        """The drafted-text task (``[]`` when its box is unticked); a ``UserError`` sentence."""
        tasks = self.generate.tasks()
        if {t.name for t in tasks} & {t.name for t in self.tasks()}:
            raise UserError("the drafted-text task and a label task have the same name.")
        return tasks

    def isComplete(self) -> bool:  # noqa: N802
        return self.generate.is_complete()

    def validatePage(self) -> bool:  # noqa: N802
        if self.generate.problem():
            return False  # its sentence is already shown under the field
        try:
            self.tasks()
            self.generate_tasks()
        except UserError as err:
            QMessageBox.warning(self, "Tasks and labels", sentence(str(err)))
            return False
        return True


class ModelPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Model")
        self.setSubTitle(
            "Nothing is downloaded. The small built-in encoders train from scratch in seconds; a "
            "larger one needs a weights file or a pretrained model folder on this computer."
        )
        self.encoders = EncodersBox(image_builtin=tuple(MODEL_PRESETS))
        self.preset = self.encoders.pickers["image"].combo  # the torchvision presets, as before
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("a .safetensors or .pt file")
        self.browse = QPushButton("Choose…")
        self.browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.weights, 1)
        row.addWidget(self.browse)
        self.note = QLabel(
            "A pretrained folder (Hugging Face: config.json and .safetensors) is used where it "
            "is, not copied; each item's embedding is computed once, in the background. The "
            "model reads every modality found in your data."
        )
        self.note.setWordWrap(True)
        self.orientation_free = QCheckBox(
            "The label does not depend on orientation (a flipped or turned image means the same)"
        )
        self.orientation_free.setToolTip(
            "Training then also shows the model images flipped and turned by 90°: right for "
            "photos of shapes, cells or textures; wrong for a radiograph's left and right or "
            "a 6 and a 9. Saved as orientation_free in project.toml."
        )
        form = QFormLayout(self)
        form.addRow(self.encoders)
        form.addRow("Weights file", row)
        form.addRow("", self.note)
        form.addRow("", self.orientation_free)
        self.preset.currentTextChanged.connect(self._update)
        self.weights.textChanged.connect(self.completeChanged)
        self.encoders.changed.connect(self.completeChanged)
        self._update()

    def needs_weights(self) -> bool:
        return MODEL_PRESETS.get(self.preset.currentText(), ({}, False))[1]

    def _update(self) -> None:
        need = self.needs_weights()
        self.weights.setEnabled(need)
        self.browse.setEnabled(need)
        self.completeChanged.emit()

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Weights file", "", "Weights (*.safetensors *.pt)"
        )
        if path:
            self.weights.setText(path)

    def model_table(self) -> dict:
        return dict(MODEL_PRESETS.get(self.preset.currentText(), ({}, False))[0])

    def encoders_table(self) -> dict:
        """project.toml's ``[encoders]``: modality → the pretrained folders chosen here."""
        return self.encoders.table()

    def algorithm_table(self) -> dict:
        """project.toml's ``[algorithm]`` settings chosen on this page."""
        return {"orientation_free": True} if self.orientation_free.isChecked() else {}

    def weights_file(self) -> str:
        return self.weights.text().strip() if self.needs_weights() else ""

    def isComplete(self) -> bool:  # noqa: N802
        weights_ok = not self.needs_weights() or bool(self.weights.text().strip())
        return weights_ok and self.encoders.is_complete()

    def validatePage(self) -> bool:  # noqa: N802
        path = self.weights_file()
        if not path:
            return True
        p = Path(path).expanduser()
        problem = None
        if p.suffix.lower() not in WEIGHTS_SUFFIXES:
            problem = f"{p.name} is not a weights file: choose a .safetensors or .pt file."
        elif not p.is_file():
            problem = f"There is no file at {p}."
        if problem:
            QMessageBox.warning(self, "Model", problem)
            return False
        return True


class ImportPage(QWizardPage):
    def __init__(self):
        super().__init__()
        self.setTitle("Creating the project")
        self.setSubTitle("Your files are read in the background; unreadable ones are listed.")
        self.panel = ImportPanel()
        self.panel.done.connect(self._done)
        lay = QVBoxLayout(self)
        lay.addWidget(self.panel)
        self.summary: dict | None = None
        self._finished = False

    def initializePage(self) -> None:  # noqa: N802
        wiz: NewProjectWizard = self.wizard()
        self._finished = False
        self.setCommitPage(True)  # no way back once the folder exists
        job = create_job(
            str(wiz.project_dir()),
            wiz.project_page.name.text().strip(),
            wiz.tasks_page.tasks(),
            wiz.model_page.model_table(),
            wiz.model_page.weights_file(),
            str(Path(self.field("source")).expanduser()),
            wiz.tasks_page.holdout_fraction(),
            wiz.model_page.algorithm_table(),
            wiz.model_page.encoders_table(),
            wiz.tasks_page.generate_tasks(),
        )
        self.panel.run(job, "Creating the project and importing…")

    def _done(self, summary) -> None:
        self.summary = summary
        self._finished = True
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self._finished


class NewProjectWizard(QWizard):
    projectCreated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New project")
        self.setWizardStyle(QWizard.ClassicStyle)
        self.setOption(QWizard.NoBackButtonOnLastPage, True)
        # the last page creates the project: there is nothing left to cancel, only to open
        self.setOption(QWizard.NoCancelButtonOnLastPage, True)
        self.resize(780, 680)  # the Model page's three encoder choices, the drafted-text task
        self.source_page = SourcePage()
        self.project_page = ProjectPage()
        self.tasks_page = TasksPage()
        self.model_page = ModelPage()
        self.import_page = ImportPage()
        for page in (
            self.source_page,
            self.project_page,
            self.tasks_page,
            self.model_page,
            self.import_page,
        ):
            self.addPage(page)
        self.setButtonText(QWizard.FinishButton, "Open the project")

    def project_dir(self) -> Path:
        return self.project_page.project_dir()

    def accept(self) -> None:
        summary = self.import_page.summary
        super().accept()
        if summary is not None and (summary["imported"] > 0 or summary["items"] > 0):
            self.projectCreated.emit(str(self.project_dir()))
        elif (self.project_dir() / PROJECT_FILE).exists():
            QMessageBox.information(
                self.parentWidget(),
                "New project",
                f"The project was created at {self.project_dir()} but holds no items yet. "
                "Open it and use File → Import data… to add some.",
            )

    def reject(self) -> None:
        panel = self.import_page.panel
        if panel.is_running():
            panel.cancel()
            panel.shutdown(10000)
        super().reject()

    def done(self, result: int) -> None:
        self.import_page.panel.shutdown(10000)
        super().done(result)


def open_new_project(window) -> NewProjectWizard:
    wiz = NewProjectWizard(window)
    wiz.projectCreated.connect(window.open_project)
    wiz.open()
    return wiz
