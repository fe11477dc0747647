"""Evaluation view: the current model beside the starting model (and a chosen checkpoint).

``core.evaluation.evaluate.evaluate_project`` runs on a background thread with its own project and store
and the task's ``TaskState`` (``core/tasks.py``: the bar shows the items scored, Close cancels);
the view shows its JSON-ready result (the shape ``mmrl-desktop evaluate --json`` prints):
accuracy, macro-F1, ECE and the off-policy thumbs-up estimates (IPS, SNIPS, DR with their
confidence intervals, from the answers each model has not trained on) side by side; per-class
precision/recall; a confusion-matrix heat map; and a reliability diagram (pyqtgraph) whose legend
names every line. Below the table, one sentence per figure that could not be given (too few
answers after a model's checkpoint) and what each ECE was computed on. A chosen checkpoint is
evaluated in a second pass and merged in as a third column. Close closes the dialog.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from mmrl_desktop.core.learning.ckpt_files import WEIGHTS_GLOB
from mmrl_desktop.core.tasks import TaskState
from mmrl_desktop.gui.background import BackgroundTask
from mmrl_desktop.gui.dialogs import evaluation_notes as why
from mmrl_desktop.gui.dialogs.evaluation_text import (
    NAMES,
    OPE_ROWS,
    SHORT,
    describe_models,
    notes_of,
    num,
    ope_cell,
    pct,
)

MODEL_COLOURS = {"current": "#3182ce", "reference": "#a0aec0"}
OTHER_COLOUR = "#dd6b20"


def evaluation_job(project_root: str, checkpoint: str | None):
    """Current vs starting model; with ``checkpoint``, a second pass adds it as a third model."""

    def run(state: TaskState) -> dict:
        from mmrl_desktop.core.data.project import Project
        from mmrl_desktop.core.evaluation.evaluate import evaluate_project

        project = Project.open(project_root)
        passes = 2 if checkpoint else 1
        result = evaluate_project(project, state=state.part(0, passes))
        if checkpoint:  # a cancel in either pass raises tasks.Cancelled: finished(None)
            other = evaluate_project(project, checkpoint=checkpoint, state=state.part(1, passes))
            merge_checkpoint(result, other)
        return result

    return run


def merge_checkpoint(result: dict, other: dict) -> dict:
    """Add ``other``'s "checkpoint" model (named after its file) to ``result``."""
    model = next(m for m in other["models"] if m["name"] == "checkpoint")
    name = Path(model["source"]).stem
    result["models"].append({**model, "name": name})
    for t, entry in result["tasks"].items():
        o = other["tasks"].get(t, {})
        if "checkpoint" in o.get("holdout", {}):
            entry["holdout"][name] = o["holdout"]["checkpoint"]
        if "checkpoint" in o.get("ope", {}):
            entry["ope"][name] = o["ope"]["checkpoint"]
        if "checkpoint" in o.get("calibration", {}):
            entry.setdefault("calibration", {})[name] = o["calibration"]["checkpoint"]
    return result


DIAGONAL = "Perfectly calibrated"
FIT_ROWS = 12  # the confusion matrix shows this many labels without a scroll bar


def _item(text: str, align=Qt.AlignRight | Qt.AlignVCenter, tip: str = "") -> QTableWidgetItem:
    it = QTableWidgetItem(text)
    it.setTextAlignment(align)
    if tip:
        it.setToolTip(tip)
    return it


def _table(rows: int, cols: int) -> QTableWidget:
    t = QTableWidget(rows, cols)
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.NoSelection)
    t.setFocusPolicy(Qt.NoFocus)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
    t.verticalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    return t


