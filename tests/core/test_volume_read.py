"""Volumes: a DICOM series, a multi-frame DICOM and a NIfTI file read as one ``Volume``; the planes
shown in the radiological convention; values in HU; lazy reading. Files written with pydicom and
nibabel (``volumes.synthetic``), small (16 × 32 × 24)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from mmrl_desktop.core.data.loaders import UnreadableFile
from mmrl_desktop.core.data.volumes import Volume, read_volume
from mmrl_desktop.core.data.volumes.synthetic import write_multiframe, write_nifti, write_series

SHAPE = (16, 32, 24)  # (k, j, i): slices, rows, cols
SPACING = (2.5, 0.8, 0.7)


def _stored(seed: int = 0) -> np.ndarray:
    """Distinct values per voxel, so any wrong transpose or flip shows."""
    k, j, i = np.indices(SHAPE)
    return (k * 1000 + j * 30 + i).astype(np.int16)


def _names(n: int, seed: int = 0) -> list[str]:
    names = [f"IMG{n - k:05d}_{random.Random(seed + k).randint(0, 999)}.dcm" for k in range(n)]
    random.Random(seed).shuffle(names)  # names say nothing about the order
    return names


def test_series_in_any_file_order_reads_as_one_sorted_volume(tmp_path):
    stored = _stored()
    write_series(tmp_path / "s", stored, SPACING, intercept=-1024.0, names=_names(SHAPE[0]))
    vol = read_volume(tmp_path / "s")
    assert isinstance(vol, Volume)
    assert vol.shape == SHAPE
    assert vol.spacing == pytest.approx(SPACING)
    assert (vol.slope, vol.intercept) == (1.0, -1024.0)
    assert vol.window == (40.0, 400.0)
    np.testing.assert_array_equal(vol.array(), stored)
    assert vol.tags["modality"] == "CT"
    assert not [k for k in vol.tags if "patient" in k.lower()]
    assert "Phantom" not in repr(vol.tags)


def test_planes_in_radiological_convention_and_hu(tmp_path):
    stored = _stored()
    hu = stored.astype(np.float32) - 1024.0
    write_series(tmp_path / "s", stored, SPACING, names=_names(SHAPE[0], 1))
    vol = read_volume(tmp_path / "s")
    # axial rows: anterior → posterior (+y = j), cols: right → left (+x = i); index 0 inferior
    assert vol.n_slices("axial") == 16
    np.testing.assert_array_equal(vol.plane_slice("axial", 3), hu[3])
    # coronal: rows superior → inferior (k reversed), cols right → left
    assert vol.n_slices("coronal") == 32
    np.testing.assert_array_equal(vol.plane_slice("coronal", 5), hu[::-1, 5, :])
    # sagittal: rows superior → inferior, cols anterior → posterior (j); index 0 patient right
    assert vol.n_slices("sagittal") == 24
    np.testing.assert_array_equal(vol.plane_slice("sagittal", 7), hu[::-1, :, 7])
    assert vol.plane_slice("axial", 0).dtype == np.float32
    assert vol.pixel_aspect("axial") == pytest.approx(0.8 / 0.7)
    assert vol.pixel_aspect("coronal") == pytest.approx(2.5 / 0.7)
    assert vol.pixel_aspect("sagittal") == pytest.approx(2.5 / 0.8)
    value, voxel = vol.value_at("coronal", 5, 0, 2)
    assert voxel == (15, 5, 2) and value == hu[15, 5, 2]
    with pytest.raises(IndexError):
        vol.plane_slice("axial", 16)
    with pytest.raises(ValueError):
        vol.n_slices("oblique")


def test_affine_maps_voxels_to_lps_positions(tmp_path):
    origin = (-100.0, -50.0, 30.0)
    write_series(tmp_path / "s", _stored(), SPACING, origin=origin, names=_names(SHAPE[0], 2))
    vol = read_volume(tmp_path / "s")
    np.testing.assert_allclose(vol.affine @ [0, 0, 0, 1], [*origin, 1])
    np.testing.assert_allclose(vol.affine @ [2, 3, 4, 1], [-100 + 4 * 0.7, -50 + 3 * 0.8, 35, 1])


def test_a_sagittal_acquisition_is_still_shown_in_the_three_planes(tmp_path):
    """Slices acquired sagittally (rows along -z, cols along +y): axial is then a reformat."""
    orientation = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # row dir +y (P), column dir -z (down)
    stored = _stored()
    write_series(tmp_path / "s", stored, SPACING, orientation=orientation, names=_names(16, 3))
    vol = read_volume(tmp_path / "s")
    hu = stored.astype(np.float32) - 1024.0
    # normal = row × col = (+y) × (-z) = -x: k runs towards patient right
    assert vol.n_slices("sagittal") == 16 and vol.n_slices("axial") == 32
    np.testing.assert_array_equal(vol.plane_slice("sagittal", 0), hu[15])  # the rightmost
    axial = vol.plane_slice("axial", 0)  # the most inferior row of every slice: j = 31
    assert axial.shape == (24, 16)  # rows: y (i), cols: x right→left (k reversed)
    np.testing.assert_array_equal(axial, hu[::-1, 31, :].T)


def test_nifti_shows_the_same_planes_as_the_dicom_series(tmp_path):
    stored = _stored()
    hu = stored.astype(np.float32) - 1024.0
    write_series(tmp_path / "s", stored, SPACING, names=_names(16, 4))
    write_nifti(tmp_path / "v.nii.gz", hu, SPACING)
    dcm, nii = read_volume(tmp_path / "s"), read_volume(tmp_path / "v.nii.gz")
    np.testing.assert_allclose(nii.affine, dcm.affine, atol=1e-5)
    assert nii.spacing == pytest.approx(SPACING)
    for plane in ("axial", "coronal", "sagittal"):
        assert nii.n_slices(plane) == dcm.n_slices(plane)
        np.testing.assert_array_equal(nii.plane_slice(plane, 2), dcm.plane_slice(plane, 2))


def test_multiframe_dicom_is_a_volume_read_frame_by_frame(tmp_path):
    stored = _stored()
    path = write_multiframe(tmp_path / "mf.dcm", stored, SPACING)
    vol = read_volume(path)
    assert vol.shape == SHAPE and vol.spacing == pytest.approx(SPACING)
    np.testing.assert_array_equal(vol.plane_slice("axial", 4), stored[4] - 1024.0)
    np.testing.assert_array_equal(vol.array(), stored)


def test_series_reads_one_file_per_axial_slice(tmp_path):
    write_series(tmp_path / "s", _stored(), SPACING, names=_names(16, 5))
    vol = read_volume(tmp_path / "s")
    vol.plane_slice("axial", 2)
    assert vol.voxels._full is None and len(vol.voxels._cache) == 1
    vol.plane_slice("coronal", 2)  # a reformat reads the whole series once
    assert vol.voxels._full is not None


def test_not_a_volume_is_one_sentence(tmp_path):
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(UnreadableFile):
        read_volume(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnreadableFile, match="no DICOM"):
        read_volume(tmp_path / "empty")


def test_an_items_volume_opens_from_its_record_without_reading_headers(tmp_path):
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.loaders import SOURCE_ROOT
    from mmrl_desktop.core.data.volumes import is_volume, volume_of_item
    from mmrl_desktop.core.data.volumes.dicom_series import SeriesPlan, plan_series, read_header
    from mmrl_desktop.core.data.volumes.items import volume_record

    paths = write_series(tmp_path / "a" / "s", _stored(), SPACING, names=_names(16, 6))
    plan: SeriesPlan = plan_series([read_header(p) for p in paths])
    record = volume_record("dicom-series", plan, str(tmp_path), plan.files)
    item = Item("a/s", image=plan.files[0], info={SOURCE_ROOT: str(tmp_path), "volume": record})
    assert is_volume(item) and not is_volume(Item("x", image=plan.files[0]))
    vol = volume_of_item(item)
    np.testing.assert_array_equal(vol.plane_slice("axial", 1), _stored()[1] - 1024.0)
    assert vol.window == (40.0, 400.0) and vol.spacing == pytest.approx(SPACING)


def test_plain_slices_are_read_at_their_offset_and_a_changed_file_is_decoded(tmp_path):
    import pydicom

    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.loaders import SOURCE_ROOT
    from mmrl_desktop.core.data.volumes import volume_of_item
    from mmrl_desktop.core.data.volumes.dicom_series import plan_series, read_header
    from mmrl_desktop.core.data.volumes.items import volume_record

    stored = _stored()
    paths = write_series(tmp_path / "s", stored, SPACING, names=_names(16, 7))
    plan = plan_series([read_header(p) for p in paths])
    record = volume_record("dicom-series", plan, str(tmp_path), plan.files)
    assert record["raw_at"] and len(record["raw_at"]) == 16
    item = Item("s", image=plan.files[0], info={SOURCE_ROOT: str(tmp_path), "volume": record})
    np.testing.assert_array_equal(volume_of_item(item).array(), stored)
    ds = pydicom.dcmread(plan.files[5])  # rewritten after import: longer header, new values
    ds.SeriesDescription = "a much longer description that moves the pixel data along"
    ds.PixelData = (stored[5] + 1).astype(np.int16).tobytes()
    ds.save_as(plan.files[5])
    np.testing.assert_array_equal(
        volume_of_item(item).plane_slice("axial", 5), stored[5] + 1 - 1024.0
    )
    ds.BitsStored = 12  # bits that do not fill their words: never read raw
    ds.save_as(plan.files[6])
    assert read_header(plan.files[6]).raw_at is None


def test_nifti_scaling_and_a_4d_file_read_as_its_first_volume(tmp_path):
    import nibabel as nib

    data = _stored().T.astype(np.int16)  # (x, y, z)
    img = nib.Nifti1Image(np.stack([data, data + 1], axis=-1), np.diag([0.7, 0.8, 2.5, 1.0]))
    img.header.set_slope_inter(2.0, -1000.0)
    nib.save(img, tmp_path / "four.nii")
    vol = read_volume(tmp_path / "four.nii")
    assert vol.shape == SHAPE and "first" in vol.tags["frames"]
    np.testing.assert_allclose(vol.array(), _stored() * 2.0 - 1000.0)
    assert vol.spacing == pytest.approx(SPACING)
