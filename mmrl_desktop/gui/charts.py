"""Live charts: prequential accuracy, held-out accuracy, thumbs-up rate, loss, KL, speed.

Public API
----------
``ChartsPanel(parent=None, capacity=10_000)`` — a ``QWidget``.

- ``add_point(key: str, step: float, value: float)``: append one point of a metric. Cheap (two
  numpy stores); the curves are redrawn at most ``REDRAW_HZ`` times a second by a single-shot
  ``QTimer`` that only runs when something changed. Non-finite values are dropped.
- ``load_series(key, x, y)``: many points at once, put before the ones already there (the
  history restored at open, ``gui/chart_history.py``); ``pop_point(key)`` drops the newest (undo).
- ``set_note(plot_id, text | None)``: one sentence inside a plot that has no figure, saying why
  (e.g. the held-out plot of a project that keeps no items aside).
- ``clear()``: forget every point (e.g. a new training run).
- ``flush()``: redraw now (tests, snapshots).
- ``series(key) -> RingBuffer | None``; ``keys() -> list[str]``.

The first plot is the prequential accuracy (``core/evaluation/prequential.py``): ``preq/accuracy`` with its
Wilson 95 % band between ``preq/low`` and ``preq/high`` (one filled path through at most
``BAND_POINTS`` of their points: pyqtgraph's ``FillBetweenItem`` over every point cost ~35 ms per
redraw and ~30 ms per paint at 5000 answers, against ~1 ms and ~7 ms without the band) — the measure
every project has from its first answer, held-out items or not.

Keys (namespaced like the trainer's metrics): ``reward/thumbs_up_ma``, ``reward/thumbs_up_cum``,
``loss/total``, ``kl/ref``, ``eval/accuracy``, ``perf/updates_per_s`` have fixed places and colours.
Other keys under ``reward/``, ``loss/``, ``kl/`` and ``eval/`` get a new curve in that plot (up to
``MAX_SERIES`` per plot); anything else (e.g. other ``perf/`` numbers on a different scale) is ignored.

Each series is one ``PlotDataItem`` fed from a preallocated ``RingBuffer`` (``gui/ring_buffer.py``);
plots clip to the view and downsample (peak mode), as in pyqtgraph's ``examples/scrollingPlots.py``.
The plot titles are short (they fit at 1280 px) and show the latest value; a plot's tooltip
names it in full with the value of every curve (``gui/chart_text.py``). Plots sit in one row when
the panel is wide (a bottom dock) and in two rows when it is taller.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtGui import QColor, QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsTextItem, QVBoxLayout, QWidget

from mmrl_desktop.gui import theme
from mmrl_desktop.gui.chart_text import about_of, fit_note, title_of, x_label_of
from mmrl_desktop.gui.ring_buffer import RingBuffer

REDRAW_HZ = 20
TITLE_HZ = 2
MIN_WIDTH = 120  # of a plot; the prequential's column: twice that when the plots are in one row
TITLE_ENTRIES = 1  # values named in a plot title; more run into the next plot at 1280 px
MAX_SERIES = 5

# plot id → (title, x label, y range or None for auto): short titles, so that a title and its
# values fit their plot at 1280 px; the full name and every curve's value are in its tooltip
PLOTS: dict[str, tuple[str, str, tuple[float, float] | None]] = {
    "preq": ("Prequential", "answers", (0.0, 1.0)),
    "eval": ("Held-out", "training step", (0.0, 1.0)),
    "reward": ("Thumbs-up", "answers", (0.0, 1.0)),
    "loss": ("Loss", "training step", None),
    "kl": ("KL to start", "training step", None),
    "perf": ("Updates/s", "training step", None),
}
BAND_KEYS = ("preq/low", "preq/high")  # the Wilson band of preq/accuracy: a fill, no line
BAND_POINTS = 240  # the band is drawn through at most this many of its points
NO_ANSWERS_NOTE = (
    "No answers yet: each answer will score the label shown before the model learned from it."
)
# known key → (plot id, legend name, colour)
SERIES: dict[str, tuple[str, str, str]] = {
    "preq/accuracy": ("preq", "", theme.SERIES[2]),
    "preq/low": ("preq", "", theme.SERIES[2]),
    "preq/high": ("preq", "", theme.SERIES[2]),
    "reward/thumbs_up_ma": ("reward", "recent", theme.SERIES[0]),
    "reward/thumbs_up_cum": ("reward", "all", theme.SERIES[1]),
    "loss/total": ("loss", "", theme.SERIES[2]),
    "kl/ref": ("kl", "", theme.SERIES[4]),
    "eval/accuracy": ("eval", "accuracy", theme.SERIES[0]),
    "eval/macro_f1": ("eval", "macro-F1", theme.SERIES[1]),
    "perf/updates_per_s": ("perf", "", theme.SERIES[3]),
}
OPEN_PREFIXES = {"reward/": "reward", "loss/": "loss", "kl/": "kl", "eval/": "eval"}
# open keys with a name of their own: the network without the pool's vote (ADR 0030)
OPEN_NAMES = {"eval/network_accuracy": "network alone"}


class ChartsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None, capacity: int = 10_000):
        super().__init__(parent)
        self.setObjectName("chartsPanel")
        self.capacity = capacity
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(theme.PANEL_BG)
        self.graphics.ci.setSpacing(6)
        self.graphics.ci.setContentsMargins(4, 4, 4, 4)
        self.setMinimumHeight(150)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.plots: dict[str, pg.PlotItem] = {}
        for pid, (_title, x_label, y_range) in PLOTS.items():
            plot = pg.PlotItem()
            theme.style_plot(plot, x_label=x_label)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.getAxis("left").setWidth(44)
            plot.getAxis("bottom").enableAutoSIPrefix(False)
            plot.getAxis("left").enableAutoSIPrefix(False)
            if y_range is not None:
                plot.setYRange(*y_range, padding=0.04)
                plot.setMouseEnabled(x=True, y=False)
            plot.setMinimumWidth(MIN_WIDTH)
            plot.setPreferredWidth(260)  # equal preferred widths → equal columns
            if y_range is None:
                plot.enableAutoRange(axis="y", enable=False)  # flush() keeps 0 in view
            self.plots[pid] = plot
        self._buffers: dict[str, RingBuffer] = {}
        self._curves: dict[str, pg.PlotDataItem] = {}
        self._members: dict[str, list[str]] = {pid: [] for pid in PLOTS}
        self._names: dict[str, tuple[str, str]] = {}  # key → (legend name, colour)
        self._dirty: set[str] = set()
        self._columns = 0
        for key in SERIES:
            self._series_for(key)
        self._band = QGraphicsPathItem()  # the Wilson band: see _draw_band
        self._band.setBrush(_band_brush())
        self._band.setPen(pg.mkPen(None))
        self.plots["preq"].addItem(self._band, ignoreBounds=True)
        self._notes: dict[str, tuple[QGraphicsTextItem, bool]] = {}
        self._order = "shuffle"  # the next-item order the answers come in (set_order)
        self.set_note("preq", NO_ANSWERS_NOTE, until_data=True)
        self._arrange(len(PLOTS))
        self._update_titles(PLOTS)

        self._hold_until = 0.0
        self._title_plots: set[str] = set()
        self._titles_at = 0.0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(int(1000 / REDRAW_HZ))
        self.timer.timeout.connect(self.flush)

    # ------------------------------------------------------------------ public API
    def add_point(self, key: str, step: float, value: float) -> None:
        try:
            step, value = float(step), float(value)
        except (TypeError, ValueError):
            return
        if not (math.isfinite(step) and math.isfinite(value)):
            return
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._series_for(key)
        if buf is None:
            return
        buf.append(step, value)
        self._dirty.add(key)
        if not self.timer.isActive():
            self.timer.start()

    def add_metrics(self, step: float, metrics: dict[str, float]) -> None:
        """Add a trainer event's metrics: the trainer sends the charts' keys already
        (``core/learning/trainer_messages.chart_keys``)."""
        for key, value in metrics.items():
            self.add_point(key, step, value)

    def add_trainer_metrics(self, event) -> None:
        """A ``Metrics`` event of the trainer (``TrainerController.metricsArrived``)."""
        self.add_metrics(event.step, event.metrics)

    def load_series(self, key: str, x, y) -> None:
        """Put many points (oldest first) before the ones already there: the history restored
        when a project opens, while live points may have come first."""
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._series_for(key)
        if buf is None or not len(x):
            return
        old_x, old_y = (a.copy() for a in buf.data())
        buf.clear()
        buf.extend(x, y)
        buf.extend(old_x, old_y)
        self._dirty.add(key)
        if not self.timer.isActive():
            self.timer.start()

    def pop_point(self, key: str) -> None:
        """Drop the newest point of ``key`` (the answer it stood for was undone)."""
        buf = self._buffers.get(key)
        if buf is not None and len(buf):
            buf.pop()
            self._dirty.add(key)
            if not self.timer.isActive():
                self.timer.start()

    def set_note(self, pid: str, text: str | None, until_data: bool = False) -> None:
        """Show one sentence inside plot ``pid`` saying why it has no figure (None: remove it).
        ``until_data``: the sentence goes away once the plot has points; otherwise the plot's
        title shows no value either."""
        plot = self.plots[pid]
        vb = plot.getViewBox()
        old = self._notes.pop(pid, None)
        if old is not None:
            vb.geometryChanged.disconnect(old[2])
            old[0].setParentItem(None)
            if old[0].scene() is not None:
                old[0].scene().removeItem(old[0])
        if text:
            item = QGraphicsTextItem()
            item.setDefaultTextColor(QColor(theme.TEXT_DIM))
            item.setParentItem(plot)  # above the plot's grid lines, in pixels
            item.setZValue(1000)

            def place() -> None:
                box = vb.geometry()
                item.setPos(box.left() + 2, box.top() + 2)
                item.setTextWidth(max(60.0, box.width() - 4))
                fit_note(item, text, box.height() - 4)

            place()
            vb.geometryChanged.connect(place)
            self._notes[pid] = (item, until_data, place, text)
        self._update_titles([pid])

    def set_order(self, order: str) -> None:
        """The next-item order (ADR 0013): under an active one the prequential and thumbs-up
        plots say their answers are on items the model chose, the held-out plot that it stays a
        random sample (titles, x labels and tooltips)."""
        if order == self._order:
            return
        self._order = order
        for pid in ("preq", "reward", "eval"):
            label = x_label_of(pid, PLOTS[pid][1], order)
            self.plots[pid].setLabel("bottom", label, color=theme.TEXT_DIM, **{"font-size": "9pt"})
        self._update_titles(PLOTS)

    def note(self, pid: str) -> str | None:
        """The sentence shown in plot ``pid``, if any."""
        note = self._notes.get(pid)
        return note[3] if note is not None and note[0].isVisible() else None

    def hold(self, seconds: float) -> None:
        """Postpone redraws by ``seconds``: the expert just clicked and the next item must paint
        within one frame; the curves catch up a moment later."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    def clear(self) -> None:
        for key, buf in self._buffers.items():
            buf.clear()
            self._curves[key].setData([], [])
        self._band.setPath(QPainterPath())
        self._dirty.clear()
        self.timer.stop()
        for item, until_data, *_ in self._notes.values():
            if until_data:
                item.setVisible(True)
        self._update_titles(PLOTS)

    def flush(self) -> None:
        """Redraw the curves that changed since the last redraw (not while held)."""
        wait = self._hold_until - time.monotonic()
        if wait > 0:
            self.timer.start(int(wait * 1000) + 1)
            return
        self.timer.setInterval(int(1000 / REDRAW_HZ))
        if not self._dirty:
            if self._title_plots:
                self._update_titles(self._title_plots)
                self._title_plots = set()
                self._titles_at = time.monotonic()
            return
        plots = set()
        if self._dirty & set(BAND_KEYS):
            self._draw_band()
        for key in self._dirty:
            if key not in BAND_KEYS:
                x, y = self._buffers[key].data()
                self._curves[key].setData(x.copy(), y.copy())
            plots.add(SERIES[key][0] if key in SERIES else self._plot_of(key))
        self._dirty.clear()
        for pid in plots:
            if PLOTS[pid][2] is None:
                self._fit_y_from_zero(pid)
            if pid == "eval":
                self._fit_x_from_zero(pid)
            note = self._notes.get(pid)
            if note is not None and note[1]:  # a "no data yet" sentence: data came
                note[0].setVisible(not any(len(self._buffers[k]) for k in self._members[pid]))
        # a title change re-lays out the plot: at most TITLE_HZ, never on every redraw
        self._title_plots |= plots
        now = time.monotonic()
        if now - self._titles_at >= 1.0 / TITLE_HZ:
            self._update_titles(self._title_plots)
            self._title_plots = set()
            self._titles_at = now
        elif not self.timer.isActive():
            self.timer.start()

    def series(self, key: str) -> RingBuffer | None:
        return self._buffers.get(key)

    def keys(self) -> list[str]:
        return list(self._buffers)

    # ------------------------------------------------------------------ internals
    def _plot_of(self, key: str) -> str | None:
        if key in SERIES:
            return SERIES[key][0]
        for prefix, pid in OPEN_PREFIXES.items():
            if key.startswith(prefix):
                return pid
        return None

    def _series_for(self, key: str) -> RingBuffer | None:
        pid = self._plot_of(key)
        if pid is None or len(self._members[pid]) >= MAX_SERIES:
            return None
        if key in SERIES:
            _, name, colour = SERIES[key]
        else:
            name = OPEN_NAMES.get(key) or key.split("/", 1)[1].replace("_", " ")
            used = {self._names[k][1] for k in self._members[pid]}
            colour = next((c for c in theme.SERIES if c not in used), theme.SERIES[-1])
            if len(self._members[pid]) == 1 and not self._names[self._members[pid][0]][0]:
                first = self._members[pid][0]  # a second curve: the first needs a name too
                self._names[first] = (
                    first.split("/", 1)[1].replace("_", " "),
                    self._names[first][1],
                )
        dots = {"symbol": "o", "symbolSize": 7, "symbolBrush": colour, "symbolPen": None}
        curve = self.plots[pid].plot(  # evaluations are sparse: a dot each (one can be alone)
            pen=pg.mkPen(colour, width=2), **(dots if pid == "eval" else {})
        )
        curve.setVisible(key not in BAND_KEYS)  # the band: see _band
        curve.setClipToView(True)
        self._buffers[key] = RingBuffer(self.capacity)
        self._curves[key] = curve
        self._names[key] = (name, colour)
        self._members[pid].append(key)
        return self._buffers[key]

    def _fit_y_from_zero(self, pid: str) -> None:
        """Loss, KL and speed read best against zero: y from min(0, low) to the highest value."""
        lo, hi = 0.0, 0.0
        for key in self._members[pid]:
            _, y = self._buffers[key].data()
            if len(y):
                lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
        if hi > lo:
            self.plots[pid].setYRange(lo, hi, padding=0.08)

    def _fit_x_from_zero(self, pid: str) -> None:
        """Held-out evaluations come every so many steps: x from step 0 to the latest one, so
        that one evaluation is a dot at its step rather than a lone point in a range of ±0.5."""
        lasts = [self._buffers[k].last() for k in self._members[pid]]
        hi = max((last[0] for last in lasts if last is not None), default=0.0)
        if hi > 0:
            self.plots[pid].setXRange(-0.03 * hi, 1.06 * hi, padding=0.0)

    def _update_titles(self, plots) -> None:
        for pid in plots:
            title = title_of(pid, PLOTS[pid][0], self._order)
            note = self._notes.get(pid)
            members = [] if note is not None and not note[1] else self._members[pid]
            keys = [key for key in members if key not in BAND_KEYS]
            labels = [self._label(key) for key in keys]
            parts = [  # the rest: colours on the plot, names and values in the tooltip
                f"<span style='color:{self._names[key][1]}'>{label}</span>"
                for key, label in zip(keys[:TITLE_ENTRIES], labels, strict=False)
            ]
            text = f"<span style='color:{theme.TEXT}'>{title}</span>&nbsp;&nbsp;" + " · ".join(
                parts
            )
            self.plots[pid].setTitle(text, size="9.5pt")
            name, about = about_of(pid, self._order)
            self.plots[pid].setToolTip(f"{name}: {', '.join(labels) or '–'}\n{about}")

    def _label(self, key: str) -> str:
        """A curve's name and latest value (the prequential accuracy with its interval)."""
        name = self._names[key][0]
        last = self._buffers[key].last()
        value = "–" if last is None else _fmt(last[1])
        label = f"{name} {value}" if name else value
        if key == "preq/accuracy" and last is not None:
            label += self._band_text()
        return label

    def _draw_band(self) -> None:
        """One closed path: along the upper bound, back along the lower one."""
        (x, lo), (x2, hi) = (self._buffers[k].data() for k in BAND_KEYS)
        n = min(len(x), len(x2))
        keep = _decimate(n, BAND_POINTS)
        x, lo, hi = x[:n][keep], lo[:n][keep], hi[:n][keep]
        path = QPainterPath()
        if n:
            path = pg.arrayToQPath(np.r_[x, x[::-1]], np.r_[hi, lo[::-1]])
            path.closeSubpath()
        self._band.setPath(path)

    def _band_text(self) -> str:
        lo, hi = (self._buffers[k].last() for k in BAND_KEYS)
        if lo is None or hi is None:
            return ""
        # an interval of a proportion: two decimals, never 2.78e-17 for a bound at 0
        return f" ({min(max(lo[1], 0.0), 1.0):.2f}–{min(max(hi[1], 0.0), 1.0):.2f})"

    def _arrange(self, columns: int) -> None:
        if columns == self._columns:
            return
        ci = self.graphics.ci
        for plot in self.plots.values():
            if plot.scene() is not None:
                ci.removeItem(plot)
        for i, plot in enumerate(self.plots.values()):
            ci.addItem(plot, row=i // columns, col=i % columns)
        for c in range(len(PLOTS)):
            main = 2 if c == 0 and columns == len(PLOTS) else 1  # the prequential: widest
            ci.layout.setColumnStretchFactor(c, main if c < columns else 0)
            ci.layout.setColumnPreferredWidth(c, 260 * main if c < columns else 0)
            # a layout narrower than the preferred widths shrinks each column by its share of
            # (preferred - minimum): minimums in the same ratio keep the prequential twice as wide
            ci.layout.setColumnMinimumWidth(c, MIN_WIDTH * main if c < columns else 0)
        self._columns = columns

    def resizeEvent(self, event) -> None:  # noqa: N802
        super().resizeEvent(event)
        w, h = event.size().width(), event.size().height()
        self._arrange(len(PLOTS) if w >= 2.6 * h or h < 330 else 3)


def _decimate(n: int, at_most: int) -> np.ndarray:
    """At most ``at_most`` evenly spread indices of ``range(n)``, the first and last included."""
    if n <= at_most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, at_most).round().astype(np.int64))


def _band_brush():
    colour = QColor(theme.SERIES[2])
    colour.setAlpha(60)
    return pg.mkBrush(colour)


def _fmt(v: float) -> str:
    a = abs(v)
    if a == 0 or 0.01 <= a < 1000:
        return f"{v:.2f}" if a < 10 else f"{v:.4g}"
    return f"{v:.2e}"