class EvaluationDialog(QDialog):
    def __init__(self, project, parent=None, before_run=None):
        super().__init__(parent)
        self.project = project
        self.before_run = before_run  # e.g. checkpoint the running trainer's current model
        self.task: BackgroundTask | None = None
        self.result: dict | None = None
        self.setWindowTitle(f"Evaluation — {project.name}")
        self.resize(1180, 760)
        top = self._controls()
        self.message = QLabel("")
        self.message.setWordWrap(True)
        grid = self._panes()
        self.notes = QLabel("")
        self.notes.setWordWrap(True)
        self.notes.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Close)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.message)
        lay.addLayout(grid, 1)
        lay.addWidget(self.notes)
        lay.addWidget(self.buttons)

    def _controls(self) -> QHBoxLayout:
        """The row on top: the task, a checkpoint to evaluate too, Evaluate and its progress."""
        self.checkpoint = QComboBox()
        self.checkpoint.addItem("(none)", None)
        for p in sorted(self.project.checkpoints_dir.glob(WEIGHTS_GLOB), reverse=True):
            self.checkpoint.addItem(p.stem, str(p))
        self.checkpoint.addItem("Other weights file…", "other")
        self.checkpoint.activated.connect(self._checkpoint_chosen)
        self.run_button = QPushButton("Evaluate")
        self.run_button.clicked.connect(self.start)
        self.task_box = QComboBox()
        self.task_box.currentTextChanged.connect(lambda _t: self.show_result())
        self.cm_model = QComboBox()
        self.cm_model.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.cm_model.currentIndexChanged.connect(lambda _i: self._show_confusion())
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setMaximumWidth(160)
        self.bar.hide()
        top = QHBoxLayout()
        top.addWidget(QLabel("Task"))
        top.addWidget(self.task_box)
        top.addSpacing(16)
        top.addWidget(QLabel("Also evaluate checkpoint"))
        top.addWidget(self.checkpoint)
        top.addWidget(self.run_button)
        top.addWidget(self.bar)
        top.addStretch(1)
        return top

    def _panes(self) -> QGridLayout:
        """Side by side, the confusion matrix, per class and the reliability diagram."""
        self.summary = _table(0, 0)
        self.per_class = _table(0, 0)
        self.confusion = _table(0, 0)
        self.confusion.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.confusion.verticalHeader().setSectionResizeMode(QHeaderView.Stretch)
        self.confusion.verticalHeader().setMinimumSectionSize(self.fontMetrics().height())  # 10 fit
        self.plot = pg.PlotWidget()
        self.plot.setBackground("w")
        self.plot.setLabel("bottom", "confidence")
        self.plot.setLabel("left", "accuracy")
        self.plot.setXRange(0, 1, padding=0.02)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(False, False)
        self.legend = self.plot.addLegend(offset=(10, 10))
        grid = QGridLayout()
        grid.addWidget(self._group("Side by side", self.summary), 0, 0)
        cm_box = self._group("Confusion matrix (rows: true label, columns: predicted)", None)
        row = QHBoxLayout()
        row.addWidget(QLabel("Model"))
        row.addWidget(self.cm_model)
        row.addStretch(1)
        cm_box.layout().addLayout(row)
        cm_box.layout().addWidget(self.confusion, 1)
        grid.addWidget(cm_box, 0, 1)
        grid.addWidget(
            self._group("Per class: precision / recall (held out)", self.per_class), 1, 0
        )
        grid.addWidget(self._group("Calibration: reliability diagram", self.plot), 1, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)
        grid.setRowStretch(0, 1)
        grid.setRowStretch(1, 1)
        return grid

    @staticmethod
    def _group(title: str, widget) -> QGroupBox:
        box = QGroupBox(title)
        lay = QVBoxLayout(box)
        if widget is not None:
            lay.addWidget(widget)
        return box

    def _checkpoint_chosen(self, index: int) -> None:
        if self.checkpoint.itemData(index) != "other":
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Weights file", str(self.project.root), "Weights (*.safetensors *.pt *.pth)"
        )
        if path:
            self.checkpoint.insertItem(index, Path(path).name, path)
            self.checkpoint.setCurrentIndex(index)
        else:
            self.checkpoint.setCurrentIndex(0)

    # ------------------------------------------------------------ running
    def start(self) -> None:
        if self.task is not None and self.task.is_running():
            return
        data = self.checkpoint.currentData()
        checkpoint = data if data not in (None, "other") else None
        if self.before_run is not None:
            self.before_run()
        self.run_button.setEnabled(False)
        self.bar.setRange(0, 0)  # busy until the first progress arrives
        self.bar.show()
        self.message.setStyleSheet("")
        self.message.setText("Evaluating on the held-out items and the logged answers…")
        self.task = BackgroundTask(evaluation_job(str(self.project.root), checkpoint), "evaluate")
        self.task.progress.connect(self._progress)
        self.task.finished.connect(self._finished)
        self.task.failed.connect(self._failed)
        self.task.start()

    def _progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(min(done, total))

    def _finished(self, result) -> None:
        self.run_button.setEnabled(True)
        self.bar.hide()
        if result is None:
            self.message.setText("Cancelled.")
            return
        self.set_result(result)

    def _failed(self, text: str) -> None:
        self.run_button.setEnabled(True)
        self.bar.hide()
        self.message.setStyleSheet("color: #c53030;")
        self.message.setText(f"The evaluation could not run: {text[:1].lower() + text[1:]}")

    def done(self, result: int) -> None:
        if self.task is not None:
            self.task.shutdown(30000)
        super().done(result)

    # ------------------------------------------------------------ showing
    def set_result(self, result: dict) -> None:
        self.result = result
        self.task_box.blockSignals(True)
        self.task_box.clear()
        self.task_box.addItems(list(result["tasks"]))
        self.task_box.blockSignals(False)
        self.task_box.setEnabled(len(result["tasks"]) > 1)
        self.cm_model.blockSignals(True)
        self.cm_model.clear()
        for m in result["models"]:
            self.cm_model.addItem(NAMES.get(m["name"], m["name"]), m["name"])
        self.cm_model.blockSignals(False)
        self.message.setText(describe_models(result))
        self.show_result()

    def _entry(self) -> dict | None:
        if not self.result or not self.result["tasks"]:
            return None
        task = self.task_box.currentText() or next(iter(self.result["tasks"]))
        return self.result["tasks"].get(task)

    def _names(self) -> list[str]:
        return [m["name"] for m in self.result["models"]]

    def show_result(self) -> None:
        e = self._entry()
        if e is None:
            return
        self._show_summary(e)
        self._show_per_class(e)
        self._show_confusion()
        self._show_reliability(e)

    def _show_summary(self, e: dict) -> None:
        names = self._names()
        hold = e["holdout"]
        rows: list[tuple[str, list[str], str]] = []
        held = why.HELD_OUT_RANDOM if why.chosen_by(self.result) else ""
        if e["holdout_items"]:
            rows.append(("Accuracy", [pct(hold[n]["accuracy"]) for n in names], held))
            rows.append(("Macro-F1", [num(hold[n]["macro_f1"]) for n in names], ""))
            rows.append(
                (
                    "ECE",
                    [num(hold[n]["ece"]) for n in names],
                    "expected calibration error: 0 "
                    "means the shown confidence matches how often the model is right",
                )
            )
        note = self.result.get("ope_note", "")
        ope_all = e.get("ope", {})
        tips: dict[tuple[int, int], str] = {}
        methods = [m for m in OPE_ROWS if any(m[0] in ope_all.get(n, {}) for n in names)]
        for method, label in methods or [("ips", "Thumbs-up rate, off-policy")]:
            cells = []
            for c, n in enumerate(names):
                text, tip = ope_cell(ope_all.get(n), method)
                cells.append(text)
                if tip:
                    tips[(len(rows), c)] = tip
            rows.append((label, cells, note))
        rows.append(why.prequential_row(self.result, self.task_box.currentText(), names))
        rows.append(("Held-out items", [str(e["holdout_items"])] * len(names), ""))
        rows.append(("Logged answers", [str(e["feedback_events"])] * len(names), ""))
        unseen = [str(ope_all.get(n, {}).get("n", "—")) for n in names]
        rows.append(("Answers not trained on", unseen, "logged after the model's checkpoint"))
        order = why.order_line(self.result)  # the model chose items: what each figure is about
        self.notes.setText("\n".join(([order] if order else []) + notes_of(e, names)))
        t = self.summary
        t.clear()
        t.setRowCount(len(rows))
        t.setColumnCount(len(names))
        t.setHorizontalHeaderLabels([NAMES.get(n, n) for n in names])
        t.setVerticalHeaderLabels([r[0] for r in rows])
        for r, (_, cells, tip) in enumerate(rows):
            for c, text in enumerate(cells):
                t.setItem(r, c, _item(text, tip=tips.get((r, c), tip)))

    def _show_per_class(self, e: dict) -> None:
        names = self._names()
        t = self.per_class
        t.clear()
        t.setRowCount(len(e["labels"]))
        t.setColumnCount(len(names) + 1)
        t.setHorizontalHeaderLabels([SHORT.get(n, n) for n in names] + ["Support"])
        t.setVerticalHeaderLabels(e["labels"])
        if why.explain_table(t, e):  # no held-out items: one sentence why
            return
        for r, lab in enumerate(e["labels"]):
            for c, n in enumerate(names):
                pc = e["holdout"][n]["per_class"][lab]
                t.setItem(r, c, _item(f"{num(pc['precision'])} / {num(pc['recall'])}"))
            support = e["holdout"][names[0]]["per_class"][lab]["support"]
            t.setItem(r, len(names), _item(str(support)))

    def _show_confusion(self) -> None:
        e = self._entry()
        name = self.cm_model.currentData()
        if e is None or name is None or not e["holdout_items"]:
            self.confusion.clear()
            self.confusion.setRowCount(0)
            self.confusion.setColumnCount(0)
            self.confusion.setMinimumHeight(0)
            if e is not None:  # no held-out items: one sentence why
                why.explain_table(self.confusion, e)
            return
        cm = e["holdout"][name]["confusion_matrix"]
        labels = e["labels"]
        t = self.confusion
        t.clear()
        t.setRowCount(len(labels))
        t.setColumnCount(len(labels))
        t.setHorizontalHeaderLabels(labels)
        t.setVerticalHeaderLabels(labels)
        for r, row in enumerate(cm):
            total = max(1, sum(row))
            for c, v in enumerate(row):
                frac = v / total
                it = _item(str(v), Qt.AlignCenter, f"{pct(frac)} of true {labels[r]}")
                good = r == c
                base = QColor(47, 133, 90) if good else QColor(197, 48, 48)
                colour = QColor(255, 255, 255)
                colour.setRed(int(255 + (base.red() - 255) * frac))
                colour.setGreen(int(255 + (base.green() - 255) * frac))
                colour.setBlue(int(255 + (base.blue() - 255) * frac))
                it.setBackground(QBrush(colour))
                it.setForeground(QBrush(QColor("white" if frac > 0.55 else "#1a202c")))
                t.setItem(r, c, it)
        # up to FIT_ROWS labels are seen whole: the matrix asks the dialog for their height (a
        # font of taller lines, such as Noto Sans, needed a scroll bar for ten at 1180 × 760)
        shown = min(len(labels), FIT_ROWS)
        t.setMinimumHeight(
            t.horizontalHeader().sizeHint().height()
            + shown * t.verticalHeader().minimumSectionSize()
            + 2 * t.frameWidth()
        )

    def _show_reliability(self, e: dict) -> None:
        self.plot.clear()
        self.legend.clear()
        diagonal = pg.mkPen("#718096", width=1, style=Qt.DashLine)
        self.plot.plot([0, 1], [0, 1], pen=diagonal, name=DIAGONAL)  # every line is named
        if why.explain_plot(self.plot, e):
            return
        for k, n in enumerate(self._names()):
            bins = [b for b in e["holdout"][n]["reliability"] if b["count"]]
            colour = MODEL_COLOURS.get(n, OTHER_COLOUR if k >= 2 else "#2f855a")
            ece = e["holdout"][n]["ece"]
            temp = e.get("calibration", {}).get(n, {}).get("temperature")
            t_text = f", T {temp:.2f}" if temp not in (None, 1.0) else ""
            self.plot.plot(
                [b["confidence"] for b in bins],
                [b["accuracy"] for b in bins],
                pen=pg.mkPen(colour, width=2),
                symbol="o",
                symbolSize=7,
                symbolBrush=colour,
                symbolPen=None,
                name=f"{NAMES.get(n, n)} (ECE {num(ece)}{t_text})",
            )


def _refresh(window):
    from mmrl_desktop.gui.dialogs.export_dialog import refresh_model

    return lambda: refresh_model(window)


def open_evaluation(window) -> EvaluationDialog:
    dlg = EvaluationDialog(window.project, window, before_run=_refresh(window))
    dlg.show()
    dlg.start()
    return dlg


def evaluation_snapshot(window, path, size=(1180, 760), timeout_s: float = 180.0) -> Path:
    """Run the evaluation, wait for it (events keep flowing) and save the view as a PNG."""
    import time

    from PySide6.QtWidgets import QApplication

    dlg = EvaluationDialog(window.project, window, before_run=_refresh(window))
    dlg.resize(*size)
    dlg.show()
    dlg.start()
    app = QApplication.instance()
    deadline = time.monotonic() + timeout_s
    while dlg.task.is_running() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    dlg.task.wait(1000)
    for _ in range(5):
        app.processEvents()
    path = Path(path)
    dlg.grab().save(str(path))
    dlg.close()
    return path
