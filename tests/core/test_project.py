"""Project folder: create/open/save, schema version and migration, validation."""

import pytest

from mmrl_desktop.core.data.project import PROJECT_SCHEMA_VERSION, Project, Task
from mmrl_desktop.core.errors import ProjectError


def test_create_open_round_trip(tmp_path):
    p = Project.create(
        tmp_path / "p",
        name="Chest",
        tasks=[Task("finding", ["normal", "abnormal"])],
        model={"image_encoder": "small-cnn"},
        algorithm={"lr": 0.001},
    )
    assert (tmp_path / "p" / "project.toml").is_file()
    assert p.db_path.is_file() and p.checkpoints_dir.is_dir() and p.exports_dir.is_dir()
    q = Project.open(tmp_path / "p")
    assert q.name == "Chest" and q.tasks == p.tasks
    assert q.model == {"image_encoder": "small-cnn"} and q.algorithm == {"lr": 0.001}
    assert f"schema_version = {PROJECT_SCHEMA_VERSION}" in q.toml_path.read_text()


def test_labels_are_added_to_tasks(tmp_path):
    p = Project.create(tmp_path / "p")
    p.set_tasks_from_labels(["b", "a"])
    p.set_tasks_from_labels(["a", "c"])
    p.save()
    assert Project.open(tmp_path / "p").task("label").labels == ["b", "a", "c"]


def test_errors_are_sentences(tmp_path):
    with pytest.raises(ProjectError, match="not an mmrl-desktop project"):
        Project.open(tmp_path)
    (tmp_path / "project.toml").write_text("name = [unclosed")
    with pytest.raises(ProjectError, match="cannot be read"):
        Project.open(tmp_path)
    (tmp_path / "project.toml").write_text("schema_version = 99\n")
    with pytest.raises(ProjectError, match="schema_version"):
        Project.open(tmp_path)
    with pytest.raises(ProjectError, match="already holds"):
        Project.create(tmp_path)
    with pytest.raises(ProjectError, match="at least two labels"):
        Project.create(tmp_path / "q", tasks=[Task("t", ["only"])])


def test_old_schema_is_migrated(tmp_path):
    (tmp_path / "project.toml").write_text(
        'name = "old"\n[task]\nname = "label"\nlabels = ["x", "y"]\n'
    )
    p = Project.open(tmp_path)
    assert p.task("label").labels == ["x", "y"]
    p.save()
    assert Project.open(tmp_path).to_dict()["schema_version"] == PROJECT_SCHEMA_VERSION
