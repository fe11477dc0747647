"""File → Open: the folder picker and the recent-projects menu.

Both ask the window to open the chosen folder (``MainWindow.open_project``); its app object
(``gui/app.py``, ``DesktopApp.reopen``) checks the folder is a project, shuts the window down and
puts a new window on that project in its place, and remembers the project in the user's settings
(recent list, last project for the next start).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from mmrl_desktop.core.data.project import PROJECT_FILE
from mmrl_desktop.core.data.user_settings import UserSettings


def choose_project(window) -> None:
    start = str(Path(window.project.root).parent)
    path = QFileDialog.getExistingDirectory(window, "Open a project folder", start)
    if path:
        window.open_project(path)


def wire_recent_menu(window) -> None:
    menu = window.recent_menu

    def fill() -> None:
        menu.clear()
        recent = [p for p in UserSettings.load().recent_projects if p]
        for p in recent:
            exists = (Path(p) / PROJECT_FILE).is_file()
            act = menu.addAction(f"{Path(p).name}  —  {p}")
            act.setEnabled(exists)
            if not exists:
                act.setToolTip("This folder no longer holds a project.")
            act.triggered.connect(lambda _=False, p=p: window.open_project(p))
        if not recent:
            menu.addAction("No recent projects").setEnabled(False)

    menu.aboutToShow.connect(fill)
    fill()
