"""The item queue: every pool item with its status (new, right, wrong, corrected, skipped) and
progress.

A ``QAbstractListModel`` over the session's items, so 50,000 items cost one row object each in
Python and nothing in Qt until they scroll into view.

Signals
    itemActivated(item_id: str) — the user picked an item in the list.
"""

from __future__ import annotations

import heapq

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QListView,
    QProgressBar,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.labelling.session import STATUS_SYMBOL, ItemStatus, LabelingSession
from mmrl_desktop.gui.widgets import set_bar_value

STATUS_COLOUR = {
    ItemStatus.NEW: None,
    ItemStatus.UP: QColor("#48bb78"),
    ItemStatus.DOWN: QColor("#f56565"),
    ItemStatus.CORRECTED: QColor("#ed8936"),
    ItemStatus.SKIPPED: QColor("#a0aec0"),
}


# Qt passes roles as plain ints: comparing them with the enum members costs a Python enum
# comparison per call, and a full repaint of the list asks ~7 roles of every visible row
_DISPLAY = Qt.ItemDataRole.DisplayRole.value
_FOREGROUND = Qt.ItemDataRole.ForegroundRole.value
_TOOLTIP = Qt.ItemDataRole.ToolTipRole.value
_USER = Qt.ItemDataRole.UserRole.value
_BRUSH = {s: (QBrush(c) if c is not None else None) for s, c in STATUS_COLOUR.items()}


def answer_counts(session: LabelingSession) -> tuple[int, int]:
    """Items with an answer (right, wrong or corrected: a skip is no answer) and all items."""
    done, total = session.progress()
    return done - session.counts[ItemStatus.SKIPPED], total


def modalities_text(item) -> str:
    return "+".join(m.value for m in item.modalities)


class QueueModel(QAbstractListModel):
    def __init__(self, session: LabelingSession | None = None, parent=None):
        super().__init__(parent)
        self.session = session
        self._text: list[str] = []  # per row, the display text after the status symbol
        self._index_text()

    def set_session(self, session: LabelingSession) -> None:
        self.beginResetModel()
        self.session = session
        self._index_text()
        self.endResetModel()

    def _index_text(self) -> None:
        items = self.session.items if self.session is not None else []
        self._text = [f"  {it.item_id}   ({modalities_text(it)})" for it in items]

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() or self.session is None else len(self.session.items)

    def data(self, index: QModelIndex, role: int = _DISPLAY):
        s = self.session
        if s is None or role not in (_DISPLAY, _FOREGROUND, _TOOLTIP, _USER):
            return None
        if len(self._text) != len(s.items):  # items were added to the session
            self._index_text()
        row = index.row()
        if row < 0:  # an invalid index (row −1 would silently name the last item)
            return None
        item_id = s.items[row].item_id
        if role == _USER:
            return item_id
        status = s.status[item_id]
        if role == _DISPLAY:
            return STATUS_SYMBOL[status] + self._text[row]
        if role == _FOREGROUND:
            return _BRUSH[status]
        return f"{item_id} ({modalities_text(s.items[row])}): {status.value}"

    def item_changed(self, item_id: str) -> None:
        row = self.session._index.get(item_id) if self.session else None
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.DisplayRole, Qt.ForegroundRole])


class QueuePanel(QWidget):
    itemActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m answered")
        self.summary = QLabel("")
        self.summary.setObjectName("queueSummary")
        self.model = QueueModel()
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)  # O(1) layout for long lists
        self.view.setFocusPolicy(Qt.NoFocus)
        # select() pages the list itself; Qt's own auto-scroll moved it a row on every click once
        # the current row reached the bottom (a scroll and a scroll-bar repaint per click)
        self.view.setAutoScroll(False)
        self.view.clicked.connect(lambda idx: self.itemActivated.emit(idx.data(Qt.UserRole)))
        lay.addWidget(self.progress)
        lay.addWidget(self.summary)
        lay.addWidget(self.view, 1)
        self.setMinimumWidth(220)

    def set_session(self, session: LabelingSession) -> None:
        self.model.set_session(session)
        self.update_progress()

    def items_changed(self) -> None:
        """An item left or rejoined the queue (excluded, included): the list is rebuilt."""
        self.model.set_session(self.model.session)
        self.update_progress()

    def item_changed(self, item_id: str) -> None:
        s = self.model.session
        row = s._index.get(item_id) if s is not None else None
        if row is not None:
            # repaint that row only: QListView answers any dataChanged by repainting its whole
            # viewport (Python data() calls: docs/benchmarks.md §2b, third session); the row's
            # text is derived from the session's status on paint, so there is no cached value
            # to invalidate
            self.view.update(self.model.index(row))
        self.update_progress()

    def update_progress(self) -> None:
        s = self.model.session
        if s is None:
            return
        done, total = answer_counts(s)
        set_bar_value(self.progress, done, max(total, 1))
        counts = s.counts
        self.summary.setText(
            f"{STATUS_SYMBOL[ItemStatus.UP]} {counts[ItemStatus.UP]}   "
            f"{STATUS_SYMBOL[ItemStatus.DOWN]} {counts[ItemStatus.DOWN]}   "
            f"{STATUS_SYMBOL[ItemStatus.CORRECTED]} {counts[ItemStatus.CORRECTED]}   "
            f"{STATUS_SYMBOL[ItemStatus.SKIPPED]} {counts[ItemStatus.SKIPPED]}"
        )

    def preferred_width(self, cap: int) -> int:
        """The width that shows the longest entries whole (at most ``cap``): the window gives the
        list this much at start-up; a longer entry is cut with "…" and its tooltip is whole."""
        texts = self.model._text
        if not texts:
            return self.minimumWidth()
        fm = self.view.fontMetrics()
        longest = heapq.nlargest(20, texts, key=len)  # the widest is among the longest
        widest = max(fm.horizontalAdvance("✎" + t) for t in longest)
        extra = self.view.verticalScrollBar().sizeHint().width() + 2 * self.view.frameWidth()
        margins = self.layout().contentsMargins()
        want = widest + extra + margins.left() + margins.right() + 12
        return max(self.minimumWidth(), min(cap, want))

    def select(self, item_id: str | None) -> None:
        s = self.model.session
        if s is None or item_id is None:
            return
        row = s._index.get(item_id)
        if row is not None:
            idx = self.model.index(row)
            self.view.setCurrentIndex(idx)
            if not self.view.viewport().rect().contains(self.view.visualRect(idx)):
                # scroll a page at a time, keeping two answered rows above: scrolling a row
                # per click would repaint the whole list on every click
                top = self.model.index(max(0, row - 2))
                self.view.scrollTo(top, QAbstractItemView.PositionAtTop)
