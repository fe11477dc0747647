"""Exports the install cannot write are named with what to install, never blamed on the model
(issue 12, point 10). A package is made missing with a ``sys.modules[name] = None`` shim, which
makes ``import name`` raise ImportError exactly as in an install without it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tools import export_formats
from tests.core.enginefixtures import text_export_project

REPO = Path(__file__).resolve().parents[2]
INSTALL = 'pip install "mmrl-desktop[export]"'


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    return text_export_project(tmp_path_factory.mktemp("install") / "p", answers=1)


def _export_without(module: str, project: Project, fmt: str, out: Path):
    shim = (
        f"import sys; sys.modules[{module!r}] = None; "
        "from mmrl_desktop.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    args = ["export", "--project", str(project.root), "--format", fmt, "--out", str(out)]
    return subprocess.run(
        [sys.executable, "-c", shim, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(REPO),
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


@pytest.mark.parametrize(
    ("module", "fmt", "names"),
    [
        ("onnx", "onnx", "the onnx package"),
        ("onnxruntime", "onnx", "the onnxruntime package"),
        ("onnxscript", "onnx", "the onnxscript package"),
        ("tensorboardX", "tensorboard", "the tensorboardX package"),
    ],
)
def test_a_missing_package_is_one_sentence_saying_what_to_install(
    project, tmp_path, module, fmt, names
):
    proc = _export_without(module, project, fmt, tmp_path / "out")
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert names in lines[0] and INSTALL in lines[0], lines[0]
    assert "model" not in lines[0].replace("mmrl-desktop", ""), lines[0]  # never the model's fault
    assert proc.stdout == "" and not (tmp_path / "out").exists()  # nothing written


def test_unavailable_names_the_missing_packages(monkeypatch):
    for fmt in ("torchscript", "onnx", "feedback-csv", "feedback-jsonl", "tensorboard"):
        assert export_formats.unavailable(fmt) is None  # the default install writes every format
    monkeypatch.setitem(sys.modules, "onnx", None)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    text = export_formats.unavailable("onnx")
    assert text == (
        "the ONNX export needs the onnx and onnxruntime packages, which are not installed: "
        f"{INSTALL}."
    )
    assert export_formats.unavailable("torchscript") is None
    with pytest.raises(UserError) as err:
        export_formats.require("onnx")
    assert str(err.value) == text


def test_the_default_install_carries_what_the_exports_need():
    """pyproject's dependencies (what `pip install -e .` installs) hold every package the
    offered exports need, and the `export` extra named in the sentence holds them too."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {
        d.split(">")[0].split("=")[0].split(";")[0].strip().lower() for d in meta["dependencies"]
    }
    extra = {d.split(">")[0].strip().lower() for d in meta["optional-dependencies"]["export"]}
    for modules in export_formats.NEEDS.values():
        for m in modules:
            assert m.lower() in names and m.lower() in extra, m


def test_a_package_that_fails_for_want_of_another_names_the_other(monkeypatch):
    """onnxscript imports onnx: without onnx the sentence names onnx alone, not onnxscript."""
    monkeypatch.setitem(sys.modules, "onnx", None)
    for name in [m for m in sys.modules if m.startswith("onnxscript")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(UserError) as err:
        export_formats.require("onnx")
    assert "needs the onnx package, which is not installed" in str(err.value)
    three = export_formats.sentence("onnx", ["onnx", "onnxscript", "onnxruntime"])
    assert "needs the onnx, onnxscript and onnxruntime packages, which are not" in three
