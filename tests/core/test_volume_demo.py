"""The CT demo (``--project demo-ct``): chest phantoms with and without a nodule, as DICOM series
and NIfTI; the digits demo no longer asks a CT slice which digit it is."""

from __future__ import annotations

import filecmp

import numpy as np

from mmrl_desktop.core.data.demo import (
    DEMO_CT_NAME,
    DEMO_CT_TASK,
    create_demo,
    is_demo,
    resolve_project,
)
from mmrl_desktop.core.data.volumes import is_volume, volume_of_item
from mmrl_desktop.core.data.volumes.demo_data import CASES, write_ct_demo_source


def test_demo_ct_is_phantom_volumes_of_two_classes_made_the_same_every_time(tmp_path):
    project = resolve_project(DEMO_CT_NAME)  # created in the user-data folder on first use
    assert is_demo(project.root) and resolve_project(DEMO_CT_NAME).root == project.root
    assert [t.name for t in project.tasks] == [DEMO_CT_TASK]
    assert sorted(project.tasks[0].labels) == ["nodule", "normal"]
    with project.open_store() as store:
        items = store.items()
    vols = [it for it in items if is_volume(it)]
    assert len(vols) == CASES and len(items) == CASES + 1  # and the real CT slice, unlabelled
    formats = {(it.info["volume"]["format"], it.labels[DEMO_CT_TASK]) for it in vols}
    assert formats == {
        (f, lab) for f in ("dicom-series", "nifti") for lab in ("nodule", "normal")
    }  # both formats in both classes: the format does not give the class away
    held = [it for it in vols if it.split == "holdout"]
    assert 0 < len(held) < len(vols)
    vol = volume_of_item(vols[0])
    assert vol.shape == (32, 64, 64) and vol.n_slices("coronal") == 64
    assert -1100 < float(vol.plane_slice("axial", 16).min()) < -900  # air, in HU
    # deterministic: written again, the same bytes and voxels
    data = project.root.with_name(project.root.name + "-data")
    write_ct_demo_source(tmp_path / "again")
    one = "series/chest00/slice_010.dcm"
    assert filecmp.cmp(data / one, tmp_path / "again" / one, shallow=False)
    import nibabel as nib

    a = nib.load(data / "nifti" / "chest01.nii.gz").get_fdata()
    np.testing.assert_array_equal(
        a, nib.load(tmp_path / "again" / "nifti" / "chest01.nii.gz").get_fdata()
    )


def test_the_digits_demo_asks_only_digits(tmp_path):
    project = create_demo(tmp_path / "demo")
    with project.open_store() as store:
        items = store.items()
    assert all(it.labels for it in items)  # the unlabelled CT slice moved to the CT demo
    assert not any((it.image or "").endswith(".dcm") for it in items)
