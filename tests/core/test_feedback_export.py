"""Feedback export: every column, the retracted flag, CSV round trip, no file paths, CLI."""

import csv
import json

import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tools.feedback_export import COLUMNS, export_feedback, feedback_rows

T0 = 1714555812.345  # 2024-05-01T09:30:12.345Z
CONTRACT = {
    "event_id",
    "item_id",
    "task",
    "shown_label",
    "propensity",
    "reward",
    "corrected_label",
    "annotator",
    "timestamp",
    "model_version",
    "retracted",
}


@pytest.fixture
def project(tmp_path):
    proj = Project.create(tmp_path / "proj", tasks=[Task("finding", ["normal", "abnormal"])])
    img = tmp_path / "src" / "normal" / "case1.png"
    with proj.open_store() as store:
        store.add_items(
            [
                Item("normal/case1", image=str(img), labels={"finding": "normal"}),
                Item("abnormal/case2", image=str(tmp_path / "src/abnormal/case2.dcm")),
            ]
        )
        store.record_feedback(
            "normal/case1",
            "finding",
            "normal",
            0.9,
            1,
            annotator="dr_a",
            model_version=3,
            timestamp=T0,
        )  # 1
        store.record_feedback(
            "abnormal/case2",
            "finding",
            "normal",
            0.25,
            -1,
            corrected_label="abnormal",
            annotator="dr_a",
            model_version=4,
            timestamp=T0 + 1,
        )  # 2, retracted by 4
        store.record_skip("normal/case1", "finding", annotator="dr_b", model_version=4)  # 3
        store.retract(2, annotator="dr_a")  # 4
        store.record_feedback(
            "abnormal/case2",
            "finding",
            "abnormal",
            0.5,
            1,
            annotator="dr_a",
            model_version=5,
            timestamp=T0 + 2,
        )  # 5
    return proj


def _expected():
    return [
        (1, "feedback", "normal/case1", "normal", 0.9, 1, None, "dr_a", 3, False, None, None),
        (2, "feedback", "abnormal/case2", "normal", 0.25, -1, "abnormal", "dr_a", 4, True, 4, None),
        (3, "skip", "normal/case1", None, None, None, None, "dr_b", 4, False, None, None),
        (4, "retraction", "abnormal/case2", None, None, None, None, "dr_a", 0, False, None, 2),
        (5, "feedback", "abnormal/case2", "abnormal", 0.5, 1, None, "dr_a", 5, False, None, None),
    ]


def test_rows_carry_every_column_and_the_retracted_flag(project):
    with project.open_store() as store:
        rows = feedback_rows(store)
    assert set(COLUMNS) >= CONTRACT and all(tuple(r) == COLUMNS for r in rows)
    got = [
        (
            r["event_id"],
            r["kind"],
            r["item_id"],
            r["shown_label"],
            r["propensity"],
            r["reward"],
            r["corrected_label"],
            r["annotator"],
            r["model_version"],
            r["retracted"],
            r["retracted_by"],
            r["retracts"],
        )
        for r in rows
    ]
    assert got == _expected()
    assert all(r["task"] == "finding" for r in rows)
    assert rows[0]["timestamp"] == "2024-05-01T09:30:12.345Z"
    assert rows[0]["timestamp_unix"] == pytest.approx(T0)
    assert rows[2]["timestamp"].endswith("Z")


def test_jsonl_and_csv_files(project, tmp_path):
    with project.open_store() as store:
        rows = feedback_rows(store)
        s1 = export_feedback(store, tmp_path / "out" / "fb.jsonl", "feedback-jsonl")
        s2 = export_feedback(store, tmp_path / "out", "feedback-csv")  # a folder → feedback.csv
        audit = [a for _, a, _ in store.audit_log()]
    assert s1["rows"] == 5 and s1["retracted"] == 1 and s1["skips"] == 1
    assert s2["path"].endswith("feedback.csv") and audit.count("export") == 2

    lines = (tmp_path / "out" / "fb.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == rows

    with open(tmp_path / "out" / "feedback.csv", newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == COLUMNS
        back = list(reader)
    assert len(back) == 5
    for r, b in zip(rows, back, strict=True):
        assert int(b["event_id"]) == r["event_id"] and b["kind"] == r["kind"]
        assert b["item_id"] == r["item_id"] and b["timestamp"] == r["timestamp"]
        assert b["retracted"] == ("true" if r["retracted"] else "false")
        assert (float(b["propensity"]) if b["propensity"] else None) == r["propensity"]
        assert (int(b["reward"]) if b["reward"] else None) == r["reward"]
        assert (b["corrected_label"] or None) == r["corrected_label"]
        assert (int(b["retracts"]) if b["retracts"] else None) == r["retracts"]
        assert float(b["timestamp_unix"]) == r["timestamp_unix"]

    for name in ("fb.jsonl", "feedback.csv"):  # no file paths (patient folders) leak out
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text and ".png" not in text and ".dcm" not in text
    assert not list((tmp_path / "out").glob(".*.tmp"))  # atomic write left no temp file


def test_cli_export_feedback(project, tmp_path, capsys):
    out = tmp_path / "cli.jsonl"
    rc = main(
        ["export", "--project", str(project.root), "--format", "feedback-jsonl", "--out", str(out)]
    )
    assert rc == 0 and len(out.read_text().splitlines()) == 5
    assert "5 events" in capsys.readouterr().out
    rc = main(
        [
            "export",
            "--project",
            str(tmp_path / "nope"),
            "--format",
            "feedback-csv",
            "--out",
            str(tmp_path / "x.csv"),
        ]
    )
    assert rc == 2 and "no project folder" in capsys.readouterr().err


def test_unknown_format(project, tmp_path):
    with project.open_store() as store, pytest.raises(UserError, match="feedback-csv"):
        export_feedback(store, tmp_path / "x", "xml")


def test_export_removes_its_stale_temp_files(project, tmp_path):
    """A kill -9 between the temp file's creation and the rename left ``.feedback.jsonl.*.tmp``
    in the output folder; the next export to that path removes it when it is over a minute old,
    and leaves a fresh one (a live writer's) and other files' temps alone."""
    import os
    import time

    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".feedback.jsonl.k2x9q_7a.tmp"
    fresh = out / ".feedback.jsonl.abcd1234.tmp"
    other = out / ".feedback.jsonl.x.abcd1234.tmp"  # the temp of another target
    mine = out / "notes.feedback.jsonl.abcd1234.tmp"
    old = time.time() - 120
    for f in (stale, fresh, other, mine):
        f.write_bytes(b"half")
    for f in (stale, other, mine):
        os.utime(f, (old, old))
    with project.open_store() as store:
        export_feedback(store, out / "feedback.jsonl", "feedback-jsonl")
    assert not stale.exists()
    assert fresh.exists() and other.exists() and mine.exists()
    assert (out / "feedback.jsonl").is_file()
