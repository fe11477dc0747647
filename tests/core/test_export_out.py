"""Where `export --out PATH` writes, and what it prints (issue 12, point 11).

A path without a suffix, one ending in a separator, or an existing folder is a folder (created,
parents too) and gets the format's file name inside; a path with a suffix is the file. The
success line goes to stdout; with --json stdout is one JSON object and nothing else is printed."""

from __future__ import annotations

import json
import os

import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tools.feedback_export import output_path
from tests.core.enginefixtures import text_export_project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return text_export_project(tmp_path_factory.mktemp("out") / "p")


def test_output_path_rule(tmp_path):
    assert output_path(tmp_path / "new" / "deeper", "m.onnx") == tmp_path / "new/deeper/m.onnx"
    assert (tmp_path / "new" / "deeper").is_dir()  # created, parents too
    assert output_path(f"{tmp_path}/slash{os.sep}", "m.pt") == tmp_path / "slash" / "m.pt"
    assert (tmp_path / "slash").is_dir()
    assert output_path(tmp_path / "sub" / "mine.onnx", "m.onnx") == tmp_path / "sub" / "mine.onnx"
    assert (tmp_path / "sub").is_dir() and not (tmp_path / "sub" / "mine.onnx").exists()
    (tmp_path / "runs.v2").mkdir()  # an existing folder, suffix or not
    assert output_path(tmp_path / "runs.v2", "f.csv") == tmp_path / "runs.v2" / "f.csv"
    (tmp_path / "plainfile").write_text("keep me")
    with pytest.raises(UserError, match="is a file, not a folder"):
        output_path(tmp_path / "plainfile", "f.csv")
    assert (tmp_path / "plainfile").read_text() == "keep me"


@pytest.mark.parametrize(
    ("fmt", "name"),
    [
        ("feedback-csv", "feedback.csv"),
        ("feedback-jsonl", "feedback.jsonl"),
        ("onnx", "model.onnx"),
    ],
)
def test_cli_out_folder_that_does_not_exist(project, tmp_path, capsys, fmt, name):
    out = tmp_path / "exports" / "today"
    args = ["export", "--project", str(project.root), "--format", fmt, "--out", str(out)]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert out.is_dir() and (out / name).is_file()
    assert captured.err == "" and captured.out.count("\n") == 1, captured
    assert captured.out.startswith("wrote ") and str(out / name) in captured.out


@pytest.mark.parametrize("fmt", ["feedback-csv", "torchscript", "tensorboard"])
def test_cli_json_is_the_only_output(project, tmp_path, capsys, fmt):
    out = tmp_path / "x"
    args = ["export", "--project", str(project.root), "--format", fmt, "--out", str(out), "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    info = json.loads(captured.out)  # one JSON object, nothing else
    assert info["format"] == fmt and info["path"].startswith(str(out))
    assert os.path.exists(info["path"])
