"""The CT demo's data: chest-CT phantoms with and without a lung nodule, as DICOM series and NIfTI.

``write_ct_demo_source(folder)`` writes ``CASES`` phantoms (``phantom.chest_phantom``, 64 × 64 ×
32), half with a nodule; a quarter of the cases of each class as a DICOM series (one file per
slice), the others as ``.nii.gz`` (so the format says nothing about the class), plus the real CT slice the digits demo
used to carry (``resources/demo/dicom/ct_demo.dcm``, unlabelled), and an ``items.csv`` naming them.
Deterministic (fixed seeds and UIDs).
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import numpy as np

CASES = 40
SEED = 15
TASK_LABELS = ("nodule", "normal")
MANIFEST = "items.csv"


def _uid(n: int) -> str:
    """A fixed, valid UID per case (2.25: a UUID-derived root; digits only)."""
    return f"2.25.{1500000000 + SEED * 1000 + n}"


def write_ct_demo_source(
    folder: str | os.PathLike, ct_slice: str | os.PathLike | None = None
) -> Path:
    """Write the demo's phantoms and manifest under ``folder`` (replaced); returns the manifest."""
    from mmrl_desktop.core.data.volumes.phantom import INTERCEPT, SPACING, chest_phantom
    from mmrl_desktop.core.data.volumes.synthetic import write_nifti, write_series

    folder = Path(folder)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rows = []
    for n in range(CASES):
        nodule = (n // 2) % 2 == 0  # nodule, nodule, normal, normal, …: both formats per class
        label = TASK_LABELS[0] if nodule else TASK_LABELS[1]
        stored = chest_phantom(np.random.default_rng([SEED, n]), nodule)
        name = f"chest{n:02d}"
        if n % 8 in (0, 2):  # a quarter as DICOM series (writing 32 files is the slow part)
            write_series(
                folder / "series" / name,
                stored,
                SPACING,
                series_uid=_uid(n),
                tags={"modality": "CT", "body_part": "CHEST", "series_description": "phantom"},
            )
            image = f"series/{name}"
        else:
            write_nifti(folder / "nifti" / f"{name}.nii.gz", stored + INTERCEPT, SPACING)
            image = f"nifti/{name}.nii.gz"
        rows.append({"id": name, "image": image, "label": label})
    if ct_slice is not None and Path(ct_slice).is_file():
        (folder / "slice").mkdir()
        shutil.copyfile(ct_slice, folder / "slice" / "ct_slice.dcm")
        rows.append({"id": "ct_slice", "image": "slice/ct_slice.dcm", "label": ""})
    with open(folder / MANIFEST, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["id", "image", "audio", "text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return folder / MANIFEST
