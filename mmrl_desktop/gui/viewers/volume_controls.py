"""The volume viewer's small Qt pieces: the image item, the view box, the window-preset box and
the corner annotations.

Split from ``volume_view`` to keep that module short; they look and behave like the 2-D
viewer's (``image_view``): "custom" is listed only while the window matches no preset, and the
corner labels never take the mouse.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QPushButton, QWidget

from mmrl_desktop.gui import theme
from mmrl_desktop.gui.viewers.image_view import ZOOM_STEP, _WindowLevelViewBox
from mmrl_desktop.gui.viewers.overlays import fit_beside
from mmrl_desktop.gui.viewers.volume_overlays import PLANES, edge_positions
from mmrl_desktop.gui.widgets import ElidedLabel

CUSTOM = "custom"
PAGE_STEP = 10
SLICE_KEYS = {Qt.Key_Up: -1, Qt.Key_Down: 1, Qt.Key_PageUp: -PAGE_STEP, Qt.Key_PageDown: PAGE_STEP}
PLANE_KEYS = {Qt.Key_1: "axial", Qt.Key_2: "coronal", Qt.Key_3: "sagittal"}


GRAY32 = (np.arange(256, dtype=np.uint32) * 0x010101) | 0xFF000000  # grey level → RGB32


class Gray32ImageItem(pg.ImageItem):
    """An image item that draws its uint8 grey image as an RGB32 ``QImage``: Qt scales RGB32 onto
    the screen about ten times faster than ``Grayscale8`` (0.2 against 1–3 ms for a 512² slice
    drawn at 680², docs/benchmarks.md), and every scroll step draws a new slice."""

    def render(self):
        img = self.image
        if img is None or img.ndim != 2 or img.dtype != np.uint8:
            super().render()
            return
        self._rgb32 = np.take(GRAY32, img)  # kept: the QImage uses its memory
        h, w = img.shape
        self.qimage = QImage(self._rgb32.data, w, h, 4 * w, QImage.Format_RGB32)
        self._renderRequired = False
        self._unrenderable = False


class SliceViewBox(_WindowLevelViewBox):
    """The 2-D viewer's view box, whose wheel scrolls slices (Ctrl+wheel zooms)."""

    def __init__(self, on_window_drag, on_wheel, **kwargs):
        super().__init__(on_window_drag, **kwargs)
        self._on_wheel = on_wheel

    def wheelEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph API)
        if ev.modifiers() & Qt.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        self._on_wheel(ev.delta())


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


def edge_labels(viewport: QWidget) -> tuple[QLabel, QLabel, QLabel, QLabel]:
    """Four small hidden labels (top, bottom, left, right) on ``viewport``, for the patient's
    sides (A/P, S/I, R/L); ``place_edge_labels`` puts them beside the image's edges."""
    out = []
    for _ in range(4):
        lab = QLabel(viewport, objectName="overlayReadout")
        lab.setFont(theme.mono_font(9.5))
        lab.setAttribute(Qt.WA_TransparentForMouseEvents)
        lab.setStyleSheet("margin: 0px;")
        lab.hide()
        out.append(lab)
    return tuple(out)


def place_edge_labels(labels, image: QRectF, viewport: QWidget) -> None:
    """Move the side labels beside the edges of ``image`` (the image's rectangle in viewport
    pixels), as ``edge_positions`` says."""
    sizes = []
    for lab in labels:
        lab.adjustSize()
        sizes.append((lab.width(), lab.height()))
    box = (image.left(), image.top(), image.right(), image.bottom())
    view = (viewport.width(), viewport.height())
    for lab, (x, y) in zip(labels, edge_positions(box, view, sizes), strict=True):
        lab.move(round(x), round(y))


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


def viewer_key(view, event) -> bool:
    """A key of the volume viewer ``view`` (a ``VolumeView``): slices, planes, zoom, fit, reset.
    False leaves it to the window (the answer keys)."""
    key, mods = event.key(), event.modifiers()
    if key in SLICE_KEYS and not mods & ~Qt.KeypadModifier:
        view.step(SLICE_KEYS[key])
    elif key in (Qt.Key_Home, Qt.Key_End) and not mods:
        view.set_slice(0 if key == Qt.Key_Home else view.slice_count() - 1)
    elif key in PLANE_KEYS and mods == Qt.ControlModifier:
        view.set_plane(PLANE_KEYS[key])
    elif key in (Qt.Key_Plus, Qt.Key_Equal):
        view.zoom(ZOOM_STEP)
    elif key in (Qt.Key_Minus, Qt.Key_Underscore):
        view.zoom(1.0 / ZOOM_STEP)
    elif key == Qt.Key_F and not mods:
        view.fit()
    elif key == Qt.Key_R and not mods:
        view.reset()
    else:
        return False
    event.accept()
    return True


def fit_rect(rect: QRectF, viewport: QWidget, box) -> QRectF:
    """The view range that fits ``rect`` (the image) in ``viewport`` clear of the tags ``box``
    (a ``QSize`` in the top-left corner, or None): ``overlays.fit_beside``."""
    vw, vh = viewport.width(), viewport.height()
    w, h = rect.width(), rect.height()
    place = fit_beside(w, h, vw, vh, (box.width(), box.height()) if box else None)
    if place is None:
        return rect
    left, top, scale = place
    return QRectF(-left / scale, -top / scale, vw / scale, vh / scale)


def _tool_button(text: str, tip: str, slot) -> QPushButton:
    b = QPushButton(text, toolTip=tip, focusPolicy=Qt.NoFocus)
    b.clicked.connect(slot)
    return b


def build_toolbar(view) -> QWidget:
    """The volume viewer's top bar: the plane buttons, the window presets, Fit, Reset and the
    hint; set on ``view`` (a ``VolumeView``) as ``plane_buttons``, ``preset_label``,
    ``preset_combo``, ``fit_button``, ``reset_button`` and ``hint``. Nothing takes the focus."""
    bar = QWidget(objectName="viewerToolbar")
    row = QHBoxLayout(bar)
    row.setContentsMargins(8, 4, 8, 4)
    row.setSpacing(6)
    view.plane_buttons = {}
    for n, name in enumerate(PLANES, start=1):
        tip = f"{name.capitalize()} plane (Ctrl+{n} with the image focused)"
        b = QPushButton(name.capitalize(), checkable=True, toolTip=tip, focusPolicy=Qt.NoFocus)
        b.clicked.connect(lambda _=False, p=name: view.set_plane(p))
        view.plane_buttons[name] = b
        row.addWidget(b)
    row.addSpacing(8)
    view.preset_label = QLabel("Window")
    view.preset_combo = PresetBox()
    view.preset_combo.activated.connect(lambda i: view.apply_preset(view.preset_combo.itemText(i)))
    row.addWidget(view.preset_label)
    row.addWidget(view.preset_combo)
    view.fit_button = _tool_button("Fit", "Fit the slice to the window (F)", view.fit)
    view.reset_button = _tool_button(
        "Reset", "The first window and fit to the window (R)", view.reset
    )
    row.addWidget(view.fit_button)
    row.addWidget(view.reset_button)
    view.hint = ElidedLabel()
    view.hint.set_texts(
        "Wheel, ↑/↓, PgUp/PgDn: slices · Ctrl+wheel: zoom · right-drag: window/level",
        "wheel ↑/↓: slices · right-drag: window",
        "wheel: slices",
        "",
    )
    view.hint.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
    row.addWidget(view.hint, 1)
    return bar
