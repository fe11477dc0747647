"""Exports name no folder of this machine, survive a full disk with one sentence and no temp file,
keep spreadsheet formulas inert, and offer pseudonymous item ids (issue 18, points 7, 8, 11)."""

from __future__ import annotations

import csv
import io
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import mmrl_desktop
from mmrl_desktop.cli import main
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.pseudonyms import KEY_FILE, project_key, pseudonym
from mmrl_desktop.core.tools.feedback_export import export_feedback, feedback_rows
from tests.core.test_evaluate import make_trained

REPO = Path(mmrl_desktop.__file__).resolve().parents[1]
FORMATS = {
    "torchscript": "model.pt",
    "onnx": "model.onnx",
    "feedback-csv": "feedback.csv",
    "feedback-jsonl": "feedback.jsonl",
    "tensorboard": "tb",
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Project:
    return make_trained(tmp_path_factory.mktemp("privacy"))


def _contents(path: Path):
    """(name, bytes) of a file and, for a zip (a TorchScript archive), of every entry in it."""
    data = path.read_bytes()
    yield path.name, data
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                yield name, zf.read(name)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_no_export_names_a_folder_of_this_machine(trained, tmp_path_factory, fmt, capsys):
    out = tmp_path_factory.mktemp("out") / FORMATS[fmt]
    args = ["export", "--project", str(trained.root), "--format", fmt, "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    needles = {
        str(REPO),
        os.path.expanduser("~"),
        str(trained.root),
        str(tmp_path_factory.getbasetemp()),
        str(Path(sys.prefix).resolve()),  # the install folder (the venv)
    }
    needles = {n.encode() for n in needles if len(Path(n).parts) >= 2}
    files = [p for p in out.parent.rglob("*") if p.is_file()]
    assert files
    for f in files:
        assert f".{socket.gethostname()}." not in f.name  # TensorBoard names files by host
        for name, data in _contents(f):
            leaks = [n.decode() for n in needles if n in data or n in name.encode()]
            assert not leaks, f"{f.name}:{name} contains {leaks}"
    if fmt == "torchscript":  # the archive without its debug entries still loads and agrees
        import torch

        with zipfile.ZipFile(out) as zf:
            assert not [n for n in zf.namelist() if n.endswith(".debug_pkl")]
            assert {n.split("/")[0] for n in zf.namelist()} == {"model"}
        assert callable(torch.jit.load(str(out)))
    assert not [p for p in out.parent.rglob("*.tmp")]


def _limit_file_size(limit: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return apply


LIMIT = 40_000  # bytes: the database's shared-memory file (32 KiB) fits, no export does


@pytest.fixture(scope="module")
def big_log(tmp_path_factory) -> Project:
    """A project whose feedback log and metrics are larger than ``LIMIT`` once exported."""
    project = Project.create(tmp_path_factory.mktemp("big") / "p", tasks=[Task("t", ["a", "b"])])
    with project.open_store() as store:
        store.add_items([Item(f"case{i}", text_inline="x") for i in range(50)])
        for i in range(600):
            store.record_feedback(f"case{i % 50}", "t", "a", 0.5, 1, annotator="dr")
        for step in range(1500):
            store.add_metrics("run-1", step, {"loss/total": 1.0 / (step + 1)})
    return project


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["torchscript", "onnx", "feedback-csv", "tensorboard"])
def test_export_onto_a_full_disk_is_one_sentence_and_leaves_nothing(
    trained, big_log, tmp_path, fmt
):
    project = trained if fmt in ("torchscript", "onnx") else big_log
    out = tmp_path / "out"
    out.mkdir()
    target = out / FORMATS[fmt]
    cmd = [sys.executable, "-m", "mmrl_desktop", "export", "--project", str(project.root)]
    proc = subprocess.run(
        [*cmd, "--format", fmt, "--out", str(target)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(REPO),
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"},
        preexec_fn=_limit_file_size(LIMIT),
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "could not be written" in lines[0] and "size limit or a full disk" in lines[0]
    left = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    assert left == []  # no temp file, no partial export


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "-b"])])
    ids = ['=HYPERLINK("http://x","y")', "+cmd", "-1+1", "@SUM(A1)", "\tx", "\rx", "plain"]
    with project.open_store() as store:
        store.add_items([Item(i, text_inline="x") for i in ids])
        for i in ids:
            store.record_feedback(i, "t", "-b", 0.5, -1, annotator="=evil()")
        export_feedback(store, tmp_path / "f.csv", "feedback-csv")
        export_feedback(store, tmp_path / "f.jsonl", "feedback-jsonl")
    with open(tmp_path / "f.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["item_id"] for r in rows] == [("'" + i if i != "plain" else i) for i in ids]
    assert {r["shown_label"] for r in rows} == {"'-b"} and {r["annotator"] for r in rows} == {
        "'=evil()"
    }
    assert {r["reward"] for r in rows} == {"-1"}  # numbers stay numbers
    jsonl = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in jsonl] == ids and jsonl[0]["shown_label"] == "-b"  # raw


