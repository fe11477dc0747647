"""DICOM series and multi-frame files as volumes: headers, sorting, checks, lazy slices.

``read_header`` reads one file's header (never its pixels); ``plan_series`` sorts the files of one
``SeriesInstanceUID`` along the slice normal (``ImagePositionPatient`` · the normal of
``ImageOrientationPatient``; ``InstanceNumber`` when positions are missing) and sets aside, with a
reason, the files that do not belong (another orientation or size, a duplicate position, no pixel
data); a gap in the spacing is reported and kept. ``lazy.LazySeries`` reads one file per slice
on demand, with a small LRU of decoded slices.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from mmrl_desktop.core.data.loaders.base import UnreadableFile, check_pixels, file_size_or_raise
from mmrl_desktop.core.data.volumes.lazy import LazySeries, decode_file
from mmrl_desktop.core.data.volumes.volume import Volume

__all__ = ["LazySeries", "decode_file"]  # re-exported: they lived here first

GAP_FACTOR = 1.5  # a step over this × the median step is a gap (reported)
PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
HEADER_TAGS = [
    "SeriesInstanceUID", "SeriesNumber", "SamplesPerPixel", "Rows", "Columns", "NumberOfFrames",
    "ImageOrientationPatient", "ImagePositionPatient", "InstanceNumber", "PixelSpacing",
    "SpacingBetweenSlices", "SliceThickness", "RescaleSlope", "RescaleIntercept",
    "BitsAllocated", "PixelRepresentation", "WindowCenter", "WindowWidth", "Modality",
    "BodyPartExamined", "StudyDescription", "SeriesDescription", "BitsStored",
    "PhotometricInterpretation", *PIXEL_TAGS,
]  # fmt: skip


@dataclass
class SliceHeader:
    """What one file's header says about its place in a series (no pixels, no identifiers)."""

    path: str
    series_uid: str
    series_number: int | None
    samples: int  # samples per pixel (3: colour, never a volume)
    rows: int
    cols: int
    frames: int
    has_pixels: bool
    orientation: tuple[float, ...] | None  # ImageOrientationPatient (6)
    position: tuple[float, float, float] | None  # ImagePositionPatient
    instance: int | None
    pixel_spacing: tuple[float, float] | None  # (row, col) mm
    thickness: float | None
    slope: float
    intercept: float
    dtype: str
    window: tuple[float, float] | None
    tags: dict[str, str] = field(default_factory=dict)
    raw_at: tuple[int, int] | None = None  # (pixel offset, file size): plain pixels, read directly


def _floats(value, n: int) -> tuple[float, ...] | None:
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(np.isfinite(out)) else None


def _num(ds, keyword: str, default=None):
    value = ds.get(keyword)
    if value is None or value == "":
        return default
    try:
        if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
            value = value[0]
        return float(value)
    except (TypeError, ValueError, IndexError):
        return default


def _dtype(ds) -> str:
    bits = int(ds.get("BitsAllocated", 16) or 16)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    if bits == 8:
        return "int8" if signed else "uint8"
    if bits == 32:
        return "int32" if signed else "uint32"
    return "int16" if signed else "uint16"


def display_tags(ds) -> dict[str, str]:
    """Display-safe tags only (never patient identifiers)."""
    tags: dict[str, str] = {}
    for key, name in (
        ("Modality", "modality"),
        ("BodyPartExamined", "body_part"),
        ("StudyDescription", "study_description"),
        ("SeriesDescription", "series_description"),
    ):
        value = ds.get(key)
        if value not in (None, ""):
            tags[name] = str(value).strip()[:200]
    if tags.get("modality") == "CT":
        tags["units"] = "HU"
    return tags


RAW_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1")  # implicit / explicit little endian


