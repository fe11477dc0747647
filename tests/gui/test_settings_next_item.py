"""The Settings dialog's "Next item" tab (issue 19): the order is a combo with a sentence on each
choice, the positive label a combo of the project's labels (only for likely-positive), the random
share a number; saved in [algorithm]; settings without an editor keep their values."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.config import NEXT_ITEM_NAMES
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.gui.dialogs.settings import SettingsDialog


@pytest.fixture
def warnings(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: seen.append(text))
    return seen


def _dialog(qtbot, tmp_path, algorithm=None):
    project = Project.create(
        tmp_path / "p", tasks=[Task("label", ["normal", "tumour"])], algorithm=algorithm
    )
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    return project, dlg


def test_the_next_item_tab_offers_the_orders_and_the_labels(qtbot, tmp_path):
    _, dlg = _dialog(qtbot, tmp_path)
    titles = [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())]
    assert "Next item" in titles
    box = dlg.editors["next_item"]
    assert [box.itemText(i) for i in range(box.count())] == list(NEXT_ITEM_NAMES)
    assert box.currentText() == "shuffle" and "random order" in dlg.next_note.text()
    labels = dlg.editors["positive_label"]
    assert [labels.itemText(i) for i in range(labels.count())] == ["", "normal", "tumour"]
    assert not labels.isEnabled()
    box.setCurrentText("likely-positive")
    assert labels.isEnabled() and "Screening" in dlg.next_note.text()
    assert "least sure" in box.toolTip()  # the setting's help


def test_the_order_is_saved_and_a_missing_positive_label_is_a_sentence(qtbot, tmp_path, warnings):
    project, dlg = _dialog(qtbot, tmp_path, algorithm={"orientation_free": True})
    dlg.editors["next_item"].setCurrentText("likely-positive")
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted
    assert dlg.problem.text() == (
        "Positive label must name the label to find first when next_item is likely-positive."
    )
    dlg.editors["positive_label"].setCurrentText("tumour")
    dlg.editors["next_item_random"].setText("0.2")
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert Project.open(project.root).algorithm == {
        "orientation_free": True,  # no editor in the dialog: kept, not reset to the default
        "next_item": "likely-positive",
        "next_item_random": 0.2,
        "positive_label": "tumour",
    }
