"""A volume: a CT/MR series, a multi-frame DICOM or a NIfTI file, as one 3-D array of stored values.

Coordinates (ADR 0015):

- ``voxels`` has shape ``(slices, rows, cols)``, indexed ``(k, j, i)``, in the file's own storage
  order: for a DICOM series ``k`` runs along the slice normal (``ImagePositionPatient`` · the
  normal of ``ImageOrientationPatient``), ``j`` down the rows and ``i`` along a row, as written.
  A NIfTI array ``(x, y, z)`` is kept as the transposed view ``(z, y, x)``.
- ``affine`` maps a voxel index ``(k, j, i, 1)`` to patient coordinates in millimetres, in DICOM's
  **LPS** frame (+x towards the patient's left, +y posterior, +z superior). NIfTI's affine, which
  is in RAS (+x right, +y anterior, +z superior), is converted: ``LPS = diag(-1, -1, 1) · RAS``.
- ``spacing`` is ``(slice, row, col)`` in mm, i.e. the step along ``k``, ``j`` and ``i``.
- Values: ``HU = stored × slope + intercept`` (the modality LUT; for CT, Hounsfield units).

Display (``plane_slice``): whatever the storage order, each plane is shown in the **radiological
convention**, from the affine (the voxel axis nearest each patient axis):

- axial: rows anterior → posterior (top → bottom), columns patient right → left (the patient's
  right on the viewer's left); index 0 is the most inferior slice.
- coronal: rows superior → inferior, columns patient right → left; index 0 is the most anterior.
- sagittal: rows superior → inferior, columns anterior → posterior; index 0 is the patient's right.

``read.read_volume`` opens a path. Reading is lazy: a NIfTI file through nibabel's array proxy (one plane read at a time), a DICOM
series one file per slice on demand with a small LRU (``dicom_series.LazySeries``); ``voxels`` is
then an array-like (``shape``, ``dtype``, ``__getitem__``, ``__array__``) rather than an ndarray.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

PLANES = ("axial", "coronal", "sagittal")
# per plane: the patient axis (0 x, 1 y, 2 z, LPS) normal to it, then the patient axis and the
# direction (+1: increasing LPS coordinate) of the displayed rows and of the displayed columns
_DISPLAY = {
    "axial": (2, (1, +1), (0, +1)),
    "coronal": (1, (2, -1), (0, +1)),
    "sagittal": (0, (2, -1), (1, +1)),
}
LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass
class Volume:
    """One volume (see the module's docstring for the coordinate conventions).

    voxels:    ``(slices, rows, cols)`` stored values (ndarray, memmap or a lazy array-like).
    spacing:   ``(slice, row, col)`` mm.
    affine:    4×4, voxel ``(k, j, i)`` → patient LPS mm.
    slope, intercept: ``HU = stored × slope + intercept``.
    window:    ``(centre, width)`` from the file, or None.
    tags:      display-safe tags (modality, body part, series description, …); never patient
               identifiers.
    source:    the path it was read from (a folder, a file).
    """

    voxels: object
    spacing: tuple[float, float, float]
    affine: np.ndarray
    slope: float = 1.0
    intercept: float = 0.0
    window: tuple[float, float] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    source: str = ""

    # ---------------------------------------------------------------- geometry
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.voxels.shape)  # type: ignore[attr-defined]

    def axis_map(self) -> list[tuple[int, int]]:
        """For each patient axis x, y, z (LPS): (the voxel axis 0 k / 1 j / 2 i nearest to it, +1
        when that voxel index increases along the patient axis, else -1)."""
        return axis_map(self.affine)

    def _plane(self, plane: str) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
        """(voxel axis, sign) of the plane's normal, of its displayed rows, of its columns."""
        if plane not in _DISPLAY:
            raise ValueError(f"plane must be one of {', '.join(PLANES)}, not {plane!r}")
        amap = self.axis_map()
        normal, (r_ax, r_dir), (c_ax, c_dir) = _DISPLAY[plane]
        n_ax, n_sign = amap[normal]
        row_ax, row_sign = amap[r_ax]
        col_ax, col_sign = amap[c_ax]
        return (n_ax, n_sign), (row_ax, row_sign * r_dir), (col_ax, col_sign * c_dir)

    def n_slices(self, plane: str) -> int:
        """How many slices the plane has (0 … n-1 for ``plane_slice``)."""
        (n_ax, _), _, _ = self._plane(plane)
        return self.shape[n_ax]

    def pixel_aspect(self, plane: str) -> float:
        """Physical height / width of one displayed pixel (draw it that much taller than wide)."""
        _, (row_ax, _), (col_ax, _) = self._plane(plane)
        return float(self.spacing[row_ax]) / float(self.spacing[col_ax])

    def voxel_of(self, plane: str, index: int, row: int, col: int) -> tuple[int, int, int]:
        """The voxel ``(k, j, i)`` shown at (row, col) of slice ``index`` of ``plane``."""
        (n_ax, n_sign), (row_ax, row_sign), (col_ax, col_sign) = self._plane(plane)
        shape = self.shape
        vox = [0, 0, 0]
        for ax, sign, value in (
            (n_ax, n_sign, index),
            (row_ax, row_sign, row),
            (col_ax, col_sign, col),
        ):
            if not 0 <= value < shape[ax]:
                raise IndexError(f"{value} is outside 0…{shape[ax] - 1}")
            vox[ax] = value if sign > 0 else shape[ax] - 1 - value
        return vox[0], vox[1], vox[2]

    # ---------------------------------------------------------------- values
    def to_hu(self, stored: np.ndarray) -> np.ndarray:
        out = np.array(stored, dtype=np.float32)  # a copy: scaled in place
        if self.slope != 1.0:
            out *= np.float32(self.slope)
        if self.intercept != 0.0:
            out += np.float32(self.intercept)
        return out

    def plane_slice(self, plane: str, index: int) -> np.ndarray:
        """Slice ``index`` of ``plane`` as float32 (HU for CT), rows × cols as displayed
        (radiological convention, see the module's docstring). Reads only that plane (an axial
        slice of a DICOM series: one file)."""
        (n_ax, n_sign), (row_ax, row_sign), (col_ax, col_sign) = self._plane(plane)
        n = self.shape[n_ax]
        if not 0 <= index < n:
            raise IndexError(f"slice {index} is outside 0…{n - 1} of the {plane} plane")
        k = index if n_sign > 0 else n - 1 - index
        key: list = [slice(None)] * 3
        key[n_ax] = k
        arr = np.asarray(self.voxels[tuple(key)])  # type: ignore[index]
        rest = [a for a in range(3) if a != n_ax]  # the two axes left, in voxel order
        if rest.index(row_ax) == 1:
            arr = arr.T
        if row_sign < 0:
            arr = arr[::-1]
        if col_sign < 0:
            arr = arr[:, ::-1]
        return np.ascontiguousarray(self.to_hu(arr))

    def value_at(
        self, plane: str, index: int, row: int, col: int
    ) -> tuple[float, tuple[int, int, int]]:
        """The value (HU for CT) under a displayed pixel and its voxel ``(k, j, i)``."""
        k, j, i = self.voxel_of(plane, index, row, col)
        stored = np.asarray(self.voxels[k])[j, i]  # type: ignore[index]
        return float(self.to_hu(np.asarray(stored))), (k, j, i)

    def array(self) -> np.ndarray:
        """All stored values as one ndarray (reads the whole volume)."""
        return np.asarray(self.voxels)

    def hu(self) -> np.ndarray:
        """All values as float32 HU (reads the whole volume)."""
        return self.to_hu(self.array())


def axis_map(affine: np.ndarray) -> list[tuple[int, int]]:
    """For each LPS patient axis: (nearest voxel axis, direction sign). A one-to-one assignment that
    maximises the summed |cosine| (oblique volumes go to their nearest orthogonal planes)."""
    import itertools

    cols = np.asarray(affine, dtype=np.float64)[:3, :3]
    norms = np.linalg.norm(cols, axis=0)
    cos = cols / np.where(norms > 0, norms, 1.0)
    best, best_score = (0, 1, 2), -1.0
    for perm in itertools.permutations(range(3)):  # perm[p] = voxel axis for patient axis p
        score = sum(abs(cos[p, perm[p]]) for p in range(3))
        if score > best_score + 1e-9:
            best, best_score = perm, score
    return [(best[p], 1 if cos[p, best[p]] >= 0 else -1) for p in range(3)]


def is_nifti_name(name: str) -> bool:
    low = os.fspath(name).lower()
    return low.endswith(".nii") or low.endswith(".nii.gz")
