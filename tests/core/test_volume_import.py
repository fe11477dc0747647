"""Import of volumes: one item per DICOM series (any file names and order, any depth under a class
folder), multi-frame DICOM and NIfTI; what does not belong is reported with a reason and nothing
good is lost. Series written with pydicom, NIfTI with nibabel, 12 × 32 × 32."""

from __future__ import annotations

import random

import numpy as np
import pydicom
import pytest

from mmrl_desktop.core.data import importer
from mmrl_desktop.core.data.importer import import_source, scan_source
from mmrl_desktop.core.data.loaders import base
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.data.volumes import is_volume, volume_of_item
from mmrl_desktop.core.data.volumes.synthetic import write_multiframe, write_nifti, write_series

SHAPE = (12, 32, 32)


def _stored(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2000, SHAPE).astype(np.int16)


def _shuffled_names(n: int, seed: int) -> list[str]:
    names = [f"{random.Random(seed * 100 + k).getrandbits(32):08x}.dcm" for k in range(n)]
    return names


def _by_id(scan) -> dict:
    return {it.item_id: it for it, _ in scan.items}


def _reasons(scan) -> dict[str, str]:
    return {s.path: s.reason for s in scan.skipped}


def test_a_series_is_one_item_sorted_along_the_normal(tmp_path):
    stored = _stored(0)
    names = _shuffled_names(12, 0)
    write_series(tmp_path / "src" / "abnormal" / "patient1" / "ct", stored, names=names)
    write_series(tmp_path / "src" / "normal" / "study2", _stored(1))
    scan = scan_source(tmp_path / "src")
    items = _by_id(scan)
    assert set(items) == {"abnormal/patient1/ct", "normal/study2"}, scan.skipped
    assert not scan.skipped and not scan.notes
    item = items["abnormal/patient1/ct"]
    assert is_volume(item) and item.info["modality"] == "CT"
    assert item.info["volume"]["shape"] == list(SHAPE)
    assert "lung" in item.info["window_presets"] and item.info["window_presets"]["file"]
    vol = volume_of_item(item)
    np.testing.assert_array_equal(vol.array(), stored)  # the order of the slices, not the names
    assert "Phantom" not in repr(item.info)


def test_import_json_counts_volumes(tmp_path):
    write_series(tmp_path / "src" / "a" / "s1", _stored(2))
    write_nifti(tmp_path / "src" / "b" / "v.nii.gz", _stored(3).astype(np.float32))
    (tmp_path / "src" / "b" / "photo.png").write_bytes(_png())
    project = Project.create(tmp_path / "proj")
    result = import_source(tmp_path / "src", project, holdout=0.0).to_json()
    assert result["items"] == 3 and result["volumes"] == 2
    assert result["classes"] == ["a", "b"]
    with project.open_store() as store:
        vols = [it for it in store.items() if is_volume(it)]
    assert len(vols) == 2 and volume_of_item(vols[0]).shape == SHAPE


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8, 8), 128).save(buf, format="PNG")
    return buf.getvalue()


def test_two_series_in_one_folder_are_two_items_reported(tmp_path):
    folder = tmp_path / "src" / "a" / "study"
    write_series(folder, _stored(4), names=[f"x{k}.dcm" for k in range(12)])
    write_series(folder, _stored(5), origin=(0, 0, 500), names=[f"y{k}.dcm" for k in range(12)])
    scan = scan_source(tmp_path / "src")
    assert len(scan.items) == 2 and all(is_volume(it) for it, _ in scan.items)
    assert len({it.item_id for it, _ in scan.items}) == 2
    assert any("holds 2 series" in n for n in scan.notes)


def test_slices_that_do_not_belong_are_reported_and_the_rest_kept(tmp_path):
    folder = tmp_path / "src" / "a" / "study"
    paths = write_series(folder, _stored(6), series_uid="1.2.3.4")
    # a slice without pixel data
    ds = pydicom.dcmread(paths[3])
    del ds.PixelData
    ds.save_as(folder / "nopixels.dcm")
    # a slice of another orientation, one of another size, one at a taken position
    write_series(
        folder,
        _stored(7)[:1],
        orientation=(1, 0, 0, 0, 0, -1),
        series_uid="1.2.3.4",
        origin=(0, 0, 100),
        names=["tilted.dcm"],
    )
    write_series(
        folder,
        _stored(7)[:1, :16, :16],
        series_uid="1.2.3.4",
        origin=(0, 0, 200),
        names=["small.dcm"],
    )
    write_series(
        folder, _stored(8)[:1], series_uid="1.2.3.4", origin=(0, 0, 4.0), names=["zzz_dup.dcm"]
    )
    scan = scan_source(tmp_path / "src")
    reasons = _reasons(scan)
    assert "pixel data" in reasons["a/study/nopixels.dcm"]
    assert "another orientation" in reasons["a/study/tilted.dcm"]
    assert "size is 16×16" in reasons["a/study/small.dcm"]
    dups = [p for p in ("a/study/zzz_dup.dcm", "a/study/slice_002.dcm") if p in reasons]
    assert len(dups) == 1 and "duplicate slice position" in reasons[dups[0]]
    ((item, label),) = scan.items
    assert label == "a" and item.info["volume"]["shape"] == list(SHAPE)
    kept = volume_of_item(item).array()
    np.testing.assert_array_equal(np.delete(kept, 2, axis=0), np.delete(_stored(6), 2, axis=0))


