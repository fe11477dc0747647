"""Small widget helpers shared by the panels."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QPoint, QSize, Qt, QTimer
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QTextLayout
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)


def set_bar_value(bar: QProgressBar, value: int, maximum: int | None = None) -> None:
    """Set a progress bar without its synchronous repaint.

    ``QProgressBar.setValue`` calls ``repaint()`` when the shown value changes, and inside a click
    handler that paints every dirty region of the window at once — the viewers included — before
    the click has finished updating them (the whole window painted twice per click; a paint's
    cost: docs/benchmarks.md §2b, third session).
    With updates off it only records the value; turning them back on schedules one ordinary
    update, painted with everything else."""
    bar.setUpdatesEnabled(False)
    if maximum is not None and bar.maximum() != maximum:
        bar.setRange(0, maximum)
    bar.setValue(value)
    bar.setUpdatesEnabled(True)


def list_table(columns: list[str], selection: QAbstractItemView.SelectionMode) -> QTableWidget:
    """A read-only table of whole-row selections under ``columns``, without row numbers: its
    columns fit their contents and the last one takes the rest of the width."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectRows)
    table.setSelectionMode(selection)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def set_row(table: QTableWidget, r: int, cells: list[str], right: range, enabled: bool = True,
            tip: str = "") -> None:  # fmt: skip
    """Row ``r`` of a ``list_table``: ``cells`` as text, the columns in ``right`` right-aligned
    (numbers), greyed out when not ``enabled``, ``tip`` as every cell's tooltip."""
    for c, text in enumerate(cells):
        item = QTableWidgetItem(text)
        if c in right:
            item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
        if not enabled:
            item.setFlags(item.flags() & ~Qt.ItemIsEnabled)
        item.setToolTip(tip)
        table.setItem(r, c, item)


def close_and_action(dialog: QDialog, text: str, action: Callable[[], None]):
    """A Close button box (closing rejects ``dialog``) with one more button, ``text``, that
    runs ``action``; returns the box and that button."""
    buttons = QDialogButtonBox(QDialogButtonBox.Close)
    button = buttons.addButton(text, QDialogButtonBox.ActionRole)
    button.clicked.connect(action)
    buttons.rejected.connect(dialog.reject)
    return buttons, button


def stack(dialog: QDialog, *widgets: QWidget, stretch: QWidget | None = None) -> QVBoxLayout:
    """Lay ``widgets`` out top to bottom in ``dialog``; ``stretch`` takes the spare height."""
    lay = QVBoxLayout(dialog)
    for w in widgets:
        lay.addWidget(w, 1 if w is stretch else 0)
    return lay


def reserve_lines(label: QLabel, lines: int) -> QLabel:
    """Give a label the height of ``lines`` lines of its font, whatever its text, and let its width
    follow the layout.

    A label whose text changes on every click would otherwise change size with it (an empty
    exploration note is 0 px high, a filled one 16–32 px), and the panel would move the widgets
    below it, the 👍/👎 buttons included, under the expert's mouse. Qt also applies such a
    second-level relayout only after the click's first paint, so the panel was painted twice
    and visibly jumped. Word-wrapped text wraps inside the reserved lines."""
    label.ensurePolished()  # the application style sheet sets the font
    margins = label.contentsMargins()
    label.setFixedHeight(
        lines * label.fontMetrics().lineSpacing() + margins.top() + margins.bottom() + 2
    )
    label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Fixed)
    label.setMinimumWidth(0)
    if lines > 1:  # the text starts at the top of its reserved lines
        label.setAlignment(label.alignment() & Qt.AlignHorizontal_Mask | Qt.AlignTop)
    return label


NOTE_ERROR = "color: #c53030;"  # a field's note: why it is refused
NOTE_INFO = "color: #4a5568;"  # a field's note: what it holds


def show_note(label: QLabel, text: str, style: str = NOTE_INFO) -> None:
    """A note under a field (a folder's check): ``text`` in ``style``, hidden when empty (no
    blank line under a field with nothing to say)."""
    label.setText(text)
    label.setStyleSheet(style)
    label.setVisible(bool(text))


def reserve_width(label: QLabel, widest: str) -> QLabel:
    """Keep a label at least as wide as ``widest`` in its font, so a count that gains a digit or a
    changing number does not re-lay out and shift its neighbours (the status bar)."""
    label.ensurePolished()
    margins = label.contentsMargins()
    width = label.fontMetrics().horizontalAdvance(widest) + margins.left() + margins.right() + 2
    label.setMinimumWidth(max(label.minimumWidth(), width))
    return label


