"""The image viewer's corner annotations, Qt-free: the tags text, units and numbers, and where the
image goes so that the tags box (top left) does not cover it."""

from __future__ import annotations

from mmrl_desktop.core.data.loaders import ImageData

TAG_ORDER = (
    "modality",
    "body_part",
    "body part",
    "study",
    "series",
    "photometric",
    "bits",
    "frames",
    "spacing",
    "thickness",
    "manufacturer",
)
MAX_TAGS = 8


def tags_text(data: ImageData) -> str:
    """The top-left annotation: size, then the display tags in a fixed order (at most
    ``MAX_TAGS``), one "Key  value" per line; empty for an image without tags."""
    if not data.info:
        return ""
    h, w = data.pixels.shape[:2]
    lines = [("size", f"{w} × {h}")]
    keys = sorted(data.info, key=lambda k: (_tag_rank(k), str(k)))
    for k in keys:
        v = data.info[k]
        if isinstance(v, (str, int, float)) and str(v).strip():
            lines.append((str(k).replace("_", " "), str(v)[:40]))
    if data.frames > 1 and not any(k == "frames" for k, _ in lines):
        lines.append(("frames", str(data.frames)))
    lines = lines[: MAX_TAGS + 1]
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.capitalize():<{width}}  {v}" for k, v in lines)


def fit_beside(
    w: int, h: int, vw: int, vh: int, box: tuple[int, int] | None
) -> tuple[float, float, float] | None:
    """Where a ``w``×``h`` image goes in a ``vw``×``vh`` view with a ``box`` (width, height) in
    its top-left corner: ``(left, top, scale)`` in view pixels, right of the box or below it,
    whichever shows the image larger — or None when centring it already leaves the box clear
    (or there is no box, or the image would come out at less than half its size)."""
    if box is None or vw < 64 or vh < 64 or w <= 0 or h <= 0:
        return None
    bw, bh = box
    full = min(vw / w, vh / h)
    if (vw - w * full) / 2 >= bw or (vh - h * full) / 2 >= bh:
        return None  # centred, the image is clear of the box
    right = min((vw - bw) / w, vh / h)  # the scale with the image right of the box
    below = min(vw / w, (vh - bh) / h)  # ... below it
    scale = min(full, max(right, below))
    if scale < full / 2:
        return None
    if right >= below:
        return bw + (vw - bw - w * scale) / 2, (vh - h * scale) / 2, scale
    return (vw - w * scale) / 2, bh + (vh - bh - h * scale) / 2, scale


def unit_of(data: ImageData | None) -> str:
    if data is None:
        return ""
    info = data.info or {}
    unit = info.get("units") or info.get("unit")
    if unit:
        return str(unit)
    return "HU" if str(info.get("modality", "")).upper() == "CT" else ""


def fmt_value(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-6 or abs(v) >= 100 else f"{v:.2f}"


def _tag_rank(key) -> int:
    k = str(key).lower()
    for i, name in enumerate(TAG_ORDER):
        if k.startswith(name):
            return i
    return len(TAG_ORDER)
