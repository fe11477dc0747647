"""Lazy slices: a series (or a multi-frame file) as an array-like read one slice at a time.

``LazySeries[k]`` decodes one file (one frame of a multi-frame file) on demand and keeps the last
``SLICE_CACHE`` slices; a slice whose pixels are plain (``raw_at``) is read at its offset without a
decoder. Any other index (a coronal plane) reads every slice once and keeps that array.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from mmrl_desktop.core.data.loaders.base import UnreadableFile, file_size_or_raise

SLICE_CACHE = 24  # decoded slices kept per open series


def decode_file(path: str, index: int | None = None) -> np.ndarray:
    """Stored values of one file (one frame of a multi-frame file with ``index``)."""
    from pydicom.pixels import pixel_array

    file_size_or_raise(path)
    try:
        return np.asarray(pixel_array(path, index=index))
    except Exception as err:
        text = str(err).strip().splitlines()[0][:120] if str(err).strip() else type(err).__name__
        raise UnreadableFile(f"DICOM pixel data cannot be decoded ({text})") from None


class LazySeries:
    """An array-like ``(slices, rows, cols)`` whose slices are decoded on demand (a small LRU).

    ``stack[k]`` decodes one file (or one frame of a multi-frame file); any other index reads all
    slices once (e.g. a coronal plane) and keeps that array."""

    def __init__(
        self,
        files: list[str],
        shape: tuple[int, int, int],
        dtype: str,
        rescale: list[tuple[float, float]] | None = None,
        frames_of: str | None = None,
        raw_at: list | None = None,
    ):
        self.files = list(files)
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = 3
        self._rescale = rescale  # per-slice (slope, intercept) → float32 values
        self._multiframe = frames_of
        self._raw_at = raw_at  # per slice (offset, file size): read the bytes, no decoder
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._full: np.ndarray | None = None

    def __len__(self) -> int:
        return self.shape[0]

    def _slice(self, k: int) -> np.ndarray:
        if k < 0:
            k += self.shape[0]
        if not 0 <= k < self.shape[0]:
            raise IndexError(f"slice {k} is outside 0…{self.shape[0] - 1}")
        if self._full is not None:
            return self._full[k]
        hit = self._cache.get(k)
        if hit is not None:
            self._cache.move_to_end(k)
            return hit
        if self._multiframe:
            arr = decode_file(self._multiframe, index=k)
        elif self._raw_at is not None:
            arr = self._read_raw(k)
        else:
            arr = decode_file(self.files[k])
        if arr.ndim != 2 or arr.shape != self.shape[1:]:
            raise UnreadableFile(
                f"slice {k + 1} has size {'×'.join(map(str, arr.shape))}, not the series' "
                f"{self.shape[1]}×{self.shape[2]}"
            )
        if self._rescale is not None:
            slope, inter = self._rescale[k]
            arr = arr.astype(np.float32) * np.float32(slope) + np.float32(inter)
        arr = arr.astype(self.dtype, copy=False)
        self._cache[k] = arr
        while len(self._cache) > SLICE_CACHE:
            self._cache.popitem(last=False)
        return arr

    def _read_raw(self, k: int) -> np.ndarray:
        """The slice's bytes at the offset import found (the file still of the size it had;
        otherwise, or if it is no longer a regular file, decoded as any other)."""
        path, (offset, size) = self.files[k], self._raw_at[k]  # type: ignore[index]
        if file_size_or_raise(path) != size or self._rescale is not None:
            return decode_file(path)
        count = self.shape[1] * self.shape[2]
        dtype = self.dtype.newbyteorder("<")
        with open(path, "rb") as fh:
            fh.seek(offset)
            arr = np.frombuffer(fh.read(count * dtype.itemsize), dtype=dtype)
        if arr.size != count:
            return decode_file(path)
        return arr.reshape(self.shape[1:])

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._slice(int(key))
        if isinstance(key, tuple) and key and isinstance(key[0], (int, np.integer)):
            return self._slice(int(key[0]))[key[1:]]
        return self.read_all()[key]

    def read_all(self) -> np.ndarray:
        if self._full is None:
            full = np.empty(self.shape, self.dtype)
            for k in range(self.shape[0]):
                full[k] = self._slice(k)
            self._full = full
            self._cache.clear()
        return self._full

    def __array__(self, dtype=None, copy=None):
        arr = self.read_all()
        return arr if dtype is None else arr.astype(dtype)
