"""Volume viewer: one large plane (axial, coronal or sagittal), slice scroll, window/level with
the CT presets, the value under the cursor in HU with its voxel, the physical aspect kept.

Public API
----------
``VolumeView(parent=None)`` — a ``QWidget``.

- ``set_volume(volume, plane=None, index=None)``: show a ``Volume`` (``None`` clears) at slice
  ``index`` of ``plane`` (default: ``prefetch.first_view``, the middle axial slice, which the
  prefetch thread has decoded already). Only that slice is read.
- ``set_plane(name)`` / ``plane()``: "axial", "coronal" or "sagittal" (keeps the relative depth);
  ``reading()``: the plane asked for while the volume is read whole for it (else None).
- ``set_slice(index)`` / ``slice_index()`` / ``slice_count()``; ``step(n)``: move n slices.
- ``set_window(centre, width)`` / ``window()``; ``apply_preset(name)``, ``preset_names()``;
  ``reset()`` (the first window and fit); ``fit()``; ``zoom(factor)``.
- ``value_text(row, col) -> str | None``: the readout for a row and column of the shown slice.
- Signals: ``sliceChanged(int index, int count)``, ``planeChanged(str)``,
  ``windowChanged(float centre, float width)``, ``presetApplied(str)``,
  ``voxelHovered(int k, int j, int i)`` (−1s when leaving).

Mouse and keys: the wheel scrolls slices (down: next), Ctrl+wheel zooms about the cursor,
left-drag pans, right-drag is window/level as in the 2-D viewer. With the viewer focused (a click
or a wheel turn over it gives it focus): ↑/↓ one slice, PgUp/PgDn ten, Home/End the first and last
slice, Ctrl+1/2/3 axial/coronal/sagittal, +/− zoom, F fit, R reset. The plane buttons and the
slider never take the focus: ←/→, A, X, Space and the label keys stay the window's answers.

One large plane with a switch, not three panes; the image item's rectangle is stretched to the
physical aspect (``Volume.pixel_aspect``), never the pixels. A plane across a lazy volume's
stored slices is shown once the volume is read whole on a worker thread (``volume_reader``).
The patient's sides (A/P, S/I, R/L) sit beside the image's edges (the view's when zoomed in).
Design and measurements: ADR 0016.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.labelling.prefetch import first_view
from mmrl_desktop.gui import theme
from mmrl_desktop.gui.viewers.overlays import fmt_value
from mmrl_desktop.gui.viewers.volume_controls import (
    CUSTOM,
    Gray32ImageItem,
    SliceViewBox,
    build_toolbar,
    corner_labels,
    edge_labels,
    fit_rect,
    place_edge_labels,
    viewer_key,
)
from mmrl_desktop.gui.viewers.volume_overlays import (
    CT_PRESETS,
    EDGES,
    PLANES,
    WheelSteps,
    looks_like_ct,
    matching_preset,
    range_window,
    readout_text,
    reads_whole,
    slice_label,
    unit_of_volume,
    volume_presets,
    volume_tags_text,
    window_slice,
)
from mmrl_desktop.gui.viewers.volume_reader import WholeRead

READ_AHEAD_MS = 400  # a case shown this long (idle) is read whole, once cross planes were used


class VolumeView(QWidget):
    sliceChanged = Signal(int, int)
    planeChanged = Signal(str)
    windowChanged = Signal(float, float)
    presetApplied = Signal(str)
    voxelHovered = Signal(int, int, int)
    cross_planes_used = False  # in any viewer of this process: later cases are read ahead

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("volumeView")
        self.setStyleSheet(theme.VIEWER_STYLE)
        self._volume = None
        self._plane = "axial"
        self._index = 0
        self._count = 0
        self._window: tuple[float, float] | None = None
        self._first_window: tuple[float, float] | None = None
        self._presets: dict[str, tuple[float, float]] = {}
        self._unit = ""
        self._hu: np.ndarray | None = None  # the shown slice in HU
        self._hover: tuple[int, int] | None = None  # (row, col) under the cursor
        self._drag_start: tuple[float, float, float] | None = None  # centre, width, per px
        self._wheel = WheelSteps()
        self._fitted = False
        self._pending: str | None = None  # the plane asked for while the volume is read whole
        self._reader = WholeRead(self)  # that read, on a worker thread
        self._reader.done.connect(self._on_read)
        self._reader.failed.connect(self._on_read_failed)

        bar = build_toolbar(self)
        self._build_image()
        stack, self.tags_label, self.readout_label, self.window_label = corner_labels(self.graphics)
        self.edge_labels = edge_labels(self.graphics.viewport())  # the patient's sides
        slider_bar = self._build_slider()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addLayout(stack, 1)
        layout.addWidget(slider_bar)
        self._set_controls_enabled(False)
        self.view_box.sigRangeChangedManually.connect(lambda *_: setattr(self, "_fitted", False))
        self.view_box.sigResized.connect(lambda *_: self._fitted and self.fit())
        self.view_box.sigTransformChanged.connect(self._place_edges)
        self.view_box.sigResized.connect(self._place_edges)

    # ------------------------------------------------------------------ building
    def _build_image(self) -> None:
        self.graphics = pg.GraphicsView(background=theme.VIEWER_BG)
        self.graphics.setFocusPolicy(Qt.WheelFocus)
        self.graphics.installEventFilter(self)  # its scroll area would eat ↑/↓ and PgUp/PgDn
        self.view_box = SliceViewBox(
            self._on_window_drag,
            self._on_wheel,
            lockAspect=True,
            invertY=True,
            enableMenu=False,
            defaultPadding=0.0,
        )
        self.graphics.setCentralItem(self.view_box)
        self.image_item = Gray32ImageItem(axisOrder="row-major")
        self.image_item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.view_box.addItem(self.image_item)
        self.graphics.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def _build_slider(self) -> QWidget:
        bar = QWidget(objectName="viewerToolbar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 8, 4)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setFocusPolicy(Qt.NoFocus)  # ←/→ stay the window's answers
        self.slider.setToolTip("Slice (wheel, ↑/↓, PgUp/PgDn over the image)")
        self.slider.valueChanged.connect(self.set_slice)
        self.slice_label = QLabel(slice_label(0, 0))
        self.slice_label.setFont(theme.mono_font(9.5))
        self.slice_label.setMinimumWidth(self.slice_label.fontMetrics().horizontalAdvance("8" * 18))
        row.addWidget(self.slider, 1)
        row.addWidget(self.slice_label)
        return bar

    # ------------------------------------------------------------------ public API
    def set_volume(self, volume, plane: str | None = None, index: int | None = None) -> None:
        """Show ``volume`` (None clears) at ``index`` of ``plane`` (default: ``first_view``; a
        plane that reads the whole volume opens once read, the first view meanwhile)."""
        self._reader.cancel()  # a read of the last case is dropped
        self._pending = None
        self._volume = volume
        self._hu = None
        self._hover = None
        self._drag_start = None
        self.readout_label.hide()
        if volume is None:
            self.image_item.clear()
            self._window = self._first_window = None
            self._count = 0
            for lab in (self.tags_label, self.window_label, *self.edge_labels):
                lab.hide()
            self._set_controls_enabled(False)
            self._update_slider()
            return
        self._presets = volume_presets(volume)
        self._unit = unit_of_volume(volume)
        self._window = self._first_window = self._presets.get("file")
        self._set_controls_enabled(True)
        self._update_presets()
        wanted = plane if plane in PLANES and reads_whole(volume, plane) else None
        if plane not in PLANES or wanted:
            plane, index = first_view(volume)
        self._switch_plane(plane, index)
        if wanted:
            self.set_plane(wanted)
        if "lung" not in self._presets and looks_like_ct(self._hu):
            self._presets.update(CT_PRESETS)  # a NIfTI says no modality: its air says HU
            self._update_presets()
            if "file" not in self._presets:  # as a CT series' usual file window, not the range
                self._first_window = CT_PRESETS["soft tissue"]
                self.set_window(*self._first_window)
        self.fit()
        self._schedule_read_ahead()

    def volume(self):
        return self._volume

    def plane(self) -> str:
        return self._plane

    def slice_index(self) -> int:
        return self._index

    def slice_count(self) -> int:
        return self._count

    def window(self) -> tuple[float, float] | None:
        return self._window

    def preset_names(self) -> list[str]:
        return list(self._presets)

    def set_plane(self, name: str) -> None:
        """Switch plane at the same relative depth (the middle stays the middle); a plane that
        reads the volume whole (``volume_reader``) is shown once read, the shown one meanwhile
        ("reading all N slices…"); another plane or case asked for meanwhile takes its place."""
        if self._volume is None or name not in PLANES:
            self._check_plane_button()
            return
        if name == self._plane or not reads_whole(self._volume, name):
            if self._pending is not None:  # the switch taken back: the read is not waited for
                self._pending = None
                self._reader.cancel()
                self._update_slider()
            if name != self._plane:
                self._switch_at_depth(name)
            self._check_plane_button()
            return
        self._pending = name
        VolumeView.cross_planes_used = True
        self._reader.start(self._volume, name)
        self._check_plane_button()
        self._update_slider()

    def reading(self) -> str | None:
        return self._pending

    def _switch_at_depth(self, name: str) -> None:
        depth = (self._index + 0.5) / max(self._count, 1)
        n = self._volume.n_slices(name)
        self._switch_plane(name, min(n - 1, int(depth * n)))
        self.fit()

    def _on_read(self, source, in_memory) -> None:
        """The whole read is done: its copy replaces the lazy volume; the plane is shown."""
        if source is not self._volume:
            return
        self._volume = in_memory  # read ahead (no plane asked for yet): kept for the switch
        if self._pending is not None:
            plane, self._pending = self._pending, None
            self._switch_at_depth(plane)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._pending is not None and self._volume is not None:  # stopped when flipped away
            self._reader.start(self._volume, self._pending)
        self._schedule_read_ahead()  # a preloaded page flipped to

    def hideEvent(self, event) -> None:  # noqa: N802
        """Flipped away (``MultiView`` shows another page): this case's whole read stops between
        files, so the one reader thread is free for the page shown; a plane asked for is read
        again when the page comes back. Minimising the window (spontaneous) stops nothing."""
        super().hideEvent(event)
        if not event.spontaneous() and self._reader.source() is not None:
            self._reader.cancel()

    def _schedule_read_ahead(self) -> None:
        if VolumeView.cross_planes_used and self._volume is not None:
            QTimer.singleShot(READ_AHEAD_MS, self, self._read_ahead)

    def _read_ahead(self) -> None:
        """The shown case read whole for a cross plane, before it is asked for (only once a
        cross plane was used: most answers never leave the axial plane); a hidden page's never."""
        vol = self._volume
        if vol is None or self._pending is not None or not self.isVisible():
            return
        plane = next((p for p in ("coronal", "sagittal") if reads_whole(vol, p)), None)
        if plane is not None:
            self._reader.start(vol, plane)

    def _on_read_failed(self, text: str) -> None:
        if self._pending is None:  # a read ahead: said when the plane is asked for
            return
        self._pending = None
        self._update_slider()
        self._check_plane_button()
        self.slice_label.setText(text)

    def set_slice(self, index: int) -> None:
        if self._volume is None:
            return
        index = int(min(max(index, 0), self._count - 1))
        if index == self._index and self._hu is not None:
            return
        self._index = index
        self._show_slice()
        self.sliceChanged.emit(index, self._count)

    def step(self, n: int) -> None:
        self.set_slice(self._index + int(n))

    def set_window(self, centre: float, width: float, *, _preset: str | None = None) -> None:
        if self._volume is None or not (np.isfinite(centre) and np.isfinite(width)):
            return
        self._window = (float(centre), max(float(width), 1.0))
        self._render()
        self._select_preset(_preset or self._matching_preset())
        self.windowChanged.emit(*self._window)

    def apply_preset(self, name: str) -> None:
        if name not in self._presets:
            return
        self.set_window(*self._presets[name], _preset=name)
        self.presetApplied.emit(name)

    def reset(self) -> None:
        if self._volume is None:
            return
        if self._first_window is not None and self._window != self._first_window:
            self.set_window(*self._first_window)
        self.fit()

    def fit(self) -> None:
        if self._hu is None:
            return
        self._fitted = True
        rect = self.image_item.mapRectToParent(self.image_item.boundingRect())
        box = self.tags_label.sizeHint() if self.tags_label.isVisibleTo(self) else None
        self.view_box.setRange(fit_rect(rect, self.graphics.viewport(), box), padding=0.0)

    def zoom(self, factor: float) -> None:
        self._fitted = False
        if self._hu is not None and factor > 0:
            self.view_box.scaleBy((1.0 / factor, 1.0 / factor))

    def value_text(self, row: int, col: int) -> str | None:
        """The readout for ``row``, ``col`` of the shown slice (None outside it)."""
        if self._hu is None:
            return None
        h, w = self._hu.shape
        if not (0 <= row < h and 0 <= col < w):
            return None
        hu, voxel = self._volume.value_at(self._plane, self._index, row, col)
        return readout_text(hu, voxel, self._unit)

    # ------------------------------------------------------------------ slices and planes
    def _switch_plane(self, plane: str, index: int | None) -> None:
        self._plane = plane
        self._count = int(self._volume.n_slices(plane))
        self._index = (
            self._count // 2 if index is None else int(min(max(index, 0), self._count - 1))
        )
        self._hu = None
        self._check_plane_button()
        self._show_slice()
        aspect = float(self._volume.pixel_aspect(plane))
        h, w = self._hu.shape
        self.image_item.setRect(QRectF(0, 0, w, h * aspect))  # rows stretched, pixels kept
        self.tags_label.setText(volume_tags_text(self._volume, plane))
        self.tags_label.show()
        for lab, side in zip(self.edge_labels, EDGES[plane], strict=True):
            lab.setText(side)
            lab.show()
        self._place_edges()
        self.planeChanged.emit(plane)
        self.sliceChanged.emit(self._index, self._count)

    def _show_slice(self) -> None:
        """Read the slice from the volume and show it: the one slow step of a scroll."""
        self._hu = self._volume.plane_slice(self._plane, self._index)
        if self._window is None:
            self._window = self._first_window = range_window(self._hu)
            self._select_preset(self._matching_preset())
        self._render()
        self._update_slider()
        if self._hover is not None:
            self._update_readout(*self._hover)

    def _render(self) -> None:
        if self._hu is None or self._window is None:
            return
        self.image_item.setImage(
            window_slice(self._hu, *self._window), autoLevels=False, levels=(0, 255)
        )
        c, w = self._window
        unit = f"  {self._unit}" if self._unit else ""
        self.window_label.setText(f"W {fmt_value(w)}  L {fmt_value(c)}{unit}")
        self.window_label.show()

    def _update_slider(self) -> None:
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(self._count - 1, 0))
        self.slider.setValue(self._index)
        self.slider.blockSignals(False)
        self.slider.setEnabled(self._count > 1)
        text = slice_label(self._index, self._count)
        if self._pending is not None:
            text += f" · reading all {self._volume.shape[0]} slices…"
        self.slice_label.setText(text)

    def _check_plane_button(self) -> None:
        shown = self._pending or self._plane  # the plane asked for, while it is being read
        for name, b in self.plane_buttons.items():
            b.setChecked(name == shown and self._volume is not None)

    # ------------------------------------------------------------------ input
    def _on_wheel(self, delta: int) -> None:
        self.graphics.setFocus(Qt.MouseFocusReason)
        n = self._wheel.steps(delta)
        if n:
            self.step(n)

    def _on_window_drag(self, dx: float, dy: float, start: bool, finish: bool) -> None:
        if self._hu is None or self._window is None:
            return
        if start or self._drag_start is None:
            # the slice's range over ~500 screen pixels, as in the 2-D viewer
            per_px = max(range_window(self._hu)[1], 1.0) / 500.0
            self._drag_start = (*self._window, per_px)
        c0, w0, per_px = self._drag_start
        self.set_window(c0 + dy * per_px, w0 + 2.0 * dx * per_px)
        if finish:
            self._drag_start = None

    def _on_mouse_moved(self, scene_pos) -> None:
        if self._hu is None:
            return
        pt = self.image_item.mapFromScene(scene_pos)
        self._update_readout(int(np.floor(pt.y())), int(np.floor(pt.x())))

    def _update_readout(self, row: int, col: int) -> None:
        text = self.value_text(row, col)
        if text is None:
            self._hover = None
            self.readout_label.hide()
            self.voxelHovered.emit(-1, -1, -1)
            return
        self._hover = (row, col)
        self.readout_label.setText(text)
        self.readout_label.show()
        _, (k, j, i) = self._volume.value_at(self._plane, self._index, row, col)
        self.voxelHovered.emit(int(k), int(j), int(i))

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if obj is self.graphics and event.type() == QEvent.KeyPress:
            return self._key(event)
        return super().eventFilter(obj, event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if not self._key(event):
            super().keyPressEvent(event)

    def _key(self, event) -> bool:
        """Handle a key of the viewer; False leaves it to the window."""
        return viewer_key(self, event)

    # ------------------------------------------------------------------ overlays and controls
    def _place_edges(self, *_) -> None:
        """The patient's sides beside the image's edges (at the view's edges when zoomed in)."""
        if self._hu is not None:
            scene = self.image_item.mapRectToScene(self.image_item.boundingRect())
            on_view = self.graphics.mapFromScene(scene).boundingRect()
            place_edge_labels(self.edge_labels, QRectF(on_view), self.graphics.viewport())

    def _update_presets(self) -> None:
        self.preset_combo.set_names(list(self._presets))
        self.preset_combo.setVisible(bool(self._presets))
        self.preset_label.setVisible(bool(self._presets))
        self._select_preset(self._matching_preset())

    def _matching_preset(self) -> str:
        return matching_preset(self._presets, self._window) or CUSTOM

    def _select_preset(self, name: str) -> None:
        self.preset_combo.select(name)

    def _set_controls_enabled(self, on: bool) -> None:
        for w in (self.preset_combo, self.fit_button, self.reset_button, self.slider):
            w.setEnabled(on)
        for b in self.plane_buttons.values():
            b.setEnabled(on)
        self._check_plane_button()
