"""``mmrl-desktop [--project DIR] [--quit-after-paint]``: the desktop app."""

from __future__ import annotations

import sys
import time

EXEC_SLACK_S = 5.0  # from the interpreter's start to the first import of cli: well under this


def _seconds_since_process_start() -> float:
    """Seconds since this process started, the interpreter's own start included (psutil). A
    process a shell exec'd — the last command of ``bash -c "pip install … && mmrl-desktop …"`` —
    keeps the shell's start time; when that lies more than ``EXEC_SLACK_S`` before cli's first
    import, the time since that import is the truer figure."""
    from mmrl_desktop.cli import PROCESS_START

    since_import = time.perf_counter() - PROCESS_START
    try:
        import psutil

        since_start = max(0.0, time.time() - psutil.Process().create_time())
    except Exception:  # psutil missing or a platform without process times
        return since_import
    return since_start if since_start - since_import < EXEC_SLACK_S else since_import


def close_windows(window) -> None:
    """Shut down and release ``window`` and every window that took a window's place since
    (File → Open, an import's reopen: ``DesktopApp.windows``), each once."""
    from mmrl_desktop.gui.app import release_window

    for w in dict.fromkeys((window, *window.app.windows)):
        w.shutdown()
        release_window(w)


def run(args) -> int:
    from mmrl_desktop.gui.app import make_app

    app = make_app()
    from PySide6.QtCore import QTimer

    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.data.user_settings import UserSettings
    from mmrl_desktop.gui.main_window import MainWindow

    settings = UserSettings.load()
    project = resolve_project(args.project, settings=settings)
    settings.remember_project(project.root)
    try:
        settings.save()
    except OSError:
        pass  # a read-only config folder must not stop the app
    window = MainWindow(project, annotator=settings.annotator or None)

    if args.quit_after_paint:
        window.start_trainer = False  # a launch check trains nothing

        def report() -> None:
            ms = _seconds_since_process_start() * 1000.0
            print(f"first-paint-ms {ms:.0f}", flush=True)
            QTimer.singleShot(0, app.quit)

        window.firstPainted.connect(report)
    window.show()
    code = app.exec()
    close_windows(window)
    sys.stdout.flush()
    return int(code)
