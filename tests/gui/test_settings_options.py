"""The Settings dialog shows the chosen algorithm's own options with their help (tooltip and grey
line), rebuilt when the algorithm changes; a bad option is a sentence, a changed one is saved."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtWidgets import QLabel, QMessageBox

from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.core.learning.algorithm_options import options_help
from mmrl_desktop.gui.dialogs.settings import SettingsDialog


@pytest.fixture
def warnings(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: seen.append(text))
    return seen


def _texts(dlg: SettingsDialog) -> list[str]:
    return [w.text() for w in dlg.options_page.findChildren(QLabel)]


def test_the_algorithm_options_and_their_help_are_shown(qtbot, tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    project.algorithm = {"options": {"graph_k": 7}}
    project.save()
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    scroll = dlg.options_page.parentWidget().parentWidget()  # in a scroll area: ~25 options fit
    assert dlg.tabs.tabText(dlg.tabs.indexOf(scroll)) == "Algorithm options"
    assert dlg.minimumSizeHint().height() < 700  # the dialog fits a 1280x800 screen
    rows = options_help("default")
    assert list(dlg.option_editors) == [name for name, _, _ in rows]
    editor = dlg.option_editors["graph_k"]
    assert editor.text() == "7"  # the project's value, not the default
    assert editor.toolTip() == "neighbours per item in the pool graph"
    assert "Neighbours per item in the pool graph." in _texts(dlg)
    assert "mis-click" in dlg.option_editors["suspect_ratio"].toolTip()

    dlg.editors["algorithm"].setCurrentText("egreedy-q")  # the tab follows the algorithm
    assert list(dlg.option_editors) == ["temperature"]
    assert dlg.option_editors["temperature"].text() == "0.25"
    assert "confidence" in dlg.option_editors["temperature"].toolTip()
    dlg.editors["algorithm"].setCurrentText("supervised")
    assert list(dlg.option_editors)[:2] == ["pseudo_weight", "pseudo_after_few"]
    assert "graph_k" in dlg.option_editors and "optimism" not in dlg.option_editors
    assert "no pool graph" in dlg.option_editors["pseudo_weight"].toolTip()


def test_a_changed_option_is_saved_and_a_bad_one_is_a_sentence(qtbot, tmp_path, warnings):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    dlg.option_editors["graph_k"].setText("many")
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted
    assert dlg.problem.text() == "Graph k must be a whole number, not 'many'."
    dlg.option_editors["graph_k"].setText("0")
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted and "graph_k ≥ 1" in dlg.problem.text()
    dlg.option_editors["graph_k"].setText("9")
    dlg.option_editors["answer_noise"].setText("0.1")
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert Project.open(project.root).algorithm == {"options": {"graph_k": 9, "answer_noise": 0.1}}
    assert len(warnings) == 2


def test_a_yes_no_option_is_turned_off_by_its_text(qtbot, tmp_path, warnings):
    """``bool("False")`` is True: a yes/no option reads its text, and a bad one is a sentence."""
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    dlg.editors["algorithm"].setCurrentText("supervised")
    editor = dlg.option_editors["pseudo_after_few"]
    assert editor.text() == "True"
    editor.setText("maybe")
    dlg.accept()
    assert dlg.problem.text() == "Pseudo after few must be true or false, not 'maybe'."
    editor.setText("False")
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    saved = Project.open(project.root).algorithm
    assert saved == {"algorithm": "supervised", "options": {"pseudo_after_few": False}}


def test_the_settings_dialog_imports_no_torch():
    """The window imports the dialogs at start-up and loads torch only for an evaluation or an
    export: the options' help comes from the torch-free table."""
    code = "import sys\nimport mmrl_desktop.gui.dialogs.settings\nprint('torch' in sys.modules)\n"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
