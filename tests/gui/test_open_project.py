"""Opening a project in the window's place (issue 13 point 3): the app object (``gui/app.py``,
``DesktopApp``) makes the new window — of the same class, with the options the app was made with,
the trainer factory only for the same project — and keeps it referenced; ``open_project.py``
never imports the main window. The error text a user sees is one sentence (``gui/sentence.py``).
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.gui.app import DesktopApp
from mmrl_desktop.gui.main_window import MainWindow
from mmrl_desktop.gui.sentence import EMPTY, sentence


class RecordingWindow(MainWindow):
    """The real main window, recording the arguments it was made with."""

    made: list[dict] = []

    def __init__(self, project, **kwargs):
        RecordingWindow.made.append(kwargs)
        super().__init__(project, **kwargs)


def _factory():  # never called: the windows start no trainer
    raise AssertionError("the trainer was started")


@pytest.fixture
def boxes(monkeypatch):
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "warning", lambda _p, title, text, *a: seen.append((title, text))
    )
    return seen


def _ready(qtbot, window):
    qtbot.addWidget(window)
    if window.labeling is None:
        qtbot.waitSignal(window.ready, timeout=30000).wait()
    return window


def test_the_app_replaces_a_window_with_its_own_kind_and_options(qtbot, tmp_path, boxes):
    first = Project.create(tmp_path / "first", tasks=[Task("label", ["a", "b"])])
    second = Project.create(tmp_path / "second", tasks=[Task("label", ["x", "y"])])
    RecordingWindow.made.clear()
    window = RecordingWindow(
        first, annotator="tester", device="cpu", start_trainer=False, trainer_factory=_factory
    )
    qtbot.addWidget(window)
    assert isinstance(window.app, DesktopApp) and window.app.windows == []

    same = _ready(qtbot, window.open_project(first.root))  # e.g. after an import
    assert type(same) is RecordingWindow and same.app is window.app
    assert window.labeling is None and not window.isVisible()  # shut down and closed
    assert RecordingWindow.made[-1] == {
        "annotator": "tester",
        "device": "cpu",
        "start_trainer": False,
        "trainer_factory": _factory,  # the same project: the same trainer
        "app": window.app,
    }
    other = _ready(qtbot, same.open_project(second.root))
    assert other.project.root == second.root and other.app is window.app
    assert RecordingWindow.made[-1]["trainer_factory"] is None  # another project: its own
    assert window.app.windows == [other]  # the replaced windows are let go
    assert other.open_project(tmp_path / "missing") is None
    assert boxes == [("Open project", f"There is no folder at {tmp_path / 'missing'}.")]
    assert window.app.windows == [other] and other.isVisible()
    other.shutdown()


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("there is no folder at /x.", "There is no folder at /x."),
        ("  a file could not be read (a.png): Permission denied  ", None),
        ("label 'b' is used twice", "Label 'b' is used twice."),
        ("Done!", "Done!"),
        ("", EMPTY),
        ("   ", EMPTY),
    ],
)
def test_one_sentence(text, shown):
    assert sentence(text) == (shown or "A file could not be read (a.png): Permission denied.")
