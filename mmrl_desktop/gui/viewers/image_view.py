"""Image and DICOM viewer: fit, zoom, pan, window/level, presets, pixel readout, display tags.

Public API
----------
``ImageView(parent=None)`` — a ``QWidget``.

- ``set_image(data: ImageData | None)``: show an image (``None`` clears). Cheap: the loader's
  ready-made ``data.display`` (uint8) is handed to the ``ImageItem`` as is, with explicit levels
  (no auto-levels, no copy, no statistics); the view is fitted to the window.
- ``set_window(centre, width)`` / ``window() -> (centre, width) | None``: window/level in the units
  of ``data.pixels`` (Hounsfield units for CT).
- ``apply_preset(name)``, ``preset_names() -> list[str]``; ``reset()`` (file window + fit);
  ``fit()``; ``zoom(factor)``, ``zoom_in()``, ``zoom_out()``.
- ``pixel_at(x, y) -> str | None``: the readout text for image column ``x`` and row ``y``.
- Signals: ``windowChanged(float centre, float width)`` after every window change by the user or
  a preset; ``presetApplied(str name)``; ``pixelHovered(int x, int y)`` (−1, −1 when leaving).

Mouse and keys: wheel zooms about the cursor, left-drag pans, right-drag is window/level
(horizontal = width: right widens; vertical = centre: down raises the centre, so the image darkens —
the OsiriX/Horos convention), ``+``/``-`` zoom, ``F`` (or ``0``, unless the window makes it a
label key) fits, ``R`` resets.

Why pyqtgraph (``ImageItem`` in a ``ViewBox``) and not a hand-made ``QGraphicsView``: the
``ViewBox`` already gives aspect-locked zoom about the cursor, pan, and scene↔image coordinate
mapping, and ``ImageItem`` paints a uint8 array through a zero-copy ``QImage``
(``Format_Grayscale8`` / RGB) when the levels are (0, 255). We keep the item on uint8 and do the
window ourselves: for integer-valued pixels (CT in HU, 8/16-bit images) a per-image index array is
built once on the first window change, after which every change is a tiny lookup table (computed
with the core's ``apply_window``, so the on-screen result matches the loader's ``display``) and one
``np.take`` — about 1 ms for a 512×512 slice; non-integer data use the vectorised formula.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsItem,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.data.loaders import ImageData, apply_window
from mmrl_desktop.gui import theme
from mmrl_desktop.gui.viewers.overlays import fit_beside, fmt_value, tags_text, unit_of
from mmrl_desktop.gui.widgets import ElidedLabel

CUSTOM = "custom"
ZOOM_STEP = 1.25
MAX_LUT_RANGE = 1 << 20  # integer pixel ranges up to this size use a lookup table


class _WindowLevelViewBox(pg.ViewBox):
    """A ViewBox whose right-drag reports window/level motion instead of zooming."""

    def __init__(self, on_window_drag, **kwargs):
        super().__init__(**kwargs)
        self._on_window_drag = on_window_drag

    def mouseDragEvent(self, ev, axis=None):  # noqa: N802 (pyqtgraph API)
        if ev.button() == Qt.RightButton:
            ev.accept()
            d = ev.screenPos() - ev.buttonDownScreenPos()
            self._on_window_drag(d.x(), d.y(), ev.isStart(), ev.isFinish())
            return
        super().mouseDragEvent(ev, axis)


class ImageView(QWidget):
    windowChanged = Signal(float, float)  # centre, width (file units)
    presetApplied = Signal(str)
    pixelHovered = Signal(int, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("imageView")
        self.setStyleSheet(theme.VIEWER_STYLE)
        self._data: ImageData | None = None
        self._window: tuple[float, float] | None = None
        self._file_window: tuple[float, float] | None = None
        self._rendered_from_pixels = False
        self._index: np.ndarray | None = None  # pixels − min, as integers (LUT path)
        self._pmin = 0.0
        self._prange = 1.0
        self._prepared = False
        self._drag_start: tuple[float, float] | None = None
        self._preset_names: tuple[str, ...] = ()
        self._tags_text = ""

        bar = self._build_toolbar()
        self._build_image()
        stack = self._build_overlays()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addLayout(stack, 1)
        self._set_controls_enabled(False)
        self.view_box.sigRangeChangedManually.connect(lambda *_: setattr(self, "_fitted", False))
        self.view_box.sigResized.connect(lambda *_: self._refit())

    def _build_toolbar(self) -> QWidget:
        """The row above the image: window presets, zoom, fit, reset and the hint."""
        bar = QWidget(objectName="viewerToolbar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 8, 4)
        row.setSpacing(6)
        self.preset_label = QLabel("Window")
        self.preset_combo = QComboBox()
        self.preset_combo.setToolTip("Window presets (right-drag on the image for a custom window)")
        self.preset_combo.setFocusPolicy(Qt.NoFocus)
        self.preset_combo.activated.connect(
            lambda i: self.apply_preset(self.preset_combo.itemText(i))
        )
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Fit the image to the window (F)")
        self.fit_button.clicked.connect(self.fit)
        self.zoom_out_button = QPushButton("−")
        self.zoom_out_button.setToolTip("Zoom out (−)")
        self.zoom_out_button.clicked.connect(self.zoom_out)
        self.zoom_in_button = QPushButton("+")
        self.zoom_in_button.setToolTip("Zoom in (+)")
        self.zoom_in_button.clicked.connect(self.zoom_in)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("The file's window and fit to the window (R)")
        self.reset_button.clicked.connect(self.reset)
        for b in (self.fit_button, self.zoom_out_button, self.zoom_in_button, self.reset_button):
            b.setFocusPolicy(Qt.NoFocus)
        # shown only for an image with presets (DICOM): an empty page made ahead must not ask
        # the window for their width (the docks beside the viewer would be squeezed for it)
        self.preset_label.hide()
        self.preset_combo.hide()
        self.hint = ElidedLabel()
        # a narrow pane (an image beside sound and text) shows a shorter hint, never a cut one;
        # the full one is the tooltip and in the F1 help
        self.hint.set_texts(
            "Wheel: zoom · drag: pan · right-drag: window/level",
            "wheel zoom · drag pan · right-drag window",
            "right-drag: window/level",
            "",
        )
        self.hint.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        row.addWidget(self.preset_label)
        row.addWidget(self.preset_combo)
        row.addSpacing(8)
        row.addWidget(self.zoom_out_button)
        row.addWidget(self.zoom_in_button)
        row.addWidget(self.fit_button)
        row.addWidget(self.reset_button)
        row.addWidget(self.hint, 1)
        return bar

    def _build_image(self) -> None:
        """The graphics view and its view box holding the image item."""
        self.graphics = pg.GraphicsView(background=theme.VIEWER_BG)
        self.graphics.setFocusPolicy(Qt.StrongFocus)
        self.view_box = _WindowLevelViewBox(
            self._on_window_drag,
            lockAspect=True,
            invertY=True,
            enableMenu=False,
            defaultPadding=0.0,
        )
        self.graphics.setCentralItem(self.view_box)
        self._fitted = False  # the view shows the whole image as fit() placed it
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.image_item.setAutoDownsample(True)
        # drawn once per image and zoom into a pixmap at screen resolution (MultiView paints a
        # preloaded page off screen, so the click's paint is a blit, not a scaled drawImage)
        self.image_item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.view_box.addItem(self.image_item)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def _build_overlays(self) -> QGridLayout:
        """The image under its radiology-style corner annotations (tags, readout, window): not
        in the scene, so they never move."""
        self.tags_label = QLabel(objectName="overlayTags")
        self.tags_label.setFont(theme.mono_font(9))
        self.readout_label = QLabel(objectName="overlayReadout")
        self.readout_label.setFont(theme.mono_font(9.5))
        self.window_label = QLabel(objectName="overlayReadout")
        self.window_label.setFont(theme.mono_font(9.5))
        for lab in (self.tags_label, self.readout_label, self.window_label):
            lab.setAttribute(Qt.WA_TransparentForMouseEvents)
            lab.setStyleSheet("margin: 8px;")
            lab.hide()
        stack = QGridLayout()
        stack.setContentsMargins(0, 0, 0, 0)
        stack.addWidget(self.graphics, 0, 0)
        stack.addWidget(self.tags_label, 0, 0, Qt.AlignTop | Qt.AlignLeft)
        stack.addWidget(self.readout_label, 0, 0, Qt.AlignBottom | Qt.AlignLeft)
        stack.addWidget(self.window_label, 0, 0, Qt.AlignBottom | Qt.AlignRight)
        return stack

    # ------------------------------------------------------------------ public API
    def set_image(self, data: ImageData | None) -> None:
        """Show ``data`` (None clears). No statistics or conversions happen here."""
        self._data = data
        self._index = None
        self._prepared = False
        self._rendered_from_pixels = False
        self._drag_start = None
        if data is None:
            self.image_item.clear()
            self._window = self._file_window = None
            for lab in (self.tags_label, self.readout_label, self.window_label):
                lab.hide()
            self._set_controls_enabled(False)
            return
        self.image_item.setImage(data.display, autoLevels=False, levels=(0, 255))
        self._file_window = data.window
        self._window = data.window
        self._set_controls_enabled(True)
        self._update_presets(data.presets)
        self._update_tags(data)
        self.readout_label.hide()
        self._show_window_label()
        self.fit()

    def image(self) -> ImageData | None:
        return self._data

    def window(self) -> tuple[float, float] | None:
        return self._window

    def preset_names(self) -> list[str]:
        return list(self._preset_names)

    def set_window(self, centre: float, width: float, *, _preset: str | None = None) -> None:
        """Window/level the image in file units; re-renders ``pixels`` to uint8."""
        if self._data is None:
            return
        if not (np.isfinite(centre) and np.isfinite(width)):
            return
        width = max(float(width), 1.0)
        centre = float(centre)
        self._window = (centre, width)
        self.image_item.setImage(self._render(centre, width), autoLevels=False, levels=(0, 255))
        self._rendered_from_pixels = True
        self._select_preset(_preset or self._matching_preset())
        self._show_window_label()
        self.windowChanged.emit(centre, width)

    def apply_preset(self, name: str) -> None:
        if self._data is None or name not in self._data.presets:
            return
        c, w = self._data.presets[name]
        self.set_window(c, w, _preset=name)
        self.presetApplied.emit(name)

    def reset(self) -> None:
        """The file's own window (or the loader's display) and fit to the window."""
        if self._data is None:
            return
        if self._rendered_from_pixels:
            self.image_item.setImage(self._data.display, autoLevels=False, levels=(0, 255))
            self._rendered_from_pixels = False
            self._window = self._file_window
            self._select_preset(self._matching_preset())
            self._show_window_label()
            if self._window is not None:
                self.windowChanged.emit(*self._window)
        self.fit()

    def fit(self) -> None:
        """The whole image in view, beside the corner annotations rather than under them."""
        if self._data is None:
            return
        self._fitted = True
        h, w = self._data.display.shape[:2]
        self.view_box.setRange(self._fit_rect(w, h), padding=0.0)

    def _fit_rect(self, w: int, h: int) -> QRectF:
        """The view range that shows the image whole and clear of the tags box, if shown."""
        vw, vh = self.graphics.viewport().width(), self.graphics.viewport().height()
        box = self.tags_label.sizeHint() if self.tags_label.isVisibleTo(self) else None
        place = fit_beside(w, h, vw, vh, (box.width(), box.height()) if box else None)
        if place is None:
            return QRectF(0, 0, w, h)
        left, top, scale = place
        return QRectF(-left / scale, -top / scale, vw / scale, vh / scale)

    def _refit(self) -> None:
        """A resized view keeps the image fitted beside the tags until the user zooms or pans."""
        if self._fitted and self.tags_label.isVisibleTo(self):
            self.fit()

    def zoom(self, factor: float) -> None:
        """Zoom about the centre of the view; factor > 1 magnifies."""
        self._fitted = False
        if self._data is not None and factor > 0:
            self.view_box.scaleBy((1.0 / factor, 1.0 / factor))

    def zoom_in(self) -> None:
        self.zoom(ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom(1.0 / ZOOM_STEP)

    def pixel_at(self, x: int, y: int) -> str | None:
        """Readout text for image column ``x``, row ``y`` (None outside the image)."""
        d = self._data
        if d is None:
            return None
        h, w = d.pixels.shape[:2]
        if not (0 <= x < w and 0 <= y < h):
            return None
        v = d.pixels[y, x]
        unit = unit_of(d)
        if np.ndim(v) == 0:
            value = f"{fmt_value(float(v))}{' ' + unit if unit else ''}"
        else:
            value = "RGB " + " ".join(fmt_value(float(c)) for c in np.ravel(v)[:4])
        return f"x {x:>4}  y {y:>4}   {value}"

    # ------------------------------------------------------------------ rendering
    def _prepare(self) -> None:
        """Once per image, lazily on the first window change: range and the LUT index array."""
        if self._prepared or self._data is None:
            return
        p = self._data.pixels
        finite = p[np.isfinite(p)] if p.dtype.kind == "f" else p
        pmin, pmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 255.0)
        self._pmin, self._prange = pmin, max(pmax - pmin, 1.0)
        rng = pmax - pmin
        integral = np.issubdtype(p.dtype, np.integer) or (
            rng < MAX_LUT_RANGE and bool(np.array_equal(p, np.rint(p)))
        )
        if integral and rng < MAX_LUT_RANGE:
            dtype = np.uint16 if rng < 65536 else np.uint32
            self._index = (p - pmin).astype(dtype)
        if self._file_window is None:
            if pmin >= 0 and pmax <= 255:
                self._file_window = (128.0, 256.0)  # identity for 8-bit data
            else:
                self._file_window = ((pmin + pmax + 1) / 2, rng + 1)
        if self._window is None:
            self._window = self._file_window
        self._prepared = True

    def _render(self, centre: float, width: float) -> np.ndarray:
        self._prepare()
        invert = self._inverted()
        if self._index is not None:
            levels = np.arange(self._pmin, self._pmin + self._prange + 1, dtype=np.float32)
            lut = apply_window(levels, centre, width)
            if invert:
                lut = 255 - lut
            return np.take(lut, self._index)
        out = apply_window(self._data.pixels, centre, width)
        return 255 - out if invert else out

    def _inverted(self) -> bool:
        """MONOCHROME1: low values are white. The loader inverted ``display``; re-windowed
        pixels must be inverted the same way."""
        info = self._data.info if self._data is not None else {}
        return bool(info.get("inverted")) or str(info.get("photometric", "")) == "MONOCHROME1"

    def _on_window_drag(self, dx: float, dy: float, start: bool, finish: bool) -> None:
        if self._data is None:
            return
        if start or self._drag_start is None:
            self._prepare()
            self._drag_start = self._window
        c0, w0 = self._drag_start
        per_px = self._prange / 500.0  # the whole range over ~500 screen pixels
        self.set_window(c0 + dy * per_px, w0 + 2.0 * dx * per_px)
        if finish:
            self._drag_start = None

    # ------------------------------------------------------------------ overlays & controls
    def _on_mouse_moved(self, scene_pos) -> None:
        if self._data is None:
            return
        pt = self.view_box.mapSceneToView(scene_pos)
        x, y = int(np.floor(pt.x())), int(np.floor(pt.y()))
        text = self.pixel_at(x, y)
        if text is None:
            self.readout_label.hide()
            self.pixelHovered.emit(-1, -1)
            return
        self.readout_label.setText(text)
        self.readout_label.show()
        self.pixelHovered.emit(x, y)

    def _show_window_label(self) -> None:
        if self._window is None:
            self.window_label.hide()
            return
        c, w = self._window
        unit = unit_of(self._data)
        self.window_label.setText(
            f"W {fmt_value(w)}  L {fmt_value(c)}{'  ' + unit if unit else ''}"
        )
        self.window_label.show()

    def _update_presets(self, presets: dict) -> None:
        names = tuple(presets)
        if names != self._preset_names:
            self._preset_names = names
            self.preset_combo.blockSignals(True)
            self.preset_combo.clear()
            self.preset_combo.addItems(list(names))
            self.preset_combo.blockSignals(False)
        visible = bool(names)
        self.preset_combo.setVisible(visible)
        self.preset_label.setVisible(visible)
        self._select_preset(self._matching_preset())

    def _matching_preset(self) -> str:
        if self._data is None or self._window is None:
            return CUSTOM
        for name, (c, w) in self._data.presets.items():
            if abs(c - self._window[0]) < 1e-6 and abs(w - self._window[1]) < 1e-6:
                return name
        return CUSTOM

    def _select_preset(self, name: str) -> None:
        combo = self.preset_combo
        i = combo.findText(name)
        if i < 0 and name == CUSTOM:
            combo.addItem(CUSTOM)
            i = combo.count() - 1
        if name != CUSTOM and (j := combo.findText(CUSTOM)) >= 0:
            combo.removeItem(j)  # "custom" only while the window matches no preset
            i = combo.findText(name)
        combo.setCurrentIndex(i)

    def _update_tags(self, data: ImageData) -> None:
        text = tags_text(data)
        if text != self._tags_text:
            self._tags_text = text
            self.tags_label.setText(text)
        self.tags_label.setVisible(bool(text))

    def _set_controls_enabled(self, on: bool) -> None:
        for w in (
            self.preset_combo,
            self.fit_button,
            self.zoom_in_button,
            self.zoom_out_button,
            self.reset_button,
        ):
            w.setEnabled(on)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key_Plus, Qt.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key_Minus, Qt.Key_Underscore):
            self.zoom_out()
        elif key in (Qt.Key_0, Qt.Key_F):
            self.fit()
        elif key == Qt.Key_R:
            self.reset()
        else:
            super().keyPressEvent(event)
