"""NIfTI (``.nii``, ``.nii.gz``) through nibabel, lazily, in the volumes' LPS convention.

nibabel's array proxy reads only what is sliced (a plain ``.nii`` is memory-mapped); the array is
indexed ``(x, y, z)`` with an affine to RAS mm. A ``Volume`` shows it as ``(z, y, x)`` =
``(k, j, i)`` (a transposed view, nothing copied) with the affine converted to LPS. Values come
scaled by the header's ``scl_slope`` / ``scl_inter`` (so ``slope`` 1, ``intercept`` 0 then).
The header's description (``descrip``) is never shown: it can hold anything, names included.
"""

from __future__ import annotations

import os
import struct

import numpy as np

from mmrl_desktop.core.data.loaders.base import UnreadableFile, check_pixels, file_size_or_raise
from mmrl_desktop.core.data.volumes.volume import LPS_FROM_RAS, Volume

# (k, j, i, 1) → (x, y, z, 1): the index permutation between our order and NIfTI's
_KJI_TO_XYZ = np.array([[0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


class NiftiVoxels:
    """An array-like ``(z, y, x)`` over nibabel's ``(x, y, z[, t])`` proxy (frame ``t`` of 4-D)."""

    def __init__(self, proxy, frame: int | None, dtype):
        self._proxy = proxy
        self._frame = frame
        shape = tuple(int(s) for s in proxy.shape[:3])
        while len(shape) < 3:
            shape = shape + (1,)
        self._xyz = shape
        self.shape = shape[::-1]
        self.dtype = np.dtype(dtype)
        self.ndim = 3

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, key_xyz: tuple) -> np.ndarray:
        key = tuple(key_xyz[: len(self._proxy.shape)])
        if self._frame is not None:
            key = key + (self._frame,)
        try:
            arr = np.asarray(self._proxy[key])
        except Exception as err:  # a file cut short reads as an error here
            raise UnreadableFile(f"NIfTI data cannot be read ({str(err)[:120]})") from None
        return arr

    def __getitem__(self, key):
        if not isinstance(key, tuple):
            key = (key,)
        key = tuple(key) + (slice(None),) * (3 - len(key))
        if len(self._proxy.shape) < 3:  # a 2-D image: z is a single slice
            zkey = key[0]
            if isinstance(zkey, (int, np.integer)) and zkey not in (0, -1):
                raise IndexError(f"slice {zkey} is outside 0…0")
            arr = self._read((key[2], key[1]))
            arr = arr.T
            return arr if isinstance(zkey, (int, np.integer)) else arr[None][zkey]
        arr = self._read((key[2], key[1], key[0]))
        return arr.T.astype(self.dtype, copy=False)

    def __array__(self, dtype=None, copy=None):
        arr = self[:, :, :]
        return arr if dtype is None else arr.astype(dtype)


def _gzip_size(path: str) -> int | None:
    """The uncompressed size mod 2³² from a gzip trailer (None when unreadable)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(-4, os.SEEK_END)
            return struct.unpack("<I", fh.read(4))[0]
    except (OSError, struct.error):
        return None


def _check_size(path: str, img, file_size: int) -> None:
    """A header that promises more data than the file holds: ``UnreadableFile``."""
    header = img.header
    shape = tuple(int(s) for s in header.get_data_shape())
    itemsize = np.dtype(header.get_data_dtype()).itemsize
    need = int(np.prod(shape)) * itemsize + int(header.get("vox_offset", 352) or 352)
    if path.lower().endswith(".gz"):
        have = _gzip_size(path)
        if have is not None and have != need % (1 << 32) and need < (1 << 32):
            raise UnreadableFile(
                f"NIfTI header and data disagree: the header describes "
                f"{'×'.join(map(str, shape))} voxels ({need} bytes), the file holds {have}"
            )
    elif file_size < need:
        raise UnreadableFile(
            f"NIfTI header and data disagree: the header describes "
            f"{'×'.join(map(str, shape))} voxels ({need} bytes), the file holds {file_size}"
        )


def read_nifti(path: str) -> Volume:
    """A ``.nii`` / ``.nii.gz`` file as a lazy ``Volume`` (``UnreadableFile`` with a reason)."""
    import nibabel as nib

    size = file_size_or_raise(path)
    try:
        img = nib.load(path)
    except Exception as err:
        raise UnreadableFile(
            f"not a readable NIfTI file ({str(err).splitlines()[0][:120]})"
        ) from None
    shape = tuple(int(s) for s in img.shape)
    if len(shape) < 2 or len(shape) > 4 or any(s <= 0 for s in shape):
        raise UnreadableFile(f"NIfTI image has {len(shape)} dimensions; 2, 3 or 4 are read")
    _check_size(path, img, size)
    full = shape[:3] + (1,) * (3 - len(shape[:3]))
    check_pixels(full[0], full[1], full[2])
    frame = 0 if len(shape) == 4 else None
    slope, inter = img.dataobj.slope, img.dataobj.inter
    scaled = not (slope in (1, None) and inter in (0, None))
    dtype = np.float32 if scaled else img.get_data_dtype()
    affine = LPS_FROM_RAS @ np.asarray(img.affine, dtype=np.float64) @ _KJI_TO_XYZ
    spacing = tuple(float(np.linalg.norm(affine[:3, c])) or 1.0 for c in range(3))
    tags = {"format": "NIfTI"}
    if len(shape) == 4 and shape[3] > 1:
        tags["frames"] = f"{shape[3]} (the first is shown)"
    window = None
    cal_min, cal_max = float(img.header.get("cal_min", 0)), float(img.header.get("cal_max", 0))
    if cal_max > cal_min:
        window = ((cal_min + cal_max) / 2.0, cal_max - cal_min)
    return Volume(
        voxels=NiftiVoxels(img.dataobj, frame, dtype),
        spacing=spacing,  # type: ignore[arg-type]
        affine=affine,
        window=window,
        tags=tags,
        source=path,
    )
