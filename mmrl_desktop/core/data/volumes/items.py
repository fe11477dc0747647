"""A volume item: what import records in ``Item.info["volume"]`` and how it is opened again.

An item is a volume when ``info`` has a ``"volume"`` entry::

    {"format": "dicom-series" | "dicom-multiframe" | "nifti",
     "files": ["label/study/IMG0001.dcm", ...],   # dicom-series: sorted, relative to source_root
     "shape": [k, j, i], "spacing": [slice, row, col], "affine": 4×4 nested list (LPS),
     "slope": 1.0, "intercept": -1024.0, "dtype": "int16", "window": [c, w] | null,
     "rescale": [[slope, intercept], ...] | null,  # per-slice rescale (then dtype float32)
     "raw_at": [[offset, file size], ...] | null}  # plain pixels: read at the offset directly

``Item.image`` is the series' first file (or the NIfTI / multi-frame file), so the checks every
read makes (``loaders.item_file``) apply, and a reader that knows nothing of volumes still finds an
image there. ``volume_of_item`` opens the volume from this record without reading the series'
headers again (the first slice costs one file).
"""

from __future__ import annotations

import os

import numpy as np

from mmrl_desktop.core.data.loaders.base import SOURCE_ROOT, UnreadableFile, item_file
from mmrl_desktop.core.data.volumes.volume import Volume

VOLUME_KEY = "volume"


def is_volume(item) -> bool:
    """Whether ``item`` is a volume (a DICOM series, a multi-frame DICOM, a NIfTI file)."""
    info = getattr(item, "info", None) or {}
    return isinstance(info.get(VOLUME_KEY), dict)


def volume_record(
    fmt: str, vol_or_plan, root: str, files: list[str] | None = None, rescale=None
) -> dict:
    """The ``info["volume"]`` record for a volume or a ``SeriesPlan`` imported under ``root``."""
    shape = list(vol_or_plan.shape)
    window = getattr(vol_or_plan, "window", None)
    dtype = getattr(vol_or_plan, "dtype", None)
    if dtype is None:
        dtype = getattr(getattr(vol_or_plan, "voxels", None), "dtype", "float32")
    return {
        "format": fmt,
        "files": [os.path.relpath(f, root).replace(os.sep, "/") for f in files] if files else [],
        "shape": [int(s) for s in shape],
        "spacing": [float(s) for s in vol_or_plan.spacing],
        "affine": np.asarray(vol_or_plan.affine, dtype=float).round(6).tolist(),
        "slope": float(vol_or_plan.slope),
        "intercept": float(vol_or_plan.intercept),
        "dtype": str(np.dtype(dtype)),
        "window": [float(window[0]), float(window[1])] if window else None,
        "rescale": [[float(s), float(i)] for s, i in rescale] if rescale else None,
        "raw_at": getattr(vol_or_plan, "raw_at", None),
    }


def _inside(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _series_files(item, record: dict) -> list[str]:
    root = (item.info or {}).get(SOURCE_ROOT) or os.path.dirname(os.path.abspath(item.image))
    real_root = os.path.realpath(root)
    out = []
    for rel in record.get("files") or []:
        path = os.path.join(root, *rel.split("/"))
        if not _inside(real_root, os.path.realpath(path)):
            raise UnreadableFile(
                "a slice now leads outside the folder it was imported from (through a symbolic "
                "link); it is not read"
            )
        out.append(path)
    if not out:
        raise UnreadableFile("the volume's record lists no files")
    return out


def volume_of_item(item) -> Volume:
    """The ``Volume`` of an imported volume item (``UnreadableFile`` with a reason)."""
    if not is_volume(item):
        raise UnreadableFile("the item is not a volume")
    record = item.info[VOLUME_KEY]
    fmt = record.get("format")
    first = item_file(item, "image")  # a regular file, still inside its source folder
    tags = {k: str(v) for k, v in (item.info or {}).items() if k in _TAG_KEYS}
    if fmt == "nifti":
        from mmrl_desktop.core.data.volumes.nifti import read_nifti

        return read_nifti(first)
    if fmt == "dicom-multiframe":
        from mmrl_desktop.core.data.volumes.multiframe import read_multiframe

        return read_multiframe(first)
    if fmt != "dicom-series":
        raise UnreadableFile(f"unknown volume format {fmt!r}")
    from mmrl_desktop.core.data.volumes.lazy import LazySeries

    files = _series_files(item, record)
    shape = tuple(int(s) for s in record["shape"])
    if len(files) != shape[0]:
        raise UnreadableFile("the volume's record does not match its files")
    rescale = record.get("rescale")
    window = record.get("window")
    return Volume(
        voxels=LazySeries(
            files, shape, record.get("dtype", "int16"), rescale=rescale, raw_at=record.get("raw_at")
        ),  # type: ignore[arg-type]
        spacing=tuple(float(s) for s in record["spacing"]),  # type: ignore[arg-type]
        affine=np.asarray(record["affine"], dtype=np.float64),
        slope=float(record.get("slope", 1.0)),
        intercept=float(record.get("intercept", 0.0)),
        window=(float(window[0]), float(window[1])) if window else None,
        tags=tags,
        source=os.path.dirname(files[0]),
    )


_TAG_KEYS = ("modality", "body_part", "study_description", "series_description", "units", "format")
