"""The volume viewer's Qt-free parts: planes, window presets, the fast slice window, the corner
texts (display tags, value under the cursor) and the wheel's slice steps.

Kept apart from ``volume_view`` (the widget) so that each rule is tested on its own and the
widget stays small.
"""

from __future__ import annotations

import copy
import dataclasses
import re

import numpy as np

from mmrl_desktop.core.data.loaders import apply_window
from mmrl_desktop.core.data.loaders.dicom import CT_PRESETS
from mmrl_desktop.gui.viewers.overlays import MAX_TAGS, _tag_rank, fmt_value

PLANES = ("axial", "coronal", "sagittal")
PLANE_NORMAL = {"axial": 2, "coronal": 1, "sagittal": 0}  # the LPS axis normal to each plane
# the patient side at each edge (top, bottom, left, right) of a plane as ``plane_slice`` shows
# it (radiological convention: the patient's right on the viewer's left)
EDGES = {
    "axial": ("A", "P", "R", "L"),
    "coronal": ("S", "I", "R", "L"),
    "sagittal": ("S", "I", "A", "P"),
}
WHEEL_STEP = 120  # one wheel notch (angleDelta); a trackpad's smaller deltas add up to it
# Tag names that could carry a person: never shown, whatever a reader let through.
_IDENTIFYING = re.compile(
    r"patient|name|birth|accession|physician|operator|institution|address|uid|\bid\b|_id\b",
    re.IGNORECASE,
)


def reads_whole(volume, plane: str) -> bool:
    """Whether showing ``plane`` reads the whole volume first (``readable_for``)."""
    stored = volume.axis_map()[PLANE_NORMAL[plane]][0] == 0
    return not (stored or isinstance(volume.voxels, np.ndarray))


def readable_for(volume, plane: str, state=None):
    """The volume to read ``plane`` from: itself when the plane's slices are its stored ones (one
    file, or one block of a file, each), else a copy whose voxels were read into memory once.
    A plane across the stored slices touches every one of them, and a lazy reader would read the
    whole file again for every step (a NIfTI's sagittal plane of 512×512×300: ~0.9 s a step).
    The array lives only as long as the copy (the viewer page drops it with the next case): a
    series (one file a slice, ``voxels.files``) is read file by file, as a series reader asked
    for its array whole would keep it for as long as the prefetcher keeps the item; anything
    else (a NIfTI) in one read.

    The viewer runs this on a worker thread (``volume_reader``) while the GUI thread goes on
    reading slices of ``volume``: the series is read through a copy with its own slice cache (the
    shared one is not thread-safe). ``state`` (a ``TaskState``): progress per file, and a stop
    asked for (another case, another plane) raises ``Cancelled`` between files."""
    voxels = volume.voxels
    if not reads_whole(volume, plane):
        return volume
    if not hasattr(voxels, "files"):
        return dataclasses.replace(volume, voxels=np.asarray(voxels))
    reader = copy.copy(voxels)
    if isinstance(getattr(reader, "_cache", None), dict):
        reader._cache = type(reader._cache)()
    arr = np.empty(volume.shape, np.dtype(voxels.dtype))
    for k in range(arr.shape[0]):
        if state is not None:
            state.check()
            state.progress(k, arr.shape[0])
        arr[k] = reader[k]
    return dataclasses.replace(volume, voxels=arr)


def edge_positions(
    image: tuple[float, float, float, float],
    view: tuple[float, float],
    sizes: list[tuple[float, float]],
    gap: float = 4.0,
) -> list[tuple[float, float]]:
    """Top-left corners of the four side labels (top, bottom, left, right; ``sizes`` their
    width and height) for an image at ``image`` (x0, y0, x1, y1) in a ``view`` (width, height):
    at the middle of the image's visible part, beside each edge, outside the image where the
    margin has room (zoomed out), else just inside it; never outside the view (zoomed in: at
    the view's edges)."""
    x0, y0, x1, y1 = image
    vw, vh = view
    cx = (max(x0, 0.0) + min(x1, vw)) / 2
    cy = (max(y0, 0.0) + min(y1, vh)) / 2
    (tw, th), (bw, bh), (lw, lh), (rw, rh) = sizes

    def beside(edge: float, size: float, before: bool, extent: float) -> float:
        out = edge - size - gap if before else edge + gap
        if not 0 <= out <= extent - size:  # no room outside the image: just inside it
            out = edge + gap if before else edge - size - gap
        return min(max(out, 0.0), max(extent - size, 0.0))

    def centred(c: float, size: float, extent: float) -> float:
        return min(max(c - size / 2, 0.0), max(extent - size, 0.0))

    return [
        (centred(cx, tw, vw), beside(y0, th, True, vh)),
        (centred(cx, bw, vw), beside(y1, bh, False, vh)),
        (beside(x0, lw, True, vw), centred(cy, lh, vh)),
        (beside(x1, rw, False, vw), centred(cy, rh, vh)),
    ]


