"""Closing the main window right after a click: the work queued to run after the click's paint
(the answer charts' points, the trainer's wake-up, the look-ahead) is dropped with the window,
never run later against the closed store ("Cannot operate on a closed database")."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from mmrl_desktop import logs
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.gui import crash_notice
from mmrl_desktop.gui.main_window import MainWindow


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "proj", tasks=[Task("label", ["a", "b"])])
    items = []
    for k in range(4):
        path = tmp_path / f"img{k}.png"
        Image.fromarray(np.full((8, 8), 40 * k, np.uint8)).save(path)
        items.append(Item(f"img{k}", image=str(path), labels={"label": "ab"[k % 2]}))
    with p.open_store() as s:
        s.add_items(items)
    return p


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv(logs.ENV_DIR, str(folder))
    yield folder
    crash_notice.uninstall()
    logs.uninstall()


@pytest.mark.qt_no_exception_capture  # the app's own hook (the log, the notice) is under test
def test_closing_right_after_a_click_logs_no_error(qtbot, project, log_dir):
    logs.install("gui")
    w = MainWindow(project, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    lab = w.labeling
    qtbot.waitUntil(lambda: lab.answer_charts.restored, timeout=10000)
    qtbot.waitUntil(lambda: not w.after_paint._todo)
    qtbot.mouseClick(w.feedback.up_button, Qt.LeftButton)  # 👍: its points wait for the paint
    assert lab.answer_charts.drain in w.after_paint._todo
    w.close()
    qtbot.wait(400)  # past AfterPaint's fallback (100 ms) and any paint
    text = (log_dir / "gui.log").read_text(encoding="utf-8")
    assert "uncaught exception" not in text and "closed database" not in text
    w.after_paint.call(lambda: pytest.fail("ran after the window closed"))
    w.after_paint.painted()
    qtbot.wait(200)
