"""The window's side of a crash: ``mmrl_desktop.logs`` writes the traceback (PySide reports an
exception raised in a slot through ``sys.excepthook``); the user is told in one sentence where
the details are, and the app goes on. At most one notice is open at a time."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from mmrl_desktop import logs

SENTENCE = (
    "Something went wrong inside mmrl-desktop; the details are in the log "
    "(Help ▸ Open log folder), which you can send to the developers."
)

log = logging.getLogger(__name__)


class CrashNotice(QObject):
    """A crash listener for ``logs.on_crash``: safe to call from any thread (the notice is shown
    by the GUI thread through a queued signal)."""

    crashed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.box: QMessageBox | None = None
        self.crashed.connect(self._show)

    def __call__(self, exc: BaseException) -> None:
        self.crashed.emit(type(exc).__name__)

    @Slot(str)
    def _show(self, kind: str) -> None:
        log.info("crash notice shown (%s)", kind)
        if self.box is not None and self.box.isVisible():
            return
        self.box = QMessageBox(
            QMessageBox.Warning,
            "mmrl-desktop",
            SENTENCE,
            QMessageBox.Ok,
            QApplication.activeWindow(),
        )
        self.box.setObjectName("crashNotice")
        self.box.setModal(False)  # never blocks the window, nor a test
        self.box.show()


_notice: CrashNotice | None = None


def install(app: QApplication) -> CrashNotice:
    """Tell the user of crashes in this process (once per app; later calls return the same)."""
    global _notice
    if _notice is None or _notice.parent() is not app:
        if _notice is not None:
            logs.remove_crash_listener(_notice)
        _notice = CrashNotice(app)
        logs.on_crash(_notice)
    return _notice


def uninstall() -> None:
    global _notice
    if _notice is not None:
        logs.remove_crash_listener(_notice)
        _notice.deleteLater()
        _notice = None
