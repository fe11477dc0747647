"""The prediction/feedback panel: per task the shown label, its confidence and the top-3; big
Right/Wrong (thumbs) buttons; a correction picker (with each label's key, ``label_keys.py``) and,
for tasks with more labels than keys, a type-to-filter correction box; skip and undo.

No logic lives here: the panel shows ``Prediction`` objects and emits signals. Keyboard shortcuts
are window-wide actions made by the main window (``actions.py``; which key corrects to which
label: ``label_keys.py``).

Signals
    thumbUp(), thumbDown(), skipRequested(), undoRequested()
    correctRequested(task: str, label: str)
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.gui.label_keys import filter_box_wanted, keys_summary, label_keys
from mmrl_desktop.gui.widgets import (
    ElidedLabel,
    LinesLabel,
    reserve_lines,
    reserve_width,
    set_bar_value,
)
from mmrl_desktop.paths import resources_dir


def matching_labels(labels: list[str], typed: str) -> list[str]:
    """The labels that contain ``typed`` (ignoring case): exact match first, then those that
    start with it, then the rest, each in the task's order."""
    t = typed.strip().lower()
    if not t:
        return []
    hits = [lab for lab in labels if t in lab.lower()]
    return sorted(hits, key=lambda lab: (lab.lower() != t, not lab.lower().startswith(t)))


_STEP_KEYS = (Qt.Key_Up, Qt.Key_Down, Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_Home, Qt.Key_End)


