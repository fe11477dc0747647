"""A multi-frame (enhanced) DICOM file as a volume: geometry from its functional groups, frames
decoded one at a time (``LazySeries`` with ``frames_of``)."""

from __future__ import annotations

import numpy as np

from mmrl_desktop.core.data.loaders.base import UnreadableFile, check_pixels
from mmrl_desktop.core.data.volumes.dicom_series import (
    GAP_FACTOR,
    LazySeries,
    SliceHeader,
    _floats,
    _normal,
    _num,
    read_header,
)
from mmrl_desktop.core.data.volumes.volume import Volume


def multiframe_geometry(ds, header: SliceHeader) -> tuple[tuple, np.ndarray, list[str]]:
    """(spacing, affine, notes) of a multi-frame file from its functional groups (enhanced
    CT/MR), else from the classic tags; frames are taken in file order."""
    notes: list[str] = []
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    per = ds.get("PerFrameFunctionalGroupsSequence") or []
    orient = _nested(shared, "PlaneOrientationSequence", "ImageOrientationPatient", 6)
    measures = _first(shared, "PixelMeasuresSequence")
    spacing = _floats(measures.get("PixelSpacing") or [], 2) if measures is not None else None
    thickness = None
    if measures is not None:
        thickness = _num(measures, "SpacingBetweenSlices") or _num(measures, "SliceThickness")
    positions = []
    for frame in per:
        orient = orient or _nested(frame, "PlaneOrientationSequence", "ImageOrientationPatient", 6)
        pos = _nested(frame, "PlanePositionSequence", "ImagePositionPatient", 3)
        positions.append(pos)
    orient = orient or header.orientation or (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
    dr, dc = spacing or header.pixel_spacing or (1.0, 1.0)
    normal = _normal(orient)
    step = float(thickness or header.thickness or 1.0)
    origin = header.position or (0.0, 0.0, 0.0)
    if positions and all(p is not None for p in positions) and len(positions) == header.frames:
        proj = [float(np.dot(p, normal)) for p in positions]
        if len(proj) > 1:
            steps = np.diff(proj)
            step = float(np.median(steps))
            if (steps <= 0).any() or (steps > GAP_FACTOR * abs(step)).any():
                notes.append(
                    "the frames are not evenly spaced along the normal; shown in file order"
                )
        origin = positions[0]
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = np.asarray(orient[3:]) * dr
    affine[:3, 2] = np.asarray(orient[:3]) * dc
    affine[:3, 3] = origin
    return (abs(step) or 1.0, float(dr), float(dc)), affine, notes


def _first(ds, keyword):
    if ds is None:
        return None
    seq = ds.get(keyword)
    return seq[0] if seq else None


def _nested(ds, seq_kw: str, keyword: str, n: int):
    item = _first(ds, seq_kw)
    return _floats(item.get(keyword) or [], n) if item is not None else None


def read_multiframe(path: str) -> Volume:
    """A multi-frame DICOM file as a volume (frames read one at a time)."""
    import pydicom

    header = read_header(path)
    if not header.has_pixels:
        raise UnreadableFile("DICOM file has no pixel data")
    check_pixels(header.cols, header.rows, header.frames)
    ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
    spacing, affine, _notes = multiframe_geometry(ds, header)
    slope, intercept = header.slope, header.intercept
    shared = _first(ds, "SharedFunctionalGroupsSequence")
    trans = _first(shared, "PixelValueTransformationSequence")
    if trans is not None:
        slope = _num(trans, "RescaleSlope", slope) or slope
        intercept = _num(trans, "RescaleIntercept", intercept)
    stack = LazySeries(
        [path], (header.frames, header.rows, header.cols), header.dtype, frames_of=path
    )
    return Volume(stack, spacing, affine, slope, intercept, header.window, dict(header.tags), path)
