"""The New-project wizard's orientation checkbox (issue 17): off by default; when ticked, the
project's [algorithm] table says ``orientation_free = true`` and the trainer's config reads it."""

from __future__ import annotations

from PIL import Image

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.tasks import TaskState
from mmrl_desktop.gui.dialogs.new_project import ModelPage, create_job


def _source(folder):
    for label, shade in (("circle", 40), ("square", 200)):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (16, 16), shade + i).save(folder / label / f"{i}.png")
    return folder


def test_orientation_checkbox_is_off_by_default_and_saved_when_ticked(qtbot, tmp_path):
    page = ModelPage()
    qtbot.addWidget(page)
    assert not page.orientation_free.isChecked() and page.algorithm_table() == {}
    page.orientation_free.setChecked(True)
    assert page.algorithm_table() == {"orientation_free": True}
    tasks = [Task("label", ["circle", "square"])]
    src = str(_source(tmp_path / "src"))
    for name, table in (("ticked", page.algorithm_table()), ("plain", {})):
        run = create_job(str(tmp_path / name), name, tasks, {}, "", src, None, table)
        assert run(TaskState())["imported"] == 6
    ticked, plain = Project.open(tmp_path / "ticked"), Project.open(tmp_path / "plain")
    assert TrainConfig.from_dict(ticked.algorithm).orientation_free is True
    assert TrainConfig.from_dict(plain.algorithm).orientation_free is False
