"""The prediction/feedback panel: per task the shown label, its confidence and the top-3; big 👍/👎
buttons; a correction picker; skip and undo.

No logic lives here: the panel shows ``Prediction`` objects and emits signals. Keyboard shortcuts
are window-wide actions made by the main window (see ``shortcuts.py``).

Signals
    thumbUp(), thumbDown(), skipRequested(), undoRequested()
    correctRequested(task: str, label: str)
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.store import Prediction
from mmrl_desktop.gui.widgets import reserve_lines, reserve_width, set_bar_value
from mmrl_desktop.paths import resources_dir


class _TaskRow(QFrame):
    correctRequested = Signal(str, str)

    def __init__(self, task: str, labels: list[str], parent=None):
        super().__init__(parent)
        self.task = task
        self.labels = labels
        self.setObjectName("taskRow")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        title = QLabel(task.upper())
        title.setObjectName("taskTitle")
        self.shown = QLabel("…")
        self.shown.setObjectName("shownLabel")
        self.shown.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.confidence = QProgressBar()
        self.confidence.setRange(0, 1000)
        self.confidence.setTextVisible(True)
        self.confidence.setFormat("confidence —")
        self.top3 = QLabel("")
        self.top3.setObjectName("top3")
        self.top3.setWordWrap(True)
        self.source = QLabel("")
        self.source.setObjectName("predSource")
        self.explore = QLabel("")
        self.explore.setObjectName("exploreNote")
        self.explore.setWordWrap(True)
        self.picker = QComboBox()
        self.picker.addItem("Correct to…")
        for k, lab in enumerate(labels):
            key = f"{k + 1}  " if k < 9 else "    "
            self.picker.addItem(f"{key}{lab}", lab)
        self.picker.setToolTip("The right answer (keys 1–9)")
        self.picker.activated.connect(self._picked)
        # every label that changes per item keeps its size, so nothing below it moves
        reserve_lines(self.shown, 1)
        reserve_lines(self.top3, 2)
        reserve_lines(self.explore, 2)
        reserve_width(self.source, "model v00000")
        grid.addWidget(title, 0, 0, 1, 2)
        grid.addWidget(self.shown, 1, 0, 1, 2)
        grid.addWidget(self.confidence, 2, 0, 1, 2)
        grid.addWidget(self.top3, 3, 0, 1, 2)
        grid.addWidget(self.explore, 4, 0, 1, 2)
        grid.addWidget(self.picker, 5, 0)
        grid.addWidget(self.source, 5, 1, Qt.AlignRight)

    def _picked(self, index: int) -> None:
        if index <= 0:
            return
        label = self.picker.itemData(index)
        self.picker.setCurrentIndex(0)
        self.correctRequested.emit(self.task, label)

    def show_prediction(self, pred: Prediction | None, from_model: bool) -> None:
        self.explore.setText("")
        if pred is None:
            self.shown.setText("—")
            set_bar_value(self.confidence, 0)
            self.confidence.setFormat("confidence —")
            self.top3.setText("")
            self.source.setText("")
            return
        self.shown.setText(pred.shown_label)
        # the model's (calibrated) probability of the shown label, never the propensity (how
        # likely the label was to be drawn): core/calibration.py
        conf = pred.probs.get(pred.shown_label)
        set_bar_value(self.confidence, 0 if conf is None else int(round(conf * 1000)))
        self.confidence.setFormat("confidence —" if conf is None else f"confidence {conf:.0%}")
        self.top3.setText(
            "   ".join(f"{lab}  {p:.0%}" for lab, p in pred.top(3)) if from_model else ""
        )
        self.source.setText(f"model v{pred.model_version}" if from_model else "no model yet")
        top = pred.top(1)
        if from_model and top and top[0][0] != pred.shown_label:
            # exploration: say so, so the expert does not wonder why it is not the top guess
            self.explore.setText(f"Exploring — the model's top guess is {top[0][0]}.")
        elif not from_model:
            self.explore.setText("No model prediction for this item yet: a random first guess.")


class FeedbackPanel(QWidget):
    thumbUp = Signal()
    thumbDown = Signal()
    skipRequested = Signal()
    undoRequested = Signal()
    correctRequested = Signal(str, str)

    def __init__(self, tasks: list[tuple[str, list[str]]], parent=None):
        super().__init__(parent)
        self.setObjectName("feedbackPanel")
        self.setAttribute(Qt.WA_StyledBackground, True)  # the dark panel background
        self.setMinimumWidth(300)
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Expanding)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(10)
        self.item_title = QLabel("")
        self.item_title.setObjectName("itemTitle")
        self.item_title.setWordWrap(True)
        self.item_title.setTextInteractionFlags(Qt.TextSelectableByMouse)
        reserve_lines(self.item_title, 2)
        lay.addWidget(self.item_title)
        self.rows: dict[str, _TaskRow] = {}
        for name, labels in tasks:
            row = _TaskRow(name, labels)
            row.correctRequested.connect(self.correctRequested)
            self.rows[name] = row
            lay.addWidget(row)
        icons = resources_dir() / "icons"
        self.up_button = self._big_button(
            " Right", QIcon(str(icons / "thumb_up.svg")), "thumbUp", "👍 Right (A or →)"
        )
        self.down_button = self._big_button(
            " Wrong", QIcon(str(icons / "thumb_down.svg")), "thumbDown", "👎 Wrong (X or ←)"
        )
        self.up_button.clicked.connect(self.thumbUp)
        self.down_button.clicked.connect(self.thumbDown)
        thumbs = QHBoxLayout()
        thumbs.addWidget(self.up_button)
        thumbs.addWidget(self.down_button)
        lay.addLayout(thumbs)
        small = QHBoxLayout()
        self.skip_button = QPushButton("Skip  (Space)")
        self.undo_button = QPushButton("Undo  (Ctrl+Z)")
        self.skip_button.clicked.connect(self.skipRequested)
        self.undo_button.clicked.connect(self.undoRequested)
        for b in (self.skip_button, self.undo_button):
            b.setFocusPolicy(Qt.NoFocus)
            b.setMinimumHeight(34)
            small.addWidget(b)
        lay.addLayout(small)
        self.message = QLabel("")
        self.message.setObjectName("feedbackMessage")
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        lay.addStretch(1)
        hint = QLabel("A/→ right · X/← wrong · 1–9 correct · Space skip · Ctrl+Z undo · P play")
        hint.setObjectName("keyHint")
        hint.setWordWrap(True)
        lay.addWidget(hint)

    def _big_button(self, text: str, icon: QIcon, name: str, tip: str) -> QPushButton:
        b = QPushButton(icon, text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setMinimumHeight(64)
        b.setIconSize(b.iconSize() * 2)
        b.setFocusPolicy(Qt.NoFocus)  # keys go to the window's shortcuts
        return b

    # ------------------------------------------------------------------ API
    def show_item(
        self, title: str, predictions: dict[str, Prediction | None], from_model: bool
    ) -> None:
        self.item_title.setText(title)
        for name, row in self.rows.items():
            row.show_prediction(predictions.get(name), from_model)
        self.set_enabled(True)

    def set_enabled(self, enabled: bool) -> None:
        for w in (self.up_button, self.down_button, self.skip_button):
            w.setEnabled(enabled)
        for row in self.rows.values():
            row.picker.setEnabled(enabled)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
