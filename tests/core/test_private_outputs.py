"""Weights-file errors are our own sentence, ``weights_path`` stays inside the project, and
``predict --json`` names no folder of this machine (issue 18, point 11)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch
from safetensors.torch import save_file

from mmrl_desktop.cli import main
from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.data.safe_load import load_weights
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.encoders import load_weights_file
from mmrl_desktop.core.learning.model.policy import build_policy
from tests.core.enginefixtures import TINY_MODEL
from tests.core.test_evaluate import make_trained


class NotATensor:  # pickled by reference: torch's weights_only loader refuses it
    pass


def _resnet_cfg(weights_path: str) -> ModelConfig:
    return ModelConfig.from_dict(
        {
            **TINY_MODEL,
            "image_channels": 1,
            "modalities": "image",
            "image_encoder": "resnet18",
            "weights_path": weights_path,
        }
    )


def _conv1(path) -> torch.Tensor:
    """A valid resnet18 weights file (only conv1) at ``path``; returns the tensor."""
    w = torch.full((64, 3, 7, 7), 0.125)
    save_file({"conv1.weight": w}, str(path))
    return w


def test_weights_errors_never_pass_on_torchs_advice(tmp_path):
    bad = tmp_path / "weights" / "w.pt"
    bad.parent.mkdir()
    torch.save({"conv1.weight": torch.zeros(1), "extra": NotATensor()}, bad)
    for load in (load_weights, load_weights_file):
        with pytest.raises(UserError) as err:
            load(bad)
        assert "weights_only=False" not in str(err.value) and "\x1b[" not in str(err.value)
        assert "weights_only" not in str(err.value) and len(str(err.value).splitlines()) == 1
    with pytest.raises(UserError) as err:  # through the project's [model] weights_path
        build_policy(_resnet_cfg("weights/w.pt"), {"label": 2}, root=tmp_path)
    assert "weights_only" not in str(err.value) and "\x1b[" not in str(err.value)


@pytest.mark.parametrize(
    "given",
    ["/etc/passwd", "OUTSIDE", "../outside.safetensors", "weights/../../outside.safetensors"],
)
def test_weights_path_outside_the_project_is_refused_unread(tmp_path, given):
    project = tmp_path / "project"
    project.mkdir()
    _conv1(tmp_path / "outside.safetensors")  # valid weights: old code loaded them
    if given == "OUTSIDE":
        given = str(tmp_path / "outside.safetensors")
    with pytest.raises(UserError, match="weights_path .* project folder"):
        build_policy(_resnet_cfg(given), {"label": 2}, root=project)


def test_weights_path_must_be_a_regular_weights_file(tmp_path):
    project = tmp_path / "project"
    (project / "weights").mkdir(parents=True)
    _conv1(tmp_path / "outside.safetensors")
    os.symlink(tmp_path / "outside.safetensors", project / "weights" / "link.safetensors")
    os.mkfifo(project / "weights" / "pipe.pt")  # opening it would hang
    (project / "weights" / "notes.txt").write_text("x")
    cases = {
        "weights/link.safetensors": "outside the project folder",
        "weights/pipe.pt": "not a regular file",
        "weights/notes.txt": "not a weights file",
        "weights/missing.pt": "no such file",
    }
    for name, message in cases.items():
        with pytest.raises(UserError, match=message):
            build_policy(_resnet_cfg(name), {"label": 2}, root=project)
    # a weights file inside the project is used, as before
    w = _conv1(project / "weights" / "w.safetensors")
    policy = build_policy(_resnet_cfg("weights/w.safetensors"), {"label": 2}, root=project)
    assert torch.equal(policy.encoders["image"].net.conv1.weight, w)


def test_predict_json_names_no_folder_of_this_machine(tmp_path, capsys):
    project = make_trained(tmp_path)
    new = tmp_path / "new"
    new.mkdir()
    shutil.copy(sorted((tmp_path / "src" / "5").iterdir())[0], new / "a.png")
    (new / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (new / "items.csv").write_text(
        "id,image,audio,text,label\ncase-a,a.png,,,5\ncase-b,missing.png,,,\n"
        "case-c,broken.png,,,\n",
        encoding="utf-8",
    )
    for source in (new, new / "a.png", new / "items.csv"):
        assert main(["predict", "--project", str(project.root), str(source), "--json"]) == 0
        text = capsys.readouterr().out
        for folder in (str(tmp_path), os.path.expanduser("~")):
            assert folder not in text, source
        out = json.loads(text)
        assert out["source"] == source.name and out["project"] == project.root.name
        assert [p["path"] for p in out["predictions"]] == ["a.png"]  # relative, as before
        assert {"project", "model_version", "step", "source", "items"} <= set(out)
