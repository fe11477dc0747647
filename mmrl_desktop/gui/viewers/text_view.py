"""Text viewer: readable, selectable, scrollable plain text.

Public API
----------
``TextView(parent=None, point_size=13.0)`` — a ``QPlainTextEdit`` subclass, read-only.

- ``set_text(text: str | None)``: show ``text`` (None or "" clears), scrolled to the top.
- ``text() -> str``; ``set_point_size(pt)``; ``Ctrl++`` / ``Ctrl+-`` / ``Ctrl+wheel`` resize the font.
- Signal: ``fontSizeChanged(float point_size)``.

``QPlainTextEdit`` rather than ``QTextBrowser``: it lays out lazily block by block, so a long
document shows at once, and plain text never runs HTML from an item's file. Text wraps at word
boundaries on a light "paper" background; on a wide view the text is a centred column of at most
``MAX_LINE_CHARS`` characters, as long lines are hard to follow.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextCursor, QTextOption
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QWidget

from mmrl_desktop.gui import theme

MIN_PT, MAX_PT = 8.0, 32.0
MAX_LINE_CHARS = 92  # longer lines are hard to read: wider views centre a column of this width


class TextView(QPlainTextEdit):
    fontSizeChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None, point_size: float = 13.0):
        super().__init__(parent)
        self.setObjectName("textView")
        self._pt = point_size
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextSelectableByMouse | Qt.TextSelectableByKeyboard)
        self.setLineWrapMode(QPlainTextEdit.WidgetWidth)
        self.setWordWrapMode(QTextOption.WrapAtWordBoundaryOrAnywhere)
        self.setFrameShape(QFrame.NoFrame)
        self.document().setDocumentMargin(6)
        self.setPlaceholderText("No text for this item.")
        self.setFocusPolicy(Qt.StrongFocus)
        self._text = ""
        self.set_point_size(point_size)

    def _update_margins(self) -> None:
        column = self.fontMetrics().averageCharWidth() * MAX_LINE_CHARS
        side = max(18, (self.width() - column) // 2)
        self.setViewportMargins(side, 14, side, 14)

    def resizeEvent(self, event) -> None:  # noqa: N802
        self._update_margins()
        super().resizeEvent(event)

    def set_text(self, text: str | None) -> None:
        text = text or ""
        if text != self._text:
            self._text = text
            self.setPlainText(text)
        self.moveCursor(QTextCursor.Start)
        self.verticalScrollBar().setValue(0)

    def text(self) -> str:
        return self._text

    def point_size(self) -> float:
        return self._pt

    def set_point_size(self, pt: float) -> None:
        # In the widget's own style sheet: it wins over an application sheet's ``QWidget
        # { font-size }``, which would otherwise override ``setFont``.
        self._pt = min(max(float(pt), MIN_PT), MAX_PT)
        self.setStyleSheet(theme.VIEWER_STYLE + f"#textView {{ font-size: {self._pt:g}pt; }}")
        self.ensurePolished()
        self._update_margins()
        self.fontSizeChanged.emit(self._pt)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.ControlModifier and event.key() in (Qt.Key_Plus, Qt.Key_Equal):
            self.set_point_size(self.point_size() + 1)
        elif event.modifiers() & Qt.ControlModifier and event.key() == Qt.Key_Minus:
            self.set_point_size(self.point_size() - 1)
        else:
            super().keyPressEvent(event)

    def wheelEvent(self, event) -> None:  # noqa: N802
        if event.modifiers() & Qt.ControlModifier:
            step = 1 if event.angleDelta().y() > 0 else -1
            self.set_point_size(self.point_size() + step)
            event.accept()
        else:
            super().wheelEvent(event)