class _TaskRow(QFrame):
    correctRequested = Signal(str, str)
    messageRequested = Signal(str)

    def __init__(
        self, task: str, labels: list[str], keys: dict[str, str] | None = None, parent=None
    ):
        """``keys``: label → the key that corrects to it (shown beside the label when it is not
        the label itself); None for a task the number keys do not correct."""
        super().__init__(parent)
        self.task = task
        self.labels = labels
        self.setObjectName("taskRow")
        grid = QGridLayout(self)
        grid.setContentsMargins(10, 8, 10, 8)
        title = QLabel(task.upper())
        title.setObjectName("taskTitle")
        # shown label and top-3 are cut with "…" (full text in the tooltip), never wrapped
        self.shown = ElidedLabel("…", shrink=0.5)  # a long label in a smaller font first
        self.shown.setObjectName("shownLabel")
        self.confidence = QProgressBar()
        self.confidence.setRange(0, 1000)
        self.confidence.setTextVisible(True)
        self.confidence.setFormat("confidence —")
        self.top3 = ElidedLabel("")  # one line per label: a long label never wraps mid-entry
        self.top3.setObjectName("top3")
        self.source = QLabel("")
        self.source.setObjectName("predSource")
        self.explore = QLabel("")
        self.explore.setObjectName("exploreNote")
        self.explore.setWordWrap(True)
        self.picker = self._make_picker(labels, keys or {})
        self.filter = self._make_filter(labels) if filter_box_wanted(labels) else None
        # every label that changes per item keeps its size, so nothing below it moves
        reserve_lines(self.shown, 1)
        reserve_lines(self.top3, 3)
        reserve_lines(self.explore, 2)
        reserve_width(self.source, "model v00000")
        grid.addWidget(title, 0, 0)
        grid.addWidget(self.source, 0, 1, Qt.AlignRight)
        grid.addWidget(self.shown, 1, 0, 1, 2)
        grid.addWidget(self.confidence, 2, 0, 1, 2)
        grid.addWidget(self.top3, 3, 0, 1, 2)
        grid.addWidget(self.explore, 4, 0, 1, 2)
        # the filter box (many labels) beside the list: no extra row, the panel fits 800 px
        grid.addWidget(self.picker, 5, 0)
        if self.filter is not None:
            grid.addWidget(self.filter, 5, 1)

    def _make_picker(self, labels: list[str], keys: dict[str, str]) -> QComboBox:
        picker = QComboBox()
        picker.addItem("Correct to…")
        for lab in labels:
            key = keys.get(lab)
            shown = lab if key is None or key == lab.lower() else f"{key}    {lab}"
            picker.addItem(shown, lab)
        summary = keys_summary(labels) if keys else ""
        picker.setToolTip(f"The right answer (keys {summary})" if summary else "The right answer")
        picker.activated.connect(self._picked)
        # an answer only by a choice in the open list: a closed list never holds the keyboard
        # (↓, PgDn, End changed it and answered) and ignores the wheel (eventFilter)
        picker.setFocusPolicy(Qt.NoFocus)
        picker.installEventFilter(self)
        # a long label widens the open list, not the panel (nor, through it, the window)
        picker.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        picker.setMinimumContentsLength(len("Correct to…"))
        widest = max(
            picker.fontMetrics().horizontalAdvance(picker.itemText(i))
            for i in range(picker.count())
        )
        picker.view().setMinimumWidth(widest + 32)
        return picker

    def _make_filter(self, labels: list[str]) -> QLineEdit:
        box = QLineEdit()
        box.setObjectName("correctFilter")
        box.setPlaceholderText("or type a label…")
        box.setClearButtonEnabled(True)
        box.setFocusPolicy(Qt.ClickFocus)  # never the window's first focus: A, X, … stay keys
        box.setToolTip(
            "Type part of the right label (/ or Ctrl+F); Enter corrects to the first match"
        )
        completer = QCompleter(labels, box)
        completer.setCaseSensitivity(Qt.CaseInsensitive)
        completer.setFilterMode(Qt.MatchContains)
        completer.setMaxVisibleItems(12)
        # a label chosen in the list; after Enter on it, returnPressed has corrected and emptied
        # the box already, so the choice must not correct a second (the next) item
        completer.activated.connect(lambda s: self._submit(s) if box.text().strip() else None)
        box.setCompleter(completer)
        box.installEventFilter(self)  # the box keeps its own editing keys (eventFilter)
        box.returnPressed.connect(lambda: self._submit(box.text()))
        return box

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """In the filter box, Ctrl+Delete / Ctrl+Backspace edit the text: the window's shortcuts
        (Exclude this item) must not take them. On the closed "Correct to…" list the wheel and
        the keys that step through it are eaten: each step was an answer, silently saved (a
        scroll past the panel corrected the item to the first label)."""
        step = event.type() == QEvent.Wheel or (
            event.type() == QEvent.KeyPress and event.key() in _STEP_KEYS
        )
        if step and obj is self.picker and not self.picker.view().isVisible():
            event.accept()
            return True
        if (
            obj is getattr(self, "filter", None)
            and event.type() == QEvent.ShortcutOverride
            and event.modifiers() & Qt.ControlModifier
            and event.key() in (Qt.Key_Delete, Qt.Key_Backspace)
        ):
            event.accept()
            return False
        return super().eventFilter(obj, event)

    def _submit(self, typed: str) -> None:
        """Enter in the filter box (or a label chosen in its list): correct to the exact or first
        matching label. The box empties, so the Enter that follows a choice in the list finds
        nothing to do."""
        if self.filter is None or not typed.strip():
            return
        hits = matching_labels(self.labels, typed)
        if not hits:
            self.messageRequested.emit(f"No label of {self.task} contains “{typed.strip()}”.")
            return
        self.filter.clear()
        self.filter.clearFocus()  # the window's keys (A, X, …) work again
        self.correctRequested.emit(self.task, hits[0])

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
        # likely the label was to be drawn): core/learning/calibration.py
        conf = pred.probs.get(pred.shown_label)
        set_bar_value(self.confidence, 0 if conf is None else int(round(conf * 1000)))
        self.confidence.setFormat("confidence —" if conf is None else f"confidence {conf:.0%}")
        self.top3.setText(
            "\n".join(f"{p:.0%}   {lab}" for lab, p in pred.top(3)) if from_model else ""
        )
        self.source.setText(f"model v{pred.model_version}" if from_model else "no model yet")
        top = pred.top(1)
        if from_model and top and top[0][0] != pred.shown_label:
            # exploration: say so, so the expert does not wonder why it is not the top guess
            self.explore.setText(f"Exploring — the model's top guess is {top[0][0]}.")
        elif not from_model:
            self.explore.setText("No model prediction for this item yet: a random first guess.")


