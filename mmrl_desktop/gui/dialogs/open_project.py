"""Open a project (folder picker, recent projects) and reopen the main window on it.

The main window is an assembler of one project, so opening another project (or reopening this one
after an import) shuts the current window's trainer and session down and puts a new
``MainWindow`` in its place; the project is remembered in the user's settings (recent list, last
project for the next start).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox

from mmrl_desktop.core.data.project import PROJECT_FILE, Project
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.core.errors import UserError

_WINDOWS: list = []  # windows opened here stay referenced while they are open


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def choose_project(window) -> None:
    start = str(Path(window.project.root).parent)
    path = QFileDialog.getExistingDirectory(window, "Open a project folder", start)
    if path:
        window.open_project(path)


def load_project(path: str | Path) -> Project:
    """``Project.open`` with a sentence for a folder that is not a project."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise UserError(f"there is no folder at {path}.")
    if not (path / PROJECT_FILE).is_file():
        raise UserError(
            f"{path} is not an mmrl-desktop project: it has no {PROJECT_FILE}. "
            "Use File → New project… to make one from a folder of cases."
        )
    return Project.open(path)


def remember(project: Project) -> None:
    settings = UserSettings.load()
    settings.remember_project(project.root)
    try:
        settings.save()
    except OSError:
        pass  # a read-only config folder must not stop the app


def reopen(window, path: str | Path):
    """Replace ``window`` by a new main window on the project at ``path``. Returns the new
    window, or None (with a message box) when the folder is not a readable project."""
    from mmrl_desktop.gui.main_window import MainWindow

    try:
        project = load_project(path)
    except UserError as err:
        QMessageBox.warning(window, "Open project", _sentence(str(err)))
        return None
    remember(project)
    same = Path(project.root).resolve() == Path(window.project.root).resolve()
    window.shutdown()
    new = MainWindow(
        project,
        annotator=UserSettings.load().annotator or window.annotator,
        device=window.trainer.device,
        start_trainer=window.start_trainer,
        trainer_factory=window.trainer._factory if same else None,
    )
    new.setGeometry(window.geometry())
    _WINDOWS.append(new)
    new.destroyed.connect(lambda *_: _WINDOWS.remove(new) if new in _WINDOWS else None)
    new.show()
    window.close()
    if window in _WINDOWS:
        _WINDOWS.remove(window)
    return new


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
