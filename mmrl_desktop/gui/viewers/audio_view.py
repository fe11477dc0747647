"""Audio viewer: waveform, spectrogram, and playback with a cursor that follows it.

Public API
----------
``AudioView(parent=None, output=None, output_factory=make_audio_output)`` — a ``QWidget``.

- ``set_audio(samples: np.ndarray | None, rate: int = 0)``: show a mono float sound (None clears).
  Stops any playback. The output is chosen once, just after construction (PortAudio's start-up
  can take a while on some machines, so it is never paid on a click); it may be shared with other
  viewers, so the sound is loaded into it only when this viewer plays or seeks. The waveform is a min/max envelope of at most ``MAX_WAVE_POINTS`` points,
  the spectrogram a numpy STFT (log magnitude, 80 dB range) of at most ``MAX_FRAMES`` frames; the
  last few spectrograms are cached, so going back to an item costs nothing.
- ``toggle_play()``, ``play()``, ``pause()``, ``stop()``, ``seek(seconds)``, ``position() -> float``,
  ``is_playing() -> bool``; ``playback_available() -> bool``; ``playback_message() -> str``.
- Signals: ``playbackStateChanged(bool playing)``, ``seeked(float seconds)``.
- Keys: ``P`` toggles play (when the window defines its own ``P`` action, that one wins and should
  call ``toggle_play``); clicking the plots or dragging the cursor line seeks.

Playback goes through an output object (``audio_output.py``), never through sounddevice directly:
``AudioOutput`` (the real one: a ``sounddevice.OutputStream`` whose callback copies the next block
and advances a frame counter, so the position is exact) or ``NullAudioOutput`` (no sound; carries
the sentence that explains why). ``make_audio_output()`` picks one: PortAudio missing (importing
sounddevice raises ``OSError``), sounddevice not installed, or no default output device → null.
The stream callback runs on PortAudio's thread and touches only plain Python numbers and numpy;
the widget polls ``position()`` from a ~30 Hz ``QTimer`` on the GUI thread.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.data.sound_display import (  # noqa: F401  (re-exported for callers)
    DB_RANGE,
    MAX_FRAMES,
    MAX_WAVE_POINTS,
    SoundDisplay,
    envelope,
    sound_display,
    spectrogram,
)
from mmrl_desktop.gui import theme
from mmrl_desktop.gui.viewers.audio_output import (  # noqa: F401  (re-exported for callers)
    NO_DEVICE,
    NO_PORTAUDIO,
    NO_SOUNDDEVICE,
    AudioOutput,
    NullAudioOutput,
    make_audio_output,
)
from mmrl_desktop.gui.widgets import ElidedLabel

CURSOR_HZ = 30
SPECTRO_CACHE = 6


def _clock(seconds: float) -> str:
    m, s = divmod(max(0.0, seconds), 60.0)
    return f"{int(m)}:{s:04.1f}"


# ---------------------------------------------------------------------- widget
class AudioView(QWidget):
    playbackStateChanged = Signal(bool)
    seeked = Signal(float)

    def __init__(
        self, parent: QWidget | None = None, output=None, output_factory=make_audio_output
    ):
        super().__init__(parent)
        self.setObjectName("audioView")
        self.setStyleSheet(theme.VIEWER_STYLE)
        self.setFocusPolicy(Qt.StrongFocus)
        self._output = output
        self._output_factory = output_factory
        self._samples: np.ndarray | None = None
        self._rate = 0
        self._duration = 0.0
        self._cursor_s = 0.0
        self._spectro_cache: OrderedDict[int, tuple] = OrderedDict()

        bar = self._build_toolbar()
        self._build_plots()

        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / CURSOR_HZ))
        self.timer.timeout.connect(self._tick)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.plots, 1)
        self._update_controls()
        if self._output is None:  # probe PortAudio once the event loop runs, not on a click
            QTimer.singleShot(0, self, self._warm_output)

    def _build_toolbar(self) -> QWidget:
        """Play button, time and info labels (the returned bar); the playback message below it."""
        bar = QWidget(objectName="viewerToolbar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(8, 4, 8, 4)
        self.play_button = QPushButton("▶  Play")
        self.play_button.setToolTip("Play or pause (P)")
        self.play_button.setFocusPolicy(Qt.NoFocus)
        self.play_button.setMinimumWidth(92)
        self.play_button.clicked.connect(self.toggle_play)
        self.time_label = QLabel("0:00.0 / 0:00.0", objectName="timeLabel")
        self.time_label.setFont(theme.mono_font(10))
        self.info_label = ElidedLabel("")
        self.message_label = QLabel("", objectName="playbackMessage")
        self.message_label.setWordWrap(True)
        self.message_label.hide()
        row.addWidget(self.play_button)
        row.addWidget(self.time_label)
        row.addSpacing(12)
        row.addWidget(self.info_label, 1)
        return bar

    def _build_plots(self) -> None:
        """Waveform above the spectrogram, a shared time axis, the draggable play cursor."""
        self.plots = pg.GraphicsLayoutWidget()
        self.plots.setBackground(theme.VIEWER_BG)
        self.plots.ci.setSpacing(4)
        self.wave_plot = self.plots.addPlot(row=0, col=0)
        self.spec_plot = self.plots.addPlot(row=1, col=0)
        self.plots.ci.layout.setRowStretchFactor(0, 2)
        self.plots.ci.layout.setRowStretchFactor(1, 3)
        theme.style_plot(self.wave_plot, y_label="Amplitude")
        theme.style_plot(self.spec_plot, x_label="Time (s)", y_label="Frequency (kHz)")
        for p in (self.wave_plot, self.spec_plot):
            p.getAxis("left").setWidth(58)
            p.setMouseEnabled(x=True, y=False)
            p.setMenuEnabled(False)
            p.hideButtons()
            for axis in ("left", "bottom"):
                p.getAxis(axis).enableAutoSIPrefix(False)  # seconds stay seconds
        self.wave_plot.hideAxis("bottom")  # the spectrogram below carries the time axis
        self.spec_plot.showGrid(x=False, y=False)
        self.spec_plot.setXLink(self.wave_plot)
        self.wave_curve = self.wave_plot.plot(pen=pg.mkPen(theme.ACCENT, width=1))
        self.spec_image = pg.ImageItem(axisOrder="row-major")
        self.spec_image.setColorMap(pg.colormap.get("inferno"))
        self.spec_plot.addItem(self.spec_image)
        cursor_pen = pg.mkPen(theme.CURSOR, width=2)
        self.cursor = pg.InfiniteLine(
            0.0, angle=90, movable=True, pen=cursor_pen, hoverPen=pg.mkPen("#ffffff", width=3)
        )
        self.cursor.setZValue(10)
        self.spec_cursor = pg.InfiniteLine(0.0, angle=90, movable=False, pen=cursor_pen)
        self.spec_cursor.setZValue(10)
        # drawn once per sound and range into pixmaps at screen resolution: a page preloaded
        # off screen (MultiView) then paints by blitting them
        for item in (
            self.wave_curve,
            self.spec_image,
            self.wave_plot.getAxis("left"),
            self.spec_plot.getAxis("left"),
            self.spec_plot.getAxis("bottom"),
        ):
            item.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.wave_plot.addItem(self.cursor)
        self.spec_plot.addItem(self.spec_cursor)
        self.cursor.sigPositionChangeFinished.connect(lambda line: self.seek(line.value()))
        self.plots.scene().sigMouseClicked.connect(self._on_click)

    # ------------------------------------------------------------------ public API
    @property
    def output(self):
        if self._output is None:
            self._output = self._output_factory()
        return self._output

    def _warm_output(self) -> None:
        _ = self.output
        # the first sound may already be shown (Play enabled while the output was unknown):
        # now that it is known, disable Play and say why when there is no sound to be had
        self._update_controls()

    def playback_available(self) -> bool:
        return bool(self.output.available)

    def playback_message(self) -> str:
        return self.message_label.text() if self.message_label.isVisibleTo(self) else ""

    def set_audio(
        self, samples: np.ndarray | None, rate: int = 0, display: SoundDisplay | None = None
    ) -> None:
        self.stop()
        if samples is None or rate <= 0 or len(samples) == 0:
            self._samples, self._rate, self._duration = None, 0, 0.0
            self.wave_curve.setData([], [])
            self.spec_image.clear()
            self.info_label.setText("")
            self._set_cursor(0.0)
            self._update_controls()
            return
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        self._samples, self._rate = samples, int(rate)
        self._duration = len(samples) / rate
        shown = display if display is not None else self._display(samples, rate)
        self.wave_curve.setData(shown.t, shown.y)
        peak = shown.peak * 1.05
        self.wave_plot.setYRange(-peak, peak, padding=0)
        top = shown.top
        self.spec_image.setImage(shown.db, autoLevels=False, levels=(top - DB_RANGE, top))
        self.spec_image.setRect(QRectF(0.0, 0.0, self._duration, rate / 2000.0))
        self.spec_plot.setYRange(0, rate / 2000.0, padding=0)
        self.wave_plot.setLimits(xMin=0, xMax=self._duration)
        self.spec_plot.setLimits(xMin=0, xMax=self._duration, yMin=0, yMax=rate / 2000.0)
        self.wave_plot.setXRange(0, self._duration, padding=0)
        self.cursor.setBounds((0, self._duration))
        khz = f"{rate / 1000:g} kHz"
        # the duration is also in the time label: a narrow pane drops it first, then "mono"
        self.info_label.set_texts(
            f"{khz} · mono · {self._duration:.2f} s", f"{khz} · mono", khz, ""
        )
        self._set_cursor(0.0)
        self._update_controls()

    def toggle_play(self) -> None:
        if self.is_playing():
            self.pause()
        else:
            self.play()

    def play(self) -> None:
        if self._samples is None or not self.output.available:
            self._update_controls()  # no output (found only now): say why, disable Play
            return
        try:
            self._claim_output().play()
        except Exception as err:  # device unplugged or busy: say so, keep showing the sound
            self._output = NullAudioOutput(f"Playback failed: {err}".strip())
            self._output.load(self._samples, self._rate)
            self._update_controls()
            return
        self.timer.start()
        self._update_controls()
        self.playbackStateChanged.emit(True)

    def pause(self) -> None:
        was = self.is_playing()
        if self._owns_output():
            self._output.pause()
        self.timer.stop()
        self._update_controls()
        if was:
            self.playbackStateChanged.emit(False)

    def stop(self) -> None:
        was = self.is_playing()
        if self._owns_output():
            self._output.stop()
        self.timer.stop()
        self._set_cursor(0.0)
        self._update_controls()
        if was:
            self.playbackStateChanged.emit(False)

    def seek(self, seconds: float) -> None:
        if self._samples is None:
            return
        seconds = min(max(0.0, float(seconds)), self._duration)
        self._claim_output().seek(seconds)
        self._set_cursor(seconds)
        self.seeked.emit(seconds)

    def position(self) -> float:
        return self._output.position() if self._owns_output() else self._cursor_s

    def is_playing(self) -> bool:
        return self._owns_output() and self._output.is_playing()

    # ------------------------------------------------------------------ internals
    def _owns_output(self) -> bool:
        """The output is shared by the audio viewers of every page, and a hidden page is filled
        ahead with the next item: a viewer loads its sound into the output only when it is
        played or sought, and leaves it alone while another viewer holds it."""
        out = self._output
        return out is not None and self._samples is not None and out.loaded is self._samples

    def _claim_output(self):
        out = self.output
        if out.loaded is not self._samples:
            out.load(self._samples, self._rate)
        return out

    def _display(self, samples: np.ndarray, rate: int) -> SoundDisplay:
        key = id(samples)
        hit = self._spectro_cache.get(key)
        if hit is not None and hit[0] is samples and hit[1] == rate:
            self._spectro_cache.move_to_end(key)
            return hit[2]
        shown = sound_display(samples, rate)
        self._spectro_cache[key] = (samples, rate, shown)  # holds samples: ids stay unique
        while len(self._spectro_cache) > SPECTRO_CACHE:
            self._spectro_cache.popitem(last=False)
        return shown

    def _tick(self) -> None:
        self._set_cursor(self.position())
        if not self.is_playing():
            self.timer.stop()
            self._update_controls()
            self.playbackStateChanged.emit(False)

    def _set_cursor(self, seconds: float) -> None:
        self._cursor_s = seconds
        self.cursor.blockSignals(True)
        self.cursor.setValue(seconds)
        self.cursor.blockSignals(False)
        self.spec_cursor.setValue(seconds)
        self.time_label.setText(f"{_clock(seconds)} / {_clock(self._duration)}")

    def _on_click(self, ev) -> None:
        if self._samples is None or ev.button() != Qt.LeftButton:
            return
        for plot in (self.wave_plot, self.spec_plot):
            if plot.vb.sceneBoundingRect().contains(ev.scenePos()):
                self.seek(plot.vb.mapSceneToView(ev.scenePos()).x())
                ev.accept()
                return

    def _update_controls(self) -> None:
        has_sound = self._samples is not None
        out = self._output
        available = out is None or out.available  # unknown until a sound needs it
        self.play_button.setEnabled(has_sound and available)
        self.play_button.setText("❚❚  Pause" if self.is_playing() else "▶  Play")
        if has_sound and not available:
            self.message_label.setText(out.reason)
            self.message_label.setToolTip(out.reason)
            self.message_label.show()
        else:
            self.message_label.hide()

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key_P and not event.modifiers():
            self.toggle_play()
        else:
            super().keyPressEvent(event)

    def hideEvent(self, event) -> None:  # noqa: N802
        self.pause()  # no sound from a viewer nobody can see
        super().hideEvent(event)
