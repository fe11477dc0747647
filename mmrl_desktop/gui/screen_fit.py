"""The window on a short screen (a 1366×768 laptop, a 1280×720 one): the Prediction panel and the
Training charts stacked need about 790 px of window height, more than such a screen has under a
task bar and a title bar, and a window taller than its screen hides its status bar and the foot
of the panel (the hint of the keys, the messages). There the charts' dock starts hidden — View ▸
Training shows it again — and the status bar says so, once."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication

FRAME = 40  # a window manager's title bar and border, about
NOTE = "The screen is short for the training charts: they are hidden (View ▸ Training shows them)."


def fit_to_screen(window, charts_dock, available: int | None = None) -> bool:
    """Hide ``charts_dock`` when ``window``'s minimum height (and a frame) is taller than the
    screen's ``available`` height (None: the window's screen's; nothing on the headless
    platforms, whose screen is not a real one). True when it hid it."""
    if available is None:
        screen = window.screen()
        if screen is None or QGuiApplication.platformName() in ("offscreen", "minimal"):
            return False
        available = screen.availableGeometry().height()
    if window.minimumSizeHint().height() + FRAME <= available:
        return False
    charts_dock.hide()
    window.layout().activate()  # the minimum without the charts, now
    window.resize(window.width(), max(window.minimumSizeHint().height(), available - FRAME))
    window.statusBar().showMessage(NOTE, 30_000)
    return True