class ElidedLabel(QLabel):
    """A label that never pushes its neighbours nor wraps: each line of its text is drawn whole
    when it fits, else as the first of ``shorter`` forms that fits (``set_texts``), else — with
    ``shrink`` < 1 — in a font down to that fraction of its size, else cut with "…" (``elide``:
    where). The full text is its tooltip. Fitting happens at paint time (a few
    ``horizontalAdvance`` calls), with the painter's font: a new text never re-lays out the
    window."""

    SHRINK_STEPS = 4

    def __init__(self, text="", parent=None, elide=Qt.ElideRight, shrink=1.0, **kwargs):
        super().__init__(text, parent, **kwargs)
        self._elide = elide
        self._shrink = shrink
        self._shorter: tuple[str, ...] = ()
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        self.setMinimumWidth(24)
        self.setToolTip(text)

    def setText(self, text: str) -> None:  # noqa: N802
        self._shorter = ()
        super().setText(text)
        self.setToolTip(text)

    def set_texts(self, full: str, *shorter: str) -> None:
        """Show ``full`` when it fits, else the first of the ``shorter`` forms that does."""
        self.setText(full)
        self._shorter = shorter

    def shown_text(self) -> str:
        """What is drawn at the present width (lines joined by newlines)."""
        return self._fit()[0]

    def _fit(self) -> tuple[str, QFont]:
        font = self.font()
        fm = QFontMetrics(font)
        width = self.contentsRect().width()
        lines = self.text().split("\n")
        if len(lines) > 1:
            return "\n".join(fm.elidedText(line, self._elide, width) for line in lines), font
        for candidate in (lines[0], *self._shorter):
            if fm.horizontalAdvance(candidate) <= width:
                return candidate, font
        last = (self._shorter or lines)[-1]
        size = font.pointSizeF()
        for k in range(1, self.SHRINK_STEPS + 1 if self._shrink < 1.0 and size > 0 else 1):
            smaller = QFont(font)
            smaller.setPointSizeF(size * (1.0 - (1.0 - self._shrink) * k / self.SHRINK_STEPS))
            fm = QFontMetrics(smaller)
            if fm.horizontalAdvance(last) <= width or k == self.SHRINK_STEPS:
                return fm.elidedText(last, self._elide, width), smaller
        return fm.elidedText(last, self._elide, width), font

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(24, super().minimumSizeHint().height())

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        rect = self.contentsRect()
        text, font = self._fit()
        painter.setFont(font)
        lines = text.split("\n")
        if len(lines) == 1:
            painter.drawText(rect, int(self.alignment() | Qt.AlignVCenter), lines[0])
            return
        fm = self.fontMetrics()
        y = rect.top() + fm.ascent()
        for line in lines:  # top-aligned, one line per line of text
            painter.drawText(QPoint(rect.left(), y), line)
            y += fm.lineSpacing()


def wrapped_lines(text: str, font: QFont, width: int, most: int) -> list[str]:
    """``text`` word-wrapped at ``width`` in ``font``, at most ``most`` lines: when it needs
    more, the last one shown ends in "…"."""
    fm = QFontMetrics(font)
    lines: list[str] = []
    for paragraph in text.split("\n"):
        layout = QTextLayout(paragraph, font)
        layout.beginLayout()
        while (line := layout.createLine()).isValid():
            line.setLineWidth(max(1, width))
            lines.append(paragraph[line.textStart() : line.textStart() + line.textLength()])
        layout.endLayout()
    if len(lines) <= most:
        return [line.rstrip() for line in lines]
    rest = " ".join(line.strip() for line in lines[most - 1 :])
    cut = fm.elidedText(rest + " …", Qt.ElideRight, width)  # "…" even when the rest fits
    return [line.rstrip() for line in lines[: most - 1]] + [cut]


class LinesLabel(QLabel):
    """Word-wrapped text in a fixed height of ``lines`` lines: a longer text is cut with "…" at
    the end of the last line and is whole in the tooltip. It never asks its layout for more
    room, so a long sentence cannot squeeze or move the widgets around it."""

    def __init__(self, text: str = "", lines: int = 3, parent=None):
        super().__init__(text, parent)
        self._lines = lines
        self.setWordWrap(True)
        self.setToolTip(text)

    def setText(self, text: str) -> None:  # noqa: N802
        super().setText(text)
        self.setToolTip(text)

    def reserve(self) -> LinesLabel:
        """Fix the height at the label's lines in its (style sheet's) font."""
        return reserve_lines(self, self._lines)

    def shown_lines(self) -> list[str]:
        """What is drawn at the present width."""
        return wrapped_lines(self.text(), self.font(), self.contentsRect().width(), self._lines)

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self.height()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setPen(self.palette().color(self.foregroundRole()))
        painter.setFont(self.font())
        rect = self.contentsRect()
        fm = self.fontMetrics()
        y = rect.top() + fm.ascent()
        for line in self.shown_lines():
            painter.drawText(QPoint(rect.left(), y), line)
            y += fm.lineSpacing()


class AfterPaint(QObject):
    """Work that should wait until the window has painted what a click changed.

    Qt paints a window when its ``UpdateRequest`` event arrives, and that event is posted with
    low priority: zero-timers and queued signals started during a click run *before* it, so
    anything scheduled that way delays the new item on screen. ``call(fn)`` queues ``fn`` (once,
    however often it is queued); the window calls ``painted()`` after handling an
    ``UpdateRequest``, which runs the queue at the next event-loop turn. A window that does not
    paint (minimised, nothing changed) runs it after ``fallback_ms``. ``close()`` (the window
    shuts down) drops what is queued and ignores later calls: that work uses the session's store,
    which closes with the window."""

    def __init__(self, parent: QObject, fallback_ms: int = 100):
        super().__init__(parent)
        self._todo: list[Callable[[], None]] = []
        self._closed = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(fallback_ms)
        self._timer.timeout.connect(self.run)

    def call(self, fn: Callable[[], None]) -> None:
        if self._closed:
            return
        if fn not in self._todo:
            self._todo.append(fn)
        if not self._timer.isActive():
            self._timer.start()

    def painted(self) -> None:
        if self._todo:
            QTimer.singleShot(0, self, self.run)

    def run(self) -> None:
        self._timer.stop()
        todo, self._todo = self._todo, []
        for fn in todo:
            if self._closed:  # a queued fn closed the window
                return
            fn()

    def close(self) -> None:
        """Drop the queue and ignore later calls (before the store closes)."""
        self._closed = True
        self._timer.stop()
        self._todo = []
