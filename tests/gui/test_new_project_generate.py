"""The New-project wizard's "Drafted text" group (issue 16): ticked and filled, the project.toml it
writes holds a generate task that the core's loader reads back as written by hand; a model folder
that cannot be used (no config.json, weights only as a .bin) is refused in one sentence and the
wizard cannot go on; unticked, no generate task (the behaviour before the group)."""

from __future__ import annotations

import shutil

from PIL import Image
from PySide6.QtWidgets import QWizard

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.generate_task import GenerateTask
from mmrl_desktop.core.data.project import Project, _read_toml
from mmrl_desktop.gui.dialogs.new_project import NewProjectWizard


def _source(folder):
    for label, shade in (("normal", 40), ("nodule", 200)):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (16, 16), shade + i).save(folder / label / f"{i}.png")
    return folder


def _to_tasks_page(qtbot, tmp_path) -> NewProjectWizard:
    wiz = NewProjectWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    wiz.source_page.source.setText(str(_source(tmp_path / "src")))
    wiz.next()
    wiz.project_page.name.setText("Chest")
    wiz.project_page.location.setText(str(tmp_path / "projects"))
    wiz.next()
    assert wiz.currentPage() is wiz.tasks_page
    return wiz


def _finish(qtbot, wiz) -> Project:
    wiz.next()
    assert wiz.currentPage() is wiz.model_page
    with qtbot.waitSignal(wiz.import_page.panel.done, timeout=30000):
        wiz.next()
    return Project.open(wiz.project_dir())


def test_a_filled_group_writes_a_generate_task_the_loader_reads_back(
    qtbot, tmp_path, tiny_lm_folder
):
    wiz = _to_tasks_page(qtbot, tmp_path)
    box = wiz.tasks_page.generate
    assert not box.isChecked() and box.is_complete()
    box.setChecked(True)
    assert not wiz.button(QWizard.NextButton).isEnabled()  # no prompt, no folder yet
    box.prompt.setText("One-line finding:")
    box.folder.setText(str(tiny_lm_folder))
    box.max_new_tokens.setValue(24)
    box.temperature.setValue(0.3)
    box.candidates.setValue(2)
    assert box.note.text().startswith("LlamaForCausalLM language model")
    assert wiz.button(QWizard.NextButton).isEnabled()
    project = _finish(qtbot, wiz)
    want = GenerateConfig(
        prompt="One-line finding:",
        model=str(tiny_lm_folder),
        max_new_tokens=24,
        temperature=0.3,
        candidates=2,
    )
    assert [t.name for t in project.tasks] == ["label"]
    assert [(t.name, t.settings) for t in project.generate_tasks] == [("finding", want)]
    entries = _read_toml(project.toml_path)["tasks"]
    written = [e for e in entries if e.get("kind") == "generate"]
    hand = GenerateTask("finding", want).to_dict()  # what a hand-written entry holds
    assert written == [hand]
    assert GenerateTask.from_dict(written[0]).settings == want


def _refused(qtbot, wiz, folder) -> str:
    box = wiz.tasks_page.generate
    box.folder.setText(str(folder))
    text = box.note.text()
    assert box.note.isVisible() and text == box.problem()
    assert "\n" not in text and text.endswith(".") and "Traceback" not in text
    assert not wiz.button(QWizard.NextButton).isEnabled()
    wiz.next()
    assert wiz.currentPage() is wiz.tasks_page  # the wizard does not go on
    return text


def test_a_folder_without_config_or_with_bin_weights_is_refused(qtbot, tmp_path, tiny_lm_folder):
    wiz = _to_tasks_page(qtbot, tmp_path)
    box = wiz.tasks_page.generate
    box.setChecked(True)
    box.prompt.setText("One-line finding:")
    no_config = shutil.copytree(tiny_lm_folder, tmp_path / "noconfig")
    (no_config / "config.json").unlink()
    assert "no config.json" in _refused(qtbot, wiz, no_config)
    bin_only = shutil.copytree(tiny_lm_folder, tmp_path / "binonly")
    (bin_only / "model.safetensors").unlink()
    (bin_only / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    text = _refused(qtbot, wiz, bin_only)
    assert text.startswith("This folder holds its weights only as pickle files")
    assert "safetensors" in text
    box.folder.setText(str(tiny_lm_folder))
    box.prompt.setText("")
    assert box.problem().startswith("Write the prompt") and not wiz.tasks_page.isComplete()
    box.setChecked(False)  # unticked: nothing to check, the wizard goes on
    assert wiz.button(QWizard.NextButton).isEnabled() and not box.note.isVisible()
    assert not (wiz.project_dir()).exists()


def test_unticked_makes_no_generate_task(qtbot, tmp_path):
    wiz = _to_tasks_page(qtbot, tmp_path)
    assert not wiz.tasks_page.generate.isChecked()
    project = _finish(qtbot, wiz)
    assert project.generate_tasks == [] and [t.name for t in project.tasks] == ["label"]
    entries = _read_toml(project.toml_path)["tasks"]
    assert [e["name"] for e in entries] == ["label"]  # the label task alone