def test_a_gap_in_the_spacing_is_reported_and_the_slices_kept(tmp_path):
    folder = tmp_path / "src" / "a" / "study"
    stored = _stored(9)
    paths = write_series(folder, stored)
    (folder / "slice_005.dcm").unlink()  # 2 mm steps, one 4 mm gap
    scan = scan_source(tmp_path / "src")
    ((item, _),) = scan.items
    assert item.info["volume"]["shape"] == [11, 32, 32]
    assert item.info["volume"]["spacing"][0] == pytest.approx(2.0)
    assert any("gap" in n and "4.00 mm" in n for n in scan.notes), scan.notes
    assert len(paths) == 12


def test_multiframe_dicom_is_a_volume_item_in_a_class_folder_or_below(tmp_path):
    write_multiframe(tmp_path / "src" / "a" / "mf.dcm", _stored(10))
    write_multiframe(tmp_path / "src" / "b" / "study" / "mf2.dcm", _stored(11))
    scan = scan_source(tmp_path / "src")
    items = _by_id(scan)
    assert set(items) == {"a/mf", "b/study/mf2"}, scan.skipped
    for item in items.values():
        assert is_volume(item) and item.info["volume"]["format"] == "dicom-multiframe"
    np.testing.assert_array_equal(volume_of_item(items["a/mf"]).array(), _stored(10))


def test_nifti_items_and_a_nifti_whose_header_and_data_disagree(tmp_path):
    src = tmp_path / "src" / "a"
    write_nifti(src / "ok.nii", _stored(12).astype(np.int16))
    write_nifti(src / "ok2.nii.gz", _stored(13).astype(np.int16))
    bad = write_nifti(src / "cut.nii", _stored(14).astype(np.int16))
    from pathlib import Path

    data = Path(bad).read_bytes()
    Path(bad).write_bytes(data[: len(data) // 2])
    scan = scan_source(tmp_path / "src")
    assert set(_by_id(scan)) == {"a/ok", "a/ok2"}
    assert "header and data disagree" in _reasons(scan)["a/cut.nii"]


def test_a_volume_over_the_size_guard_is_refused_with_a_reason(tmp_path, monkeypatch):
    write_series(tmp_path / "src" / "a" / "big", _stored(15))
    write_series(tmp_path / "src" / "a" / "small", _stored(16)[:2])
    monkeypatch.setattr(base, "MAX_VOLUME_PIXELS", 32 * 32 * 4)  # the guard, made small
    scan = scan_source(tmp_path / "src")
    assert set(_by_id(scan)) == {"a/small"}
    assert "too large" in _reasons(scan)["a/big"]


def test_a_lone_slice_in_a_folder_stays_an_image_and_strays_are_reported(tmp_path):
    write_series(tmp_path / "src" / "a" / "one", _stored(17)[:1])
    (tmp_path / "src" / "a" / "one" / "notes.docx").write_bytes(b"PK")
    (tmp_path / "src" / "a" / "empty").mkdir()
    scan = scan_source(tmp_path / "src")
    ((item, _),) = scan.items
    assert not is_volume(item) and item.image.endswith("slice_000.dcm")
    reasons = _reasons(scan)
    assert "neither" in reasons["a/one/notes.docx"]
    assert "folders inside a class folder" in reasons["a/empty"]


def test_a_manifest_image_may_name_a_series_folder_or_a_nifti(tmp_path):
    src = tmp_path / "src"
    write_series(src / "cases" / "c1", _stored(18), names=_shuffled_names(12, 3))
    write_nifti(src / "cases" / "c2.nii.gz", _stored(19).astype(np.float32))
    (src / "items.csv").write_text(
        "id,image,audio,text,label\nc1,cases/c1,,,yes\nc2,cases/c2.nii.gz,,,no\n"
        "c3,cases/missing,,,no\n"
    )
    scan = scan_source(src)
    items = _by_id(scan)
    assert set(items) == {"c1", "c2"} and all(is_volume(i) for i in items.values())
    np.testing.assert_array_equal(volume_of_item(items["c1"]).array(), _stored(18))
    assert "not found" in _reasons(scan)["cases/missing"]


def test_cancel_stops_a_volume_scan(tmp_path):
    from mmrl_desktop.core.tasks import TaskState

    write_series(tmp_path / "src" / "a" / "s", _stored(20))
    state = TaskState()
    state.cancel()
    with pytest.raises(importer.ImportCancelled):
        scan_source(tmp_path / "src", state)


def test_the_import_command_counts_volumes_and_says_the_notes(tmp_path, capsys):
    import json

    from mmrl_desktop.cli import main

    folder = tmp_path / "src" / "a" / "study"
    write_series(folder, _stored(21))
    (folder / "slice_004.dcm").unlink()
    write_nifti(tmp_path / "src" / "b" / "v.nii.gz", _stored(22).astype(np.float32))
    assert main(["import", str(tmp_path / "src"), "--project", str(tmp_path / "p"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["volumes"] == 2 and out["items"] == 2
    assert any("gap" in n for n in out["volume_notes"])
    assert main(["import", str(tmp_path / "src"), "--project", str(tmp_path / "q")]) == 0
    assert "Note: a/study: gap in the slice spacing" in capsys.readouterr().out
