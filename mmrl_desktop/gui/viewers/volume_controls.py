"""The volume viewer's small Qt pieces: the window-preset box and the corner annotations.

Split from ``volume_view`` to keep that module short; they look and behave like the 2-D
viewer's (``image_view``): "custom" is listed only while the window matches no preset, and the
corner labels never take the mouse.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QGridLayout, QLabel, QWidget

from mmrl_desktop.gui import theme

CUSTOM = "custom"


class PresetBox(QComboBox):
    """The window presets by name, never focused (the keys stay the window's)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setToolTip("Window presets (right-drag on the image for a custom window)")
        self.setFocusPolicy(Qt.NoFocus)

    def set_names(self, names: list[str]) -> None:
        self.blockSignals(True)
        self.clear()
        self.addItems(list(names))
        self.blockSignals(False)

    def select(self, name: str) -> None:
        """Show ``name`` as chosen (``CUSTOM`` adds that entry while no preset matches)."""
        if name != CUSTOM and (j := self.findText(CUSTOM)) >= 0:
            self.removeItem(j)
        i = self.findText(name)
        if i < 0 and name == CUSTOM:
            self.addItem(CUSTOM)
            i = self.count() - 1
        self.setCurrentIndex(i)


def corner_labels(graphics: QWidget) -> tuple[QGridLayout, QLabel, QLabel, QLabel]:
    """``graphics`` under three hidden corner labels: (layout, tags at the top left, readout at
    the bottom left, window at the bottom right). Not in the scene, so they never move."""
    tags = QLabel(objectName="overlayTags")
    tags.setFont(theme.mono_font(9))
    readout = QLabel(objectName="overlayReadout")
    readout.setFont(theme.mono_font(9.5))
    window = QLabel(objectName="overlayReadout")
    window.setFont(theme.mono_font(9.5))
    for lab in (tags, readout, window):
        lab.setAttribute(Qt.WA_TransparentForMouseEvents)
        lab.setStyleSheet("margin: 8px;")
        lab.hide()
    stack = QGridLayout()
    stack.setContentsMargins(0, 0, 0, 0)
    stack.addWidget(graphics, 0, 0)
    stack.addWidget(tags, 0, 0, Qt.AlignTop | Qt.AlignLeft)
    stack.addWidget(readout, 0, 0, Qt.AlignBottom | Qt.AlignLeft)
    stack.addWidget(window, 0, 0, Qt.AlignBottom | Qt.AlignRight)
    return stack, tags, readout, window
