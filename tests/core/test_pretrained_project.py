"""project.toml ``[encoders]`` (issue 14): read, kept on save."""

from __future__ import annotations

from mmrl_desktop.core.data.project import Project


def test_encoders_table_survives_open_and_save(tmp_path):
    project = Project.create(tmp_path / "p", name="p")
    assert project.encoders == {}
    project.encoders = {"image": "/models/vit", "lora": True}
    project.save()
    again = Project.open(tmp_path / "p")
    assert again.encoders == {"image": "/models/vit", "lora": True}
    again.add_labels(["a", "b"])  # another writer of project.toml keeps the table
    assert Project.open(tmp_path / "p").encoders["image"] == "/models/vit"
