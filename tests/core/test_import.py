"""Import: folder of classes and manifests, the bad-input corpus, re-import, the CLI contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from mmrl_desktop.core.data.importer import ImportCancelled, import_source, scan_source
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tasks import TaskState
from tests.core.badcorpus import (
    UNICODE_STEM,
    build_folder_corpus,
    build_manifest_corpus,
    png_bytes,
    wav_bytes,
)

REPO = Path(__file__).resolve().parents[2]
PATIENT_KEYS = {"PatientName", "PatientID", "PatientBirthDate", "patient_name", "patient_id"}


def _check_corpus(corpus, result, project: Project) -> None:
    skipped = {s.path: s.reason for s in result.skipped}
    for rel, fragment in corpus.bad.items():
        assert rel in skipped, f"{rel} was not reported (skipped: {sorted(skipped)})"
        assert fragment.lower() in skipped[rel].lower(), (rel, skipped[rel])
    assert set(skipped) == set(corpus.bad), set(skipped) ^ set(corpus.bad)
    for s in result.skipped:
        assert s.reason and "Traceback" not in s.reason and len(s.reason) < 250
        assert not os.path.isabs(s.path) or s.path == "/etc/hostname"
    with project.open_store() as store:
        items = {it.item_id: it for it in store.items()}
    assert set(items) == corpus.good_ids
    assert result.items == len(corpus.good_ids)
    for item_id, label in corpus.labels.items():
        it = items[item_id]
        assert it.labels == ({DEFAULT_TASK: label} if label else {})
        assert it.split == "pool" if not label else it.split in {"pool", "holdout"}
        for p in (it.image, it.audio, it.text):
            if p:
                assert os.path.isabs(p) and os.path.isfile(p), p
                assert Path(p).resolve() == Path(p)


def test_folder_corpus_every_bad_file_reported_every_good_file_imported(tmp_path):
    corpus = build_folder_corpus(tmp_path)
    project = Project.create(tmp_path / "proj")
    result = import_source(corpus.root, project)
    _check_corpus(corpus, result, project)
    assert result.classes == ["abnormal", "normal"]
    with project.open_store() as store:
        case1 = store.item("normal/case1")
        assert {m.value for m in case1.modalities} == {"image", "audio", "text"}
        mixed = store.item("abnormal/mixed")  # its broken WAV is reported, the PNG kept
        assert mixed.image and mixed.audio is None
        ct = store.item("normal/ct")
        assert ct.info["modality"] == "CT" and ct.info["frames"] == 1
        assert ct.info["window_presets"]["lung"] == [-600.0, 1500.0]
        assert not PATIENT_KEYS & set(ct.info)
        assert "CompressedSamples" not in json.dumps(ct.info)  # CT_small's patient name
        mr = store.item("normal/mr_no_extension")
        assert mr.info["modality"] == "MR" and mr.info["window_presets"]["file"] == [600, 1600]
        assert "lung" not in mr.info["window_presets"]
        uni = store.item(f"normal/{UNICODE_STEM}")
        assert uni.image.endswith(f"{UNICODE_STEM}.png") and uni.text
    reopened = Project.open(project.root)
    assert reopened.task(DEFAULT_TASK).labels == ["abnormal", "normal"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_manifest_corpus(tmp_path, fmt):
    corpus = build_manifest_corpus(tmp_path, fmt)
    project = Project.create(tmp_path / "proj")
    result = import_source(corpus.root, project)
    _check_corpus(corpus, result, project)
    assert result.classes == ["cat", "dog"]
    assert result.unlabelled == 1
    with project.open_store() as store:
        m1 = store.item("m1")
        assert m1.image.endswith("a.png") and m1.text_inline == "a cat sitting on a mat"
        assert store.item("m2").text.endswith("b.txt")
        m7 = store.item("m7")  # truncated image reported, inline text kept
        assert m7.image is None and m7.text_inline.startswith("the picture")
        m12 = store.item("m12")
        assert m12.image.endswith("a.png") and m12.audio is None and m12.text is None
        assert store.item("m10").info["modality"] == "CT"


def test_manifest_file_as_source_and_header_errors(tmp_path):
    corpus = build_manifest_corpus(tmp_path)
    scan = scan_source(corpus.root / "items.csv")
    assert {it.item_id for it, _ in scan.items} == corpus.good_ids
    bad = tmp_path / "bad" / "items.csv"
    bad.parent.mkdir()
    bad.write_text("name,image\nx,a.png\n")
    with pytest.raises(UserError, match="no 'id' column"):
        scan_source(bad)
    bad.write_bytes(b"id,image\n\xff\xfe,a.png\n")
    with pytest.raises(UserError, match="not UTF-8"):
        scan_source(bad)
    with pytest.raises(UserError, match="does not exist"):
        scan_source(tmp_path / "nowhere")


def _two_classes(src: Path, name: str = "x.png", seed: int = 0) -> Path:
    """SOURCE/a/NAME and SOURCE/b/NAME, one small PNG each."""
    for label in ("a", "b"):
        (src / label).mkdir(parents=True)
        (src / label / name).write_bytes(png_bytes(seed=seed))
    return src


def test_reimport_adds_nothing_twice_and_new_files_are_added(tmp_path):
    src = _two_classes(tmp_path / "src")
    project = Project.create(tmp_path / "proj")
    first = import_source(src, project)
    assert (first.items, first.imported) == (2, 2)
    second = import_source(src, Project.open(project.root))
    assert (second.items, second.imported) == (2, 0)
    (src / "c").mkdir()
    (src / "c" / "y.wav").write_bytes(wav_bytes())
    third = import_source(src, Project.open(project.root))
    assert (third.items, third.imported) == (3, 1)
    reopened = Project.open(project.root)
    assert reopened.task(DEFAULT_TASK).labels == ["a", "b", "c"]
    with reopened.open_store() as store:
        assert store.item_count() == 3


def test_single_class_keeps_the_project_openable(tmp_path):
    src = tmp_path / "src" / "only"
    src.mkdir(parents=True)
    (src / "x.png").write_bytes(png_bytes())
    project = Project.create(tmp_path / "proj")
    result = import_source(src.parent, project)
    assert result.items == 1 and result.warnings
    Project.open(project.root)  # a one-label task would make this raise


def test_import_decodes_no_pixels(tmp_path, monkeypatch):
    """Indexing reads headers only: Pillow's decoder and pydicom's pixel_array are never used."""
    import pydicom
    from PIL import ImageFile

    def boom(*a, **k):
        raise AssertionError("pixels decoded during import")

    monkeypatch.setattr(ImageFile.ImageFile, "load", boom)
    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(boom))
    corpus = build_folder_corpus(tmp_path)
    result = import_source(corpus.root, Project.create(tmp_path / "proj"))
    assert result.items == len(corpus.good_ids)


def test_progress_and_cancel_through_the_core_task_state(tmp_path):
    """import_source takes the core's TaskState (Orange's ``run_mds(…, state)``): its progress
    hears every file checked, its cancel() stops the import before anything is written."""
    corpus = build_folder_corpus(tmp_path)
    seen = []

    def cancel_at_first(done, total):
        seen.append(done)
        state.cancel()

    state = TaskState(cancel_at_first, interval=0.0)
    project = Project.create(tmp_path / "proj")
    with pytest.raises(ImportCancelled):
        import_source(corpus.root, project, state=state)
    assert seen == [1]
    with project.open_store() as store:
        assert store.item_count() == 0
    steps = []
    import_source(corpus.root, project, state=TaskState(lambda d, t: steps.append((d, t)), 0.0))
    assert [d for d, _ in steps] == list(range(1, len(steps) + 1))
    assert steps[-1][0] == steps[-1][1]


def test_demo_ct_project_is_refused_by_name(tmp_path, monkeypatch):
    from mmrl_desktop.commands import import_cmd

    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "x.png").write_bytes(png_bytes())
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="demo project is protected"):
        import_cmd.run(SimpleNamespace(source=str(src.parent), project="demo-ct", json=True))
    assert not (tmp_path / "demo-ct").exists()


def test_demo_project_is_refused(tmp_path):
    from mmrl_desktop.commands import import_cmd

    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "x.png").write_bytes(png_bytes())
    with pytest.raises(UserError, match="demo project is protected"):
        import_cmd.run(SimpleNamespace(source=str(src.parent), project="demo", json=True))
    project = Project.create(tmp_path / "p")
    project.read_only = True
    with pytest.raises(UserError, match="protected"):
        import_source(src.parent, project)


def test_human_summary(tmp_path, capsys):
    from mmrl_desktop.commands import import_cmd

    corpus = build_folder_corpus(tmp_path)
    rc = import_cmd.run(
        SimpleNamespace(source=str(corpus.root), project=str(tmp_path / "p"), json=False)
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert f"Imported {len(corpus.good_ids)} new items" in out
    assert "normal/bad_truncated.png: image is truncated" in out


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run(
        [sys.executable, "-m", "mmrl_desktop", "import", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO),
        env=env,
    )


def test_cli_json_contract_and_exit_codes(tmp_path):
    corpus = build_folder_corpus(tmp_path)
    proj = tmp_path / "proj"
    done = _cli(str(corpus.root), "--project", str(proj), "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data)[:5] == ["project", "items", "imported", "classes", "skipped"]
    assert data["holdout"].keys() == {"abnormal", "normal"} and data["holdout_fraction"] == 0.2
    assert data["items"] == data["imported"] == len(corpus.good_ids)
    assert data["classes"] == ["abnormal", "normal"]
    assert {s["path"] for s in data["skipped"]} == set(corpus.bad)
    assert all(set(s) == {"path", "reason"} for s in data["skipped"])
    assert Path(data["project"]) == proj.resolve()

    nothing = tmp_path / "nothing" / "cls"
    nothing.mkdir(parents=True)
    (nothing / "broken.png").write_bytes(b"not a png")
    done = _cli(str(nothing.parent), "--project", str(tmp_path / "p2"), "--json")
    assert done.returncode == 2
    assert json.loads(done.stdout)["skipped"][0]["reason"].startswith("not an image")
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "p2").exists()  # no empty project left behind


def test_a_second_batch_with_the_same_file_names_is_imported(tmp_path):
    """A scanner that numbers each batch from 0: the second batch's ``a/0`` holds other files
    than the project's ``a/0``, so it becomes ``a/0~2``, not silently "already there"; importing
    either batch again adds nothing."""
    batches = [_two_classes(tmp_path / f"batch{n}", "0.png", seed=n) for n in (1, 2)]
    project = Project.create(tmp_path / "proj")
    assert import_source(batches[0], project).imported == 2
    second = import_source(batches[1], Project.open(project.root))
    assert (second.items, second.imported) == (2, 2)
    assert any("~2" in w for w in second.warnings) and second.to_json()["notes"]
    again = import_source(batches[1], Project.open(project.root))
    assert (again.items, again.imported, again.warnings) == (2, 0, [])
    with Project.open(project.root).open_store() as store:
        items = {it.item_id: it for it in store.items()}
    assert set(items) == {"a/0", "b/0", "a/0~2", "b/0~2"}
    assert items["a/0~2"].image.startswith(str(batches[1].resolve()))
    assert items["a/0~2"].labels == {DEFAULT_TASK: "a"}


def test_a_moved_folder_imported_again_is_pointed_to_relocate(tmp_path):
    src = _two_classes(tmp_path / "cases", "0.png")
    project = Project.create(tmp_path / "proj")
    import_source(src, project)
    moved = src.rename(tmp_path / "moved")
    result = import_source(moved, Project.open(project.root))
    assert (result.items, result.imported) == (2, 0)
    assert any("relocate" in w for w in result.warnings)


def test_a_corrupt_file_does_not_push_out_a_good_one_of_the_same_stem(tmp_path):
    src = _two_classes(tmp_path / "src", "1.png")
    (src / "a" / "1.jpg").write_bytes(b"garbage")  # first by name, unreadable
    (src / "b" / "1.tif").write_bytes(png_bytes())  # two readable: the first by name wins
    project = Project.create(tmp_path / "proj")
    result = import_source(src, project)
    skipped = {s.path: s.reason for s in result.skipped}
    assert "a/1.png" not in skipped and "not an image" in skipped["a/1.jpg"].lower()
    assert "same name (1.png)" in skipped["b/1.tif"]
    with project.open_store() as store:
        items = {it.item_id: it for it in store.items()}
    assert items["a/1"].image.endswith("1.png") and items["b/1"].image.endswith("1.png")


@pytest.mark.skipif(sys.platform != "linux", reason="bytes file names: Linux file systems")
def test_a_file_name_that_is_not_utf8_is_skipped_with_a_reason(tmp_path, capsys):
    from mmrl_desktop.__main__ import main

    src = tmp_path / "src"
    for label in ("a", "b"):
        (src / label).mkdir(parents=True)
        (src / label / "ok.png").write_bytes(png_bytes())
    with open(os.fsencode(src / "a") + b"/caf\xe9.png", "wb") as fh:
        fh.write(png_bytes())
    os.mkdir(os.fsencode(src) + b"/\xffclass")
    assert main(["import", str(src), "--project", str(tmp_path / "proj"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["imported"] == 2 and out["classes"] == ["a", "b"]
    reasons = {s["path"]: s["reason"] for s in out["skipped"]}
    assert "not valid text" in reasons["a/caf\\xe9.png"] and "\\xffclass" in reasons


def test_a_jsonl_cell_that_is_a_list_an_object_or_true_is_skipped(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.png").write_bytes(png_bytes())
    rows = [
        {"id": 17, "image": "a.png", "label": "x"},  # a number id: fine
        {"id": "b", "image": "a.png", "label": ["x", "y"]},
        {"id": "c", "image": "a.png", "label": True},
        {"id": {"nested": 1}, "image": "a.png", "label": "y"},
        {"id": "e", "image": "a.png", "label": "y"},
    ]
    (tmp_path / "m" / "items.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    project = Project.create(tmp_path / "proj")
    result = import_source(tmp_path / "m", project)
    reasons = [s.reason for s in result.skipped]
    assert result.items == 2 and result.classes == ["x", "y"]
    assert reasons == [
        "label is a list, not text or a number",
        "label is a true/false, not text or a number",
        "id is a dict, not text or a number",
    ]
