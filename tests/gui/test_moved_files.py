"""File ▸ Find moved files… (``gui/dialogs/moved_files.py``): a project whose folder moved
follows it and opens again; a folder without its files is refused in one sentence; an item
whose folder is gone says how to find it."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.labelling.prefetch import load_for_display
from mmrl_desktop.gui.dialogs.moved_files import find_moved_files
from mmrl_desktop.gui.main_window import MainWindow
from tests.core.enginefixtures import make_pngs


@pytest.fixture
def boxes(monkeypatch):
    seen: list[tuple[str, str]] = []
    for kind in ("warning", "information"):
        monkeypatch.setattr(
            QMessageBox, kind, lambda _p, title, text, *a, k=kind: seen.append((k, text))
        )
    return seen


def _ready(qtbot, window):
    qtbot.addWidget(window)
    if window.labeling is None:
        with qtbot.waitSignal(window.ready, timeout=30000):
            window.show()
    return window


def test_a_moved_folder_is_found_and_the_project_opens_again(qtbot, tmp_path, boxes):
    src = make_pngs(tmp_path / "cases", per_class=3)
    assert main(["import", str(src), "--project", str(tmp_path / "p")]) == 0
    project = Project.open(tmp_path / "p")
    window = _ready(qtbot, MainWindow(project, device="cpu", start_trainer=False))
    assert window.actions_.find_moved.text() == "&Find moved files…"
    assert find_moved_files(window, choose=lambda f: "") == 0  # nothing gone: nothing asked
    assert boxes[-1][0] == "information"

    moved = tmp_path / "usb" / "cases"
    moved.parent.mkdir()
    shutil.move(str(src), str(moved))
    with project.open_store() as store:
        item = store.items()[0]
    errors = load_for_display(item).errors
    assert errors[0].startswith("Its folder is gone: if it moved, File ▸ Find moved files…")
    assert f"({src.resolve()})." in errors[0] and "The image could not be shown" in errors[1]

    empty = tmp_path / "empty"
    empty.mkdir()
    windows = list(window.app.windows)
    assert find_moved_files(window, choose=lambda f: str(empty)) == 0
    assert boxes[-1][0] == "warning" and "holds none of this project's" in boxes[-1][1]
    assert window.app.windows == windows and window.isVisible()  # not opened again

    asked = []
    n = find_moved_files(window, choose=lambda f: asked.append(f) or str(moved))
    assert n == 6 and asked == [str(src.resolve())]
    [again] = window.app.windows
    _ready(qtbot, again)
    assert again is not window and not window.isVisible()
    with again.project.open_store() as store:
        assert all(it.image.startswith(str(moved.resolve())) for it in store.items())
    with again.project.open_store() as store:
        assert load_for_display(store.item(item.item_id)).errors == []
    again.shutdown()