def test_pseudonymous_item_ids(tmp_path, capsys):
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "b"])])
    ids = ["DOE_JOHN_normal0", "ROE_JANE_abnormal1"]
    with project.open_store() as store:
        store.add_items([Item(i, text_inline="x") for i in ids])
        for i in ids:
            store.record_feedback(i, "t", "a", 0.5, 1, annotator="dr")
        plain = feedback_rows(store)
    base = ["export", "--project", str(project.root), "--pseudonymize", "--out"]
    assert main([*base, str(tmp_path / "a.csv"), "--format", "feedback-csv"]) == 0
    assert "pseudonymous item ids" in capsys.readouterr().out
    assert main([*base, str(tmp_path / "a.jsonl"), "--format", "feedback-jsonl"]) == 0
    key_file = project.root / KEY_FILE
    assert key_file.is_file() and (key_file.stat().st_mode & 0o077) == 0
    key = project_key(project.root)
    csv_text = (tmp_path / "a.csv").read_text()
    jsonl = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    for text in (csv_text, (tmp_path / "a.jsonl").read_text()):
        assert "DOE" not in text and "JOHN" not in text and "ROE_JANE" not in text
        assert key.hex() not in text  # the key never leaves the project folder
    expected = [pseudonym(key, r["item_id"]) for r in plain]
    assert [r["item_id"] for r in jsonl] == expected
    assert expected[0].startswith("item-") and len(set(expected)) == 2
    assert [r["item_id"] for r in csv.DictReader(io.StringIO(csv_text))] == expected
    # the same item keeps its pseudonym across exports; map back by joining on event_id
    assert main([*base, str(tmp_path / "b.jsonl"), "--format", "feedback-jsonl"]) == 0
    again = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert [r["item_id"] for r in again] == expected
    assert {r["event_id"]: r["item_id"] for r in plain}[jsonl[0]["event_id"]] == ids[0]
    # another project: other pseudonyms for the same id
    other = Project.create(tmp_path / "q", tasks=[Task("t", ["a", "b"])])
    assert pseudonym(project_key(other.root), ids[0]) != expected[0]
    # without the flag nothing changes
    assert main([*base[:-2], "--out", str(tmp_path / "c.jsonl"), "--format", "feedback-jsonl"]) == 0
    assert "DOE_JOHN_normal0" in (tmp_path / "c.jsonl").read_text()


class _NamesAFolder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.note = HOME_FILE  # a string attribute: saved in the archive's data.pkl

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool(x.sum() > 1e30):
            raise RuntimeError(self.note)
        return x * 2


HOME_FILE = os.path.join(os.path.expanduser("~"), "secret", "notes.txt")


def test_a_torchscript_program_that_names_a_folder_is_refused():
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.tools.export_io import private_strings, torchscript_bytes

    scripted = torch.jit.script(_NamesAFolder())
    with pytest.raises(UserError, match="names a folder of this computer"):
        torchscript_bytes(scripted, private_strings())
    clean = torchscript_bytes(torch.jit.trace(torch.nn.Linear(2, 2), torch.ones(1, 2)), [])
    assert torch.jit.load(io.BytesIO(clean))(torch.ones(1, 2)).shape == (1, 2)


def test_write_files_is_all_or_nothing(tmp_path):
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.tools.export_io import write_files

    model = tmp_path / "model.pt"
    model.write_bytes(b"old")
    with pytest.raises(UserError, match=r"could not be written to .*nope.*nothing changed\.$"):
        write_files({model: b"new", tmp_path / "nope" / "model.pt.json": b"{}"})
    assert model.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [model]
    write_files({model: b"new", tmp_path / "model.pt.json": b"{}"})
    assert model.read_bytes() == b"new" and not list(tmp_path.glob(".*.tmp"))