class _RowsArea(QScrollArea):
    """The task rows, scrolled when the panel is too short for all of them: the window needs room
    for one row only, the buttons below stay in view, and a project of two or three tasks fits a
    screen of 800 px instead of making the window taller than the screen (it did). Never taller
    than its rows, so the panel's spare height stays below the buttons."""

    def __init__(self):
        super().__init__()
        self.setObjectName("taskRows")
        self.setFrameShape(QFrame.NoFrame)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.NoFocus)  # keys go to the window's shortcuts
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        inner = QWidget()
        inner.setObjectName("taskRowsInner")
        self._lay = QVBoxLayout(inner)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(6)
        self.setWidget(inner)
        self.viewport().setAutoFillBackground(False)  # the panel's dark background shows
        inner.setAutoFillBackground(False)
        inner.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """The rows' sizes changed (the style sheet's fonts came, a label was reserved): so did
        this area's hints, which the panel's layout would otherwise keep from before."""
        if obj is self.widget() and event.type() == QEvent.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(obj, event)

    def add_row(self, row: QWidget) -> None:
        self._lay.addWidget(row)

    def _rows(self) -> list[QWidget]:
        return [self._lay.itemAt(i).widget() for i in range(self._lay.count())]

    def sizeHint(self) -> QSize:  # noqa: N802  (every row at its size: no scroll bar)
        inner = self.widget().sizeHint()
        return QSize(inner.width() + self.verticalScrollBar().sizeHint().width(), inner.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802  (the first row at its size)
        rows = self._rows()
        first = rows[0].sizeHint().height() if rows else 0
        return QSize(self.sizeHint().width(), first)


FOOT_LINES = 3  # the panel's foot: a message, a tip or the keys


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
        lay.setSpacing(6)  # everything fits the dock of a 1280×800 window (tests/gui)
        # two lines: the item's id (cut in the middle when too long) and where it is in the queue
        self.item_title = ElidedLabel("", elide=Qt.ElideMiddle)
        self.item_title.setObjectName("itemTitle")
        reserve_lines(self.item_title, 2)
        lay.addWidget(self.item_title)
        self.rows: dict[str, _TaskRow] = {}
        self.rows_area = _RowsArea()
        for k, (name, labels) in enumerate(tasks):
            # the keys correct the first task
            row = _TaskRow(name, labels, label_keys(labels) if k == 0 else None)
            row.correctRequested.connect(self.correctRequested)
            row.messageRequested.connect(self.show_message)
            self.rows[name] = row
            self.rows_area.add_row(row)
        lay.addWidget(self.rows_area)
        icons = resources_dir() / "icons"
        self.up_button = self._big_button(
            " Right", QIcon(str(icons / "thumb_up.svg")), "thumbUp", "Right: thumbs up (A or →)"
        )
        self.down_button = self._big_button(
            " Wrong",
            QIcon(str(icons / "thumb_down.svg")),
            "thumbDown",
            "Wrong: thumbs down (X or ←)",
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
        lay.addStretch(1)
        # the message and the key hint share the foot of the panel: a message hides the keys
        # while it shows. The foot has a fixed height of FOOT_LINES lines: the panel's minimum
        # holds them, and a longer sentence is cut with "…" (whole in its tooltip) instead of
        # squeezing the task rows above. A word-wrapped label's own minimum is one line; a
        # window that gave the panel only that (with a font of taller lines, such as Noto Sans)
        # drew the exploration note over the top-3 and moved the buttons when a tip came.
        foot = QWidget()
        foot.setObjectName("panelFoot")
        foot_lay = QVBoxLayout(foot)
        foot_lay.setContentsMargins(0, 0, 0, 0)
        self.message = LinesLabel("", FOOT_LINES)
        self.message.setObjectName("feedbackMessage")
        self.message.hide()
        foot_lay.addWidget(self.message.reserve())
        self._keys_text = key_hint(tasks[0][1] if tasks else [])
        # or, for a few items, a tip (``show_tip``)
        self.key_hint = LinesLabel(self._keys_text, FOOT_LINES)
        self.key_hint.setObjectName("keyHint")
        foot_lay.addWidget(self.key_hint.reserve())
        foot.setFixedHeight(max(self.message.height(), self.key_hint.height()))
        lay.addWidget(foot)

    def _big_button(self, text: str, icon: QIcon, name: str, tip: str) -> QPushButton:
        b = QPushButton(icon, text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.setMinimumHeight(56)
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
            if row.filter is not None:
                row.filter.setEnabled(enabled)

    def show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.key_hint.setVisible(not text)

    def show_tip(self, text: str) -> None:
        """A tip in the key hint's place (``core/labelling/tips.py``; "" brings the keys back):
        room the panel always has, so nothing above it moves."""
        self.key_hint.setText(text or self._keys_text)

    def find_label(self) -> None:
        """/ or Ctrl+F: type the right label of the first task (its filter box, or its list)."""
        row = next(iter(self.rows.values()), None)
        if row is None or not row.picker.isEnabled():
            return
        if row.filter is not None:
            row.filter.setFocus(Qt.ShortcutFocusReason)
            row.filter.selectAll()
        else:
            row.picker.showPopup()


def key_hint(labels: list[str]) -> str:
    """The panel's one-line key summary, with the keys that correct the first task."""
    keys = keys_summary(labels)
    correct = f" · {keys} correct" if keys else ""
    find = " · / find label" if filter_box_wanted(labels) else ""
    return f"A/→ right · X/← wrong{correct}{find} · Space skip · Ctrl+Z undo · P play"
