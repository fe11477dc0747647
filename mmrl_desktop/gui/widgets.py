"""Small widget helpers shared by the panels."""

from __future__ import annotations

from PySide6.QtWidgets import QProgressBar


def set_bar_value(bar: QProgressBar, value: int, maximum: int | None = None) -> None:
    """Set a progress bar without its synchronous repaint.

    ``QProgressBar.setValue`` calls ``repaint()`` when the shown value changes, and inside a click
    handler that paints every dirty region of the window at once — the viewers included — before
    the click has finished updating them (the whole window painted twice per click, ~4 ms each).
    With updates off it only records the value; turning them back on schedules one ordinary
    update, painted with everything else."""
    bar.setUpdatesEnabled(False)
    if maximum is not None and bar.maximum() != maximum:
        bar.setRange(0, maximum)
    bar.setValue(value)
    bar.setUpdatesEnabled(True)
