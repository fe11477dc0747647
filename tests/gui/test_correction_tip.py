"""The correction tip in the real main window (core/labelling/tips.py): after a window of mostly
"wrong" answers on a ten-label project the feedback panel says once that the right answer
teaches more; an undone answer leaves the window."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.labelling.tips import WINDOW
from mmrl_desktop.gui.labeling import TIP_ITEMS
from tests.gui.test_main_window import window  # noqa: F401  (fixture)

LABELS = [f"letter {c}" for c in "abcdefghij"]


@pytest.fixture
def project(tmp_path):
    """Ten labels, forty small images: ``window`` (test_main_window's) opens it."""
    p = Project.create(tmp_path / "proj", tasks=[Task("letter", LABELS)])
    rng = np.random.default_rng(0)
    items = []
    for k in range(40):
        path = tmp_path / f"img{k}.png"
        Image.fromarray((rng.random((16, 16)) * 255).astype(np.uint8)).save(path)
        items.append(Item(f"img{k}", image=str(path), labels={"letter": LABELS[k % 10]}))
    with p.open_store() as s:
        s.add_items(items)
    return p


def test_mostly_wrong_answers_on_ten_labels_bring_the_tip_once(qtbot, window):  # noqa: F811
    message = window.feedback.key_hint  # the tip takes the key hint's place
    keys = message.text()
    for _ in range(WINDOW - 1):
        qtbot.keyClick(window, Qt.Key_X)  # 👎
    assert "Tip:" not in message.text()
    window.resize(1280, 800)
    qtbot.wait(50)
    buttons = window.feedback.up_button.geometry()
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)  # the last one undone: one fewer
    qtbot.keyClick(window, Qt.Key_X)
    assert "Tip:" not in message.text()
    qtbot.keyClick(window, Qt.Key_X)
    assert "Tip:" in message.text() and "10 labels" in message.text()
    qtbot.wait(50)  # a relayout, if the tip caused one, has run
    assert window.feedback.up_button.geometry() == buttons  # nothing above the tip moved
    for _ in range(TIP_ITEMS - 1):  # it stays on the next few items, then goes
        qtbot.keyClick(window, Qt.Key_A)
        assert "Tip:" in message.text()
    qtbot.keyClick(window, Qt.Key_A)
    assert message.text() == keys  # the keys again
    for _ in range(WINDOW):
        qtbot.keyClick(window, Qt.Key_X)
    assert "Tip:" not in message.text()  # once per session