def volume_presets(volume) -> dict[str, tuple[float, float]]:
    """Window presets by name, as for a 2-D DICOM: the file's window, then the CT presets for a
    CT volume (values in HU)."""
    presets: dict[str, tuple[float, float]] = {}
    if volume.window is not None:
        presets["file"] = (float(volume.window[0]), float(volume.window[1]))
    if is_ct(volume):
        presets.update(CT_PRESETS)
    return presets


def matching_preset(
    presets: dict[str, tuple[float, float]], window: tuple[float, float] | None
) -> str | None:
    """The name of the preset equal to ``window``, if any."""
    for name, (c, w) in presets.items():
        if window is not None and abs(c - window[0]) < 1e-6 and abs(w - window[1]) < 1e-6:
            return name
    return None


def looks_like_ct(hu: np.ndarray | None) -> bool:
    """A slice whose lowest values are air in HU (about −1000) and which reaches soft tissue:
    CT values without a modality tag (NIfTI has none), so the CT presets are offered."""
    if hu is None or not hu.size:
        return False
    lo, hi = np.nanpercentile(hu[::4, ::4], [0.5, 99.5])  # a sixteenth: ~0.1 ms for 512²
    return -1100.0 <= lo <= -900.0 and hi >= 0.0


def is_ct(volume) -> bool:
    tags = volume.tags or {}
    return str(tags.get("modality", "")).upper() == "CT"


def unit_of_volume(volume) -> str:
    tags = volume.tags or {}
    unit = tags.get("units") or tags.get("unit")
    if unit:
        return str(unit)
    return "HU" if is_ct(volume) else ""


def range_window(hu: np.ndarray) -> tuple[float, float]:
    """A window over a slice's own range (min..max of its finite values)."""
    finite = hu[np.isfinite(hu)]
    if not finite.size:
        return 0.0, 256.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo + hi + 1) / 2, max(hi - lo + 1, 1.0)


def window_slice(hu: np.ndarray, centre: float, width: float) -> np.ndarray:
    """A slice in HU (float32) to uint8 with the linear window: the core's ``apply_window``, so
    what is shown matches a 2-D DICOM shown with the same window."""
    return apply_window(hu, centre, width)


def slice_label(index: int, count: int) -> str:
    """The slider's caption, counted from 1: "slice 151 / 300"."""
    return f"slice {index + 1} / {count}" if count else "slice – / –"


def readout_text(hu: float, voxel: tuple[int, int, int], unit: str) -> str:
    """The value under the cursor and its voxel (k = slice, j = row, i = column of the volume)."""
    k, j, i = voxel
    value = fmt_value(float(hu)) + (f" {unit}" if unit else "")
    return f"voxel k {k}  j {j}  i {i}   {value}"


def spacing_text(spacing) -> str:
    """Spacing as "col × row × slice mm" (the volume's spacing is (slice, row, col))."""
    s = [float(v) for v in spacing]
    return f"{s[2]:.3g} × {s[1]:.3g} × {s[0]:.3g} mm"


def volume_tags_text(volume, plane: str) -> str:
    """The top-left annotation: size (columns × rows × slices), spacing, plane, then the display
    tags in the 2-D viewer's order (at most ``MAX_TAGS`` lines in all). A tag whose name could
    carry a person (patient, name, birth date, ids, ...) is never shown."""
    n, h, w = volume.voxels.shape[:3]
    lines = [
        ("size", f"{w} × {h} × {n}"),
        ("spacing", spacing_text(volume.spacing)),
        ("plane", plane),
    ]
    tags = volume.tags or {}
    for k in sorted(tags, key=lambda k: (_tag_rank(k), str(k))):
        v = tags[k]
        name = str(k)
        if _IDENTIFYING.search(name) or name.lower().startswith(("spacing", "size")):
            continue
        if isinstance(v, (str, int, float)) and str(v).strip():
            lines.append((name.replace("_", " "), str(v)[:40]))
    lines = lines[: MAX_TAGS + 1]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.capitalize():<{width}}  {v}" for k, v in lines)


class WheelSteps:
    """Wheel deltas to whole slice steps: one notch (120) is one slice; a trackpad's small
    deltas add up. Scrolling down (toward the user, negative delta) goes to the next slice."""

    def __init__(self):
        self._rest = 0

    def steps(self, delta_y: int) -> int:
        self._rest += int(delta_y)
        n = int(self._rest / WHEEL_STEP)  # toward zero: a partial notch waits
        self._rest -= n * WHEEL_STEP
        return -n
