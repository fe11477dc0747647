"""Colours, fonts and small styling helpers shared by the viewers and the charts.

Public API
----------
- Colour constants: ``VIEWER_BG`` (near-black, like a radiology reading station), ``PANEL_BG``,
  ``TEXT``, ``TEXT_DIM``, ``ACCENT``, ``CURSOR``, ``SERIES`` (a colour-blind-safe cycle).
- ``VIEWER_STYLE``: a style sheet for the viewer widgets (object-name selectors only). Font sizes
  live here, not in ``setFont``: an application sheet's ``QWidget { font-size }`` would override
  ``setFont``, while a widget's own sheet wins over the application's.
- ``style_plot(plot_item, title=None, x_label=None, y_label=None)``: dark background friendly
  axes, readable tick fonts and labels for a pyqtgraph ``PlotItem``.
- ``mono_font(point_size)``: a fixed-pitch font for numeric readouts.

No global pyqtgraph configuration is changed here (``pg.setConfigOptions`` is process-wide and
would surprise other widgets); every widget sets its own background and pens.
"""

from __future__ import annotations

from PySide6.QtGui import QFont, QFontDatabase

VIEWER_BG = "#0d1014"
PANEL_BG = "#161a21"
PLOT_BG = "#12161c"
TEXT = "#e2e8f0"
TEXT_DIM = "#a0aec0"
GRID = "#2d3748"
GRID_LINE = "#1a2029"  # GRID at ~35 % over VIEWER_BG, opaque
ACCENT = "#63b3ed"
CURSOR = "#f6ad55"
WARNING = "#fbd38d"

# Okabe–Ito palette (colour-blind safe), ordered for contrast on a dark background.
SERIES = ("#56b4e9", "#e69f00", "#009e73", "#f0e442", "#cc79a7", "#d55e00", "#0072b2")

VIEWER_STYLE = f"""
#viewerToolbar {{ background: {PANEL_BG}; }}
#viewerToolbar QLabel {{ color: {TEXT_DIM}; }}
#viewerToolbar QPushButton, #viewerToolbar QToolButton {{
    color: {TEXT}; background: #2a3040; border: 1px solid #3a4256; border-radius: 4px;
    padding: 3px 10px; }}
#viewerToolbar QPushButton:hover, #viewerToolbar QToolButton:hover {{ background: #35405a; }}
#viewerToolbar QPushButton:checked {{ background: #2b6cb0; }}
#viewerToolbar QPushButton:disabled {{ color: #5a6478; background: #222734; }}
#viewerToolbar QComboBox {{ color: {TEXT}; background: #2a3040; border: 1px solid #3a4256;
    border-radius: 4px; padding: 2px 8px; min-width: 110px; }}
#viewerToolbar QComboBox QAbstractItemView {{ color: {TEXT}; background: #2a3040;
    selection-background-color: #2b6cb0; }}
#overlayTags, #overlayReadout {{ color: {TEXT}; background: rgba(0, 0, 0, 150);
    border-radius: 4px; padding: 4px 7px; }}
#overlayTags {{ font-size: 9pt; }}
#overlayReadout {{ font-size: 9.5pt; }}
#timeLabel {{ font-size: 10pt; }}
#playbackMessage {{ color: {WARNING}; background: {PANEL_BG}; padding: 0px 10px 5px 10px; }}
#viewerPlaceholder {{ color: {TEXT_DIM}; background: {VIEWER_BG}; font-size: 12pt; }}
#textView {{ background: #fbfaf7; color: #1a202c; border: none;
    selection-background-color: #90cdf4; selection-color: #1a202c; }}
"""


def mono_font(point_size: float = 9.5) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.FixedFont)
    font.setPointSizeF(point_size)
    return font


def style_plot(
    plot_item, title: str | None = None, x_label: str | None = None, y_label: str | None = None
) -> None:
    """Readable axes and labels for a pyqtgraph ``PlotItem`` on a dark background."""
    tick_font = QFont()
    tick_font.setPointSizeF(8.5)
    for name in ("left", "bottom"):
        axis = plot_item.getAxis(name)
        axis.setPen(GRID)
        # opaque ticks and grid lines in a pre-blended colour: pyqtgraph's default translucent
        # grid costs ~10 ms per repaint of an audio item's plots (alpha-blended raster lines)
        axis.setTickPen(GRID_LINE)
        # two tick levels, not three: a third of the ticks and labels to lay out per repaint
        axis.setStyle(tickAlpha=255, maxTickLevel=1, autoExpandTextSpace=False)
        axis.setTextPen(TEXT_DIM)
        axis.setTickFont(tick_font)
    label_style = {"color": TEXT_DIM, "font-size": "9pt"}
    if x_label:
        plot_item.setLabel("bottom", x_label, **label_style)
    if y_label:
        plot_item.setLabel("left", y_label, **label_style)
    if title:
        plot_item.setTitle(title, color=TEXT, size="10pt")
    plot_item.showGrid(x=True, y=True, alpha=0.15)
