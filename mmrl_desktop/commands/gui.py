"""``mmrl-desktop [--project DIR] [--quit-after-paint]``: the desktop app."""

from __future__ import annotations

import sys
import time


def _seconds_since_process_start() -> float:
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())
    except Exception:  # psutil missing or a platform without process times
        from mmrl_desktop.cli import PROCESS_START

        return time.perf_counter() - PROCESS_START


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
