"""``mmrl-desktop``'s exit: every main window of the process is shut down and released, not only
the first one (a window opened in its place by File → Open keeps its trainer and session)."""

from __future__ import annotations

from shiboken6 import isValid

from mmrl_desktop.commands.gui import close_windows
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.gui.main_window import MainWindow


def _ready(qtbot, window):
    if window.labeling is None:
        qtbot.waitSignal(window.ready, timeout=30000).wait()
    return window


def test_exit_shuts_down_and_releases_the_windows_that_replaced_the_first(qtbot, tmp_path):
    first = Project.create(tmp_path / "first", tasks=[Task("label", ["a", "b"])])
    second = Project.create(tmp_path / "second", tasks=[Task("label", ["x", "y"])])
    window = MainWindow(first, annotator="tester", device="cpu", start_trainer=False)
    window.show()
    _ready(qtbot, window)
    other = _ready(qtbot, window.open_project(second.root))
    assert window.app.windows == [other] and other.labeling is not None

    close_windows(window)

    assert other.labeling is None  # its session closed (and its trainer stopped)
    assert not isValid(other) and not isValid(window)  # both deleted while Python is alive
    assert window.app.windows == []
