"""Settings' "Drafts" tab (issue 16): a project's generate task gets its prompt, longest draft
and temperature edited and written back to project.toml (the other settings kept, the model folder
shown, not edited); an empty prompt is a sentence and nothing is saved; no generate task, no tab."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.generate_task import GenerateTask
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.gui.dialogs.settings import SettingsDialog


@pytest.fixture
def warnings(monkeypatch):
    seen: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda _p, _t, text, *a, **k: seen.append(text))
    return seen


def _tabs(dlg: SettingsDialog) -> list[str]:
    return [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())]


def _project(tmp_path) -> Project:
    settings = GenerateConfig(prompt="Finding:", model="/models/lm", lora_rank=16, candidates=2)
    return Project.create(
        tmp_path / "p",
        tasks=[Task("label", ["a", "b"])],
        generate_tasks=[GenerateTask("finding", settings)],
    )


def test_the_drafted_text_tab_edits_the_generate_task(qtbot, tmp_path, warnings):
    project = _project(tmp_path)
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    assert _tabs(dlg)[-1] == "Drafts"
    box = dlg.generate_box
    assert box.prompt.text() == "Finding:" and box.folder.text() == "/models/lm"
    assert box.folder.isReadOnly() and not box.browse.isVisibleTo(dlg)
    assert not box.candidates.isEnabled() and not box.name.isEnabled()
    box.prompt.setText("One-line finding:")
    box.max_new_tokens.setValue(48)
    box.temperature.setValue(0.2)
    dlg.accept()
    assert warnings == [] and dlg.result() == dlg.DialogCode.Accepted
    want = GenerateConfig(
        prompt="One-line finding:",
        model="/models/lm",
        max_new_tokens=48,
        temperature=0.2,
        candidates=2,
        lora_rank=16,
    )
    reopened = Project.open(project.root)
    assert [(t.name, t.settings) for t in reopened.generate_tasks] == [("finding", want)]
    assert [t.name for t in reopened.tasks] == ["label"]


def test_an_empty_prompt_is_refused_and_nothing_is_saved(qtbot, tmp_path, warnings):
    project = _project(tmp_path)
    before = project.toml_path.read_text()
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    dlg.generate_box.prompt.setText("  ")
    dlg.accept()
    assert len(warnings) == 1 and warnings[0].startswith("Write the prompt")
    assert "\n" not in warnings[0] and project.toml_path.read_text() == before


def test_no_generate_task_no_tab(qtbot, tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    assert "Drafts" not in _tabs(dlg) and dlg.generate_box is None
