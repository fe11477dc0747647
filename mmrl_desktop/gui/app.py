"""The application: QApplication set-up (name, icon, style sheet) and the app object,
``DesktopApp``, which owns the main windows and puts a window on another project in one's place.

Heavy imports (pyqtgraph, torch) come after the first paint — see
``main_window.MainWindow.finish_startup``. This module imports no other GUI module: the main
window holds its ``DesktopApp`` and asks it to open a project; the app makes the new window with
the class of the one it replaces (ADR 0012's GUI layers).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from mmrl_desktop import __version__
from mmrl_desktop.core.data.demo import open_project
from mmrl_desktop.core.data.project import PROJECT_FILE, Project
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.gui import crash_notice
from mmrl_desktop.gui.sentence import sentence
from mmrl_desktop.paths import resources_dir

STYLE_SHEET = """
#feedbackPanel { background: #1f2430; }
#feedbackPanel QLabel { color: #e2e8f0; }
#itemTitle { font-size: 12pt; font-weight: 600; color: #f7fafc; }
#taskRow { background: #2a3040; border-radius: 8px; }
#taskTitle { color: #a0aec0; font-size: 9pt; letter-spacing: 1px; }
#shownLabel { color: #ffffff; font-size: 28pt; font-weight: 700; }
#exploreNote { color: #90cdf4; font-size: 9.5pt; }
QPushButton#thumbUp, QPushButton#thumbDown { font-size: 15pt; font-weight: 700; }
#top3 { color: #cbd5e0; font-size: 11pt; }
#predSource, #keyHint { color: #a0aec0; font-size: 9.5pt; }
#feedbackMessage { color: #fbd38d; }
QPushButton#thumbUp { background: #2f855a; color: white; border-radius: 8px; }
QPushButton#thumbUp:hover { background: #38a169; }
QPushButton#thumbDown { background: #c53030; color: white; border-radius: 8px; }
QPushButton#thumbDown:hover { background: #e53e3e; }
QPushButton#thumbUp:disabled, QPushButton#thumbDown:disabled { background: #4a5568; color: #a0aec0; }
#taskRows QScrollBar:vertical { background: #1f2430; width: 10px; margin: 0; }
#taskRows QScrollBar::handle:vertical { background: #4a5568; border-radius: 4px; min-height: 24px; }
#taskRows QScrollBar::add-line:vertical, #taskRows QScrollBar::sub-line:vertical { height: 0; }
QProgressBar { border: 1px solid #4a5568; border-radius: 4px; text-align: center; min-height: 18px; }
QProgressBar::chunk { background: #3182ce; border-radius: 3px; }
"""


def has_display() -> bool:
    """False on a Linux machine with no X11/Wayland display and no Qt platform chosen."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


# library → Debian/Ubuntu package
XCB_LIBRARIES = {
    "xcb-cursor": "libxcb-cursor0",
    "xcb-icccm": "libxcb-icccm4",
    "xcb-keysyms": "libxcb-keysyms1",
    "xkbcommon-x11": "libxkbcommon-x11-0",
}


def _check_xcb_libraries() -> None:
    """Qt's X11 plugin aborts the process when a system library is missing; say which instead."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return
    if os.environ.get("WAYLAND_DISPLAY") or not os.environ.get("DISPLAY"):
        return
    import ctypes.util

    missing = [lib for lib in XCB_LIBRARIES if ctypes.util.find_library(lib) is None]
    if missing:
        names = " ".join(XCB_LIBRARIES[m] for m in missing)
        raise UserError(
            f"Qt's X11 support needs system libraries that are missing ({', '.join(missing)}); "
            f"install them, e.g. `sudo apt install {names}`, and start again."
        )


def make_app(argv: list[str] | None = None, *, offscreen: bool = False) -> QApplication:
    """The process's QApplication (created once; tests reuse pytest-qt's).

    ``offscreen``: render without a screen (snapshot, bench-gui). Otherwise a Linux machine with
    no display raises UserError with a sentence instead of Qt's abort."""
    app = QApplication.instance()
    if app is None:
        if offscreen:
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        elif not has_display():
            raise UserError(
                "no display was found (DISPLAY is not set). Run it on a desktop, under Xvfb "
                "(xvfb-run mmrl-desktop), or set QT_QPA_PLATFORM=offscreen for a headless check."
            )
        else:
            _check_xcb_libraries()
        QCoreApplication.setAttribute(Qt.AA_ShareOpenGLContexts, True)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        if not offscreen:  # the window a user runs: a crash is one notice (tests, snapshot: none)
            crash_notice.install(app)
    app.setApplicationName("mmrl-desktop")
    app.setApplicationDisplayName("mmrl-desktop")
    app.setOrganizationName("mmrl-desktop")
    app.setApplicationVersion(__version__)
    app.setWindowIcon(QIcon(str(resources_dir() / "icons" / "mmrl-desktop.svg")))
    font = app.font()
    font.setPointSizeF(10.5)
    app.setFont(font)
    app.setStyleSheet(STYLE_SHEET)
    # The trainer thread runs Python between torch calls; a shorter GIL switch interval (default
    # 5 ms) bounds how long the GUI thread can wait for the lock while painting (ADR 0004).
    sys.setswitchinterval(0.001)
    _cap_malloc_arenas()
    return app


def _cap_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives every thread that allocates its own malloc arena; with the GUI, trainer and
    prefetch threads that costs ~40-50 MB of peak RSS for nothing (ADR 0004). No-op elsewhere."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def release_window(window) -> None:
    """Close ``window`` and delete its widgets now, while Python is fully alive.

    Left to interpreter exit, PySide deletes still-alive widgets after parts of Python are gone;
    pyqtgraph items run Python event handlers from their destructors and the process crashed
    there (a segfault in ``PySide::destroyQCoreApplication``, 2 of ~10 ``bench-gui --clicks 1000``
    runs)."""
    import gc

    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    QCoreApplication.processEvents()
    gc.collect()


# ---------------------------------------------------------------------- the app object
@dataclass(frozen=True)
class WindowOptions:
    """How this process makes its main windows; a window put in another's place gets the same
    (its annotator re-read from the user's settings, which the Settings dialog may change)."""

    annotator: str | None = None
    device: str = "auto"
    start_trainer: bool = True
    # tests: a trainer built in the worker thread; kept only when the same project is reopened
    trainer_factory: Callable[[], Any] | None = None


class DesktopApp:
    """The main windows of this process, and opening a project in one's place.

    A main window is an assembler of one project, so opening another project (File → Open, the
    recent list, a new project) or reopening this one (after an import) shuts the window's
    trainer and session down and shows a new window, of the same class and with the same
    ``options``, where it was. The windows it opened stay referenced here while they are open.
    """

    def __init__(self, options: WindowOptions | None = None):
        self.options = options or WindowOptions()
        self.windows: list = []

    def reopen(self, window, path: str | Path):
        """Replace ``window`` by a window on the project at ``path``. Returns the new window, or
        None (with a message box) when the folder is not a readable project."""
        try:
            project = load_project(path)
        except UserError as err:
            QMessageBox.warning(window, "Open project", sentence(str(err)))
            return None
        remember(project)
        same = Path(project.root).resolve() == Path(window.project.root).resolve()
        window.shutdown()
        options = self.options
        new = type(window)(
            project,
            annotator=UserSettings.load().annotator or options.annotator,
            device=options.device,
            start_trainer=options.start_trainer,
            trainer_factory=options.trainer_factory if same else None,
            app=self,
        )
        new.setGeometry(window.geometry())
        self.windows.append(new)
        new.destroyed.connect(lambda *_: self._forget(new))
        new.show()
        window.close()
        self._forget(window)
        return new

    def _forget(self, window) -> None:
        if window in self.windows:
            self.windows.remove(window)


def load_project(path: str | Path) -> Project:
    """``demo.open_project`` (the demo repaired if its files have gone) with a sentence for a
    folder that is not a project."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise UserError(f"there is no folder at {path}.")
    if not (path / PROJECT_FILE).is_file():
        raise UserError(
            f"{path} is not an mmrl-desktop project: it has no {PROJECT_FILE}. "
            "Use File → New project… to make one from a folder of cases."
        )
    return open_project(path)


def remember(project: Project) -> None:
    """The project goes first in the recent list and is the one the next start opens."""
    settings = UserSettings.load()
    settings.remember_project(project.root)
    try:
        settings.save()
    except OSError:
        pass  # a read-only config folder must not stop the app