def _raw_pixels_at(path: str, ds) -> tuple[int, int] | None:
    """(offset, file size) when the pixel data is one plain little-endian grey frame whose bits
    fill its words (so reading the bytes gives what pydicom would decode); else None."""
    meta = getattr(ds, "file_meta", None)
    syntax = str(getattr(meta, "TransferSyntaxUID", "") or "") if meta is not None else ""
    el = ds.get_item(0x7FE00010, keep_deferred=True)
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        bits, stored = int(ds.BitsAllocated), int(ds.get("BitsStored", 0) or 0)
        grey = int(ds.get("SamplesPerPixel", 1) or 1) == 1
        frames = int(_num(ds, "NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return None
    if syntax not in RAW_SYNTAXES or el is None or not grey or frames != 1:
        return None
    if bits not in (8, 16, 32) or stored != bits:
        return None
    offset, length = getattr(el, "value_tell", None), getattr(el, "length", None)
    if offset is None or length != rows * cols * bits // 8:
        return None
    size = os.path.getsize(path)
    return (int(offset), size) if offset + length <= size else None


def _window(ds) -> tuple[float, float] | None:
    centre, width = _num(ds, "WindowCenter"), _num(ds, "WindowWidth")
    if centre is None or width is None or width <= 0:
        return None
    return (centre, width)


def read_header(path: str) -> SliceHeader:
    """One file's header (stops before the pixel data). ``UnreadableFile`` for a non-DICOM file."""
    import pydicom

    file_size_or_raise(path)
    try:  # only the tags used; the pixel data's tag is seen, its value not read
        ds = pydicom.dcmread(path, defer_size=256, specific_tags=HEADER_TAGS)
    except Exception:
        try:
            ds = pydicom.dcmread(path, defer_size=256, specific_tags=HEADER_TAGS, force=True)
            if "Rows" not in ds:
                raise UnreadableFile("not a DICOM file") from None
        except UnreadableFile:
            raise
        except Exception:
            raise UnreadableFile("not a DICOM file") from None
    has_pixels = any(ds.get_item(tag, keep_deferred=True) is not None for tag in PIXEL_TAGS)
    raw_at = _raw_pixels_at(path, ds) if has_pixels else None
    spacing = _floats(ds.get("PixelSpacing") or [], 2)
    instance = _num(ds, "InstanceNumber")
    return SliceHeader(
        path=path,
        series_uid=str(ds.get("SeriesInstanceUID", "") or ""),
        series_number=None if _num(ds, "SeriesNumber") is None else int(_num(ds, "SeriesNumber")),
        samples=int(_num(ds, "SamplesPerPixel", 1) or 1),
        rows=int(ds.get("Rows", 0) or 0),
        cols=int(ds.get("Columns", 0) or 0),
        frames=max(1, int(_num(ds, "NumberOfFrames", 1) or 1)),
        has_pixels=has_pixels,
        orientation=_floats(ds.get("ImageOrientationPatient") or [], 6),
        position=_floats(ds.get("ImagePositionPatient") or [], 3),  # type: ignore[arg-type]
        instance=None if instance is None else int(instance),
        pixel_spacing=spacing,  # type: ignore[arg-type]
        raw_at=raw_at,
        thickness=_num(ds, "SpacingBetweenSlices") or _num(ds, "SliceThickness"),
        slope=_num(ds, "RescaleSlope", 1.0) or 1.0,
        intercept=_num(ds, "RescaleIntercept", 0.0) or 0.0,
        dtype=_dtype(ds),
        window=_window(ds),
        tags=display_tags(ds),
    )


# ------------------------------------------------------------------ one series
@dataclass
class SeriesPlan:
    """One series, sorted: the files (one per slice), the geometry, and what was set aside."""

    series_uid: str
    files: list[str]
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    affine: np.ndarray
    slope: float
    intercept: float
    per_slice_rescale: bool
    dtype: str
    window: tuple[float, float] | None
    tags: dict[str, str]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    notes: list[str] = field(default_factory=list)  # kept but reported (a gap)
    raw_at: list | None = None  # per file (offset, size) of plain pixels, when all have them


def _normal(orientation) -> np.ndarray:
    row, col = np.asarray(orientation[:3]), np.asarray(orientation[3:])
    n = np.cross(row, col)
    return n / max(np.linalg.norm(n), 1e-9)


def _belonging(headers: list[SliceHeader]) -> tuple[list[SliceHeader], list[tuple[str, str]]]:
    """The slices of the series' majority size and orientation; the others with a reason."""
    skipped: list[tuple[str, str]] = []
    good = []
    for h in headers:
        if not h.has_pixels:
            skipped.append((h.path, "DICOM file has no pixel data"))
        else:
            good.append(h)
    if not good:
        return [], skipped
    sizes: dict[tuple[int, int], int] = {}
    for h in good:
        sizes[(h.rows, h.cols)] = sizes.get((h.rows, h.cols), 0) + 1
    size = max(sizes, key=lambda s: sizes[s])
    orients: dict[tuple, int] = {}
    for h in good:
        key = tuple(round(v, 3) for v in h.orientation) if h.orientation else None
        orients[key] = orients.get(key, 0) + 1
    orient = max(orients, key=lambda o: orients[o])
    kept = []
    for h in good:
        key = tuple(round(v, 3) for v in h.orientation) if h.orientation else None
        if (h.rows, h.cols) != size:
            skipped.append(
                (
                    h.path,
                    f"slice does not belong to its series: its size is {h.rows}×{h.cols}, "
                    f"the series' is {size[0]}×{size[1]}",
                )
            )
        elif key != orient:
            skipped.append((h.path, "slice does not belong to its series: another orientation"))
        else:
            kept.append(h)
    return kept, skipped


def _sorted(kept: list[SliceHeader]) -> tuple[list[SliceHeader], list[float] | None]:
    """Sorted along the normal (positions returned), else by InstanceNumber, else by name."""
    if all(h.position is not None and h.orientation is not None for h in kept):
        normal = _normal(kept[0].orientation)
        pos = [float(np.dot(h.position, normal)) for h in kept]
        order = sorted(
            range(len(kept)), key=lambda n: (pos[n], kept[n].instance or 0, kept[n].path)
        )
        return [kept[n] for n in order], [pos[n] for n in order]
    order = sorted(kept, key=lambda h: (h.instance is None, h.instance or 0, h.path))
    return order, None


def _dedupe(slices, pos, skipped):
    """Drop slices at an already-taken position (the first, by InstanceNumber then name, stays)."""
    if pos is None:
        return slices, pos
    steps = np.diff(pos) if len(pos) > 1 else np.array([])
    tol = (
        max(1e-3, 0.01 * float(np.median(np.abs(steps[steps > 1e-3]))))
        if (steps > 1e-3).any()
        else 1e-3
    )
    out, out_pos = [], []
    for h, p in zip(slices, pos, strict=True):
        if out_pos and abs(p - out_pos[-1]) < tol:
            skipped.append(
                (
                    h.path,
                    f"duplicate slice position ({p:.2f} mm along the normal, as "
                    f"{os.path.basename(out[-1].path)})",
                )
            )
            continue
        out.append(h)
        out_pos.append(p)
    return out, out_pos


def plan_series(headers: list[SliceHeader]) -> SeriesPlan:
    """Sort and check the files of one series. ``UnreadableFile`` when no slice is usable."""
    kept, skipped = _belonging(headers)
    if not kept:
        raise UnreadableFile("the series has no slice with pixel data")
    slices, pos = _sorted(kept)
    slices, pos = _dedupe(slices, pos, skipped)
    first = slices[0]
    rows, cols = first.rows, first.cols
    check_pixels(cols, rows, len(slices))
    notes: list[str] = []
    dr, dc = first.pixel_spacing or (1.0, 1.0)
    if pos is not None and len(pos) > 1:
        steps = np.diff(pos)
        step = float(np.median(steps))
        for n, s in enumerate(steps):
            if s > GAP_FACTOR * step:
                notes.append(
                    f"gap in the slice spacing: {s:.2f} mm between slices {n + 1} and {n + 2} "
                    f"where the series' step is {step:.2f} mm"
                )
    else:
        step = float(first.thickness or 1.0)
    if first.orientation is not None:
        rowdir = np.asarray(first.orientation[:3])
        coldir = np.asarray(first.orientation[3:])
        normal = _normal(first.orientation)
    else:
        rowdir, coldir, normal = np.eye(3)[0], np.eye(3)[1], np.eye(3)[2]
    affine = np.eye(4)
    affine[:3, 0] = normal * step
    affine[:3, 1] = coldir * dr
    affine[:3, 2] = rowdir * dc
    affine[:3, 3] = first.position if first.position is not None else 0.0
    rescales = {(h.slope, h.intercept) for h in slices}
    per_slice = len(rescales) > 1
    return SeriesPlan(
        series_uid=first.series_uid,
        files=[h.path for h in slices],
        shape=(len(slices), rows, cols),
        spacing=(abs(step), float(dr), float(dc)),
        affine=affine,
        slope=1.0 if per_slice else first.slope,
        intercept=0.0 if per_slice else first.intercept,
        per_slice_rescale=per_slice,
        raw_at=[list(h.raw_at) for h in slices] if all(h.raw_at for h in slices) else None,
        dtype="float32" if per_slice else first.dtype,
        window=first.window,
        tags=dict(first.tags),
        skipped=skipped,
        notes=notes,
    )


def group_series(headers: list[SliceHeader]) -> dict[str, list[SliceHeader]]:
    """Headers by SeriesInstanceUID (files without one: by folder)."""
    groups: dict[str, list[SliceHeader]] = {}
    for h in headers:
        key = h.series_uid or f"folder:{os.path.dirname(h.path)}"
        groups.setdefault(key, []).append(h)
    return groups


def volume_from_plan(plan: SeriesPlan, source: str, rescale=None) -> Volume:
    stack = LazySeries(plan.files, plan.shape, plan.dtype, rescale=rescale, raw_at=plan.raw_at)
    return Volume(
        voxels=stack,
        spacing=plan.spacing,
        affine=plan.affine,
        slope=plan.slope,
        intercept=plan.intercept,
        window=plan.window,
        tags=dict(plan.tags),
        source=source,
    )


def read_series(files: list[str]) -> Volume:
    """The volume of a list of one series' files (any order); files that do not belong are left
    out (``plan_series``). Several series in the list: ``UnreadableFile``."""
    headers = [read_header(f) for f in files]
    groups = group_series(headers)
    if len(groups) > 1:
        raise UnreadableFile(f"the files hold {len(groups)} series; read one series at a time")
    plan = plan_series(headers)
    rescale = None
    if plan.per_slice_rescale:
        by_path = {h.path: (h.slope, h.intercept) for h in headers}
        rescale = [by_path[f] for f in plan.files]
    source = os.path.commonpath([os.path.abspath(f) for f in files]) if files else ""
    return volume_from_plan(plan, source, rescale)


def dicom_files_under(folder: str) -> list[str]:
    """The DICOM files under ``folder`` (any depth; hidden files and folders left out)."""
    from mmrl_desktop.core.data.loaders.base import is_dicom_path

    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            path = os.path.join(root, name)
            if not name.startswith(".") and os.path.isfile(path) and is_dicom_path(path):
                out.append(path)
    return out


def read_series_folder(folder: str) -> Volume:
    files = dicom_files_under(folder)
    if not files:
        raise UnreadableFile("the folder holds no DICOM files")
    return read_series(files)
