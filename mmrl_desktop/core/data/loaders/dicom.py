"""DICOM with pydicom: modality LUT → VOI LUT / window → display; presets; multi-frame; colour.

Pixel data is decoded by pydicom's own decoders plus pylibjpeg (JPEG 2000 via openjpeg, RLE).
``check_dicom`` validates a file at import time without decoding its pixels.

Only display tags are kept in ``info`` (modality, body part, study description, photometric
interpretation, size, spacing): never patient identifiers.
"""

from __future__ import annotations

import os

import numpy as np

from mmrl_desktop.core.data.loaders.base import (
    ImageData,
    UnreadableFile,
    apply_window,
    check_pixels,
    file_size_or_raise,
    reduction,
)
from mmrl_desktop.core.data.loaders.image import min_max_window

PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)  # PixelData, FloatPixelData, DoubleFloat…

# Hounsfield-unit presets (centre, width); meaningful for CT only.
CT_PRESETS: dict[str, tuple[float, float]] = {
    "lung": (-600.0, 1500.0),
    "bone": (300.0, 1500.0),
    "soft tissue": (40.0, 400.0),
    "brain": (40.0, 80.0),
}

UNDEFINED_LENGTH = 0xFFFFFFFF


def _read(path: str | os.PathLike, **kwargs):
    """``dcmread`` that accepts files without the DICM preamble only when they look like an image
    (Rows, Columns); anything else is "not a DICOM file"."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    file_size_or_raise(path)  # a FIFO, device or folder is never opened
    try:
        return pydicom.dcmread(path, **kwargs)
    except InvalidDicomError:
        pass
    except UnreadableFile:
        raise
    except Exception as err:  # pydicom raises many types for damaged headers
        raise UnreadableFile(f"DICOM header is broken ({_short(err)})") from None
    try:  # no preamble: old files written without Part 10 meta information
        ds = pydicom.dcmread(path, force=True, **kwargs)
        if "Rows" in ds and "Columns" in ds and int(ds.Rows) > 0:
            return ds
    except Exception:
        pass
    raise UnreadableFile("not a DICOM file")


def _read_guarded(path: str | os.PathLike, **kwargs):
    """``_read`` after the size guards passed on the header alone (read up to the pixel data):
    the one image size guard, and a file far larger than its pixels (a 4 GB pixel data element
    behind an 8×8 header) is refused before pydicom reads it."""
    head = _read(path, stop_before_pixels=True)
    try:
        rows, cols = int(head.Rows), int(head.Columns)
    except (AttributeError, TypeError, ValueError):
        rows = cols = 0  # the caller says what is missing
    if rows > 0 and cols > 0:
        check_pixels(cols, rows, _frames(head))
        raw = _native_size(head, rows, cols, compressed_too=True)
        size = os.path.getsize(path)
        if raw and size > 2 * raw + (16 << 20):
            raise UnreadableFile(
                f"DICOM file is far larger than its image ({size / 1e6:.0f} MB for "
                f"{raw / 1e6:.1f} MB of pixels)"
            )
    return _read(path, **kwargs)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text[:120]


def _pixel_element(ds):
    for tag in PIXEL_TAGS:
        el = ds.get_item(tag, keep_deferred=True)
        if el is not None:
            return el
    return None


def check_dicom(path: str | os.PathLike) -> dict:
    """Validate a DICOM file for import: a readable header, pixel data present and complete.
    Pixel values are not decoded (large values are deferred). Returns display info for Item.info."""
    ds = _read_guarded(path, defer_size=1024)
    el = _pixel_element(ds)
    if el is None:
        raise UnreadableFile("DICOM file has no pixel data")
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise UnreadableFile("DICOM file has pixel data but no image size (Rows/Columns)") from None
    if rows <= 0 or cols <= 0:
        raise UnreadableFile("DICOM image size is zero")
    length = getattr(el, "length", None)
    tell = getattr(el, "value_tell", None)
    if length is not None and tell is not None and length != UNDEFINED_LENGTH:
        if tell + length > os.path.getsize(path):
            raise UnreadableFile("DICOM file is truncated (the pixel data is cut short)")
        expected = _native_size(ds, rows, cols)
        if expected and length < expected:
            raise UnreadableFile("DICOM pixel data is shorter than the image size says")
    _check_decoder(ds)
    return display_info(ds, header_only=True)


def _check_decoder(ds) -> None:
    """Refuse compressed pixel data that no installed decoder can read (e.g. JPEG-LS)."""
    meta = getattr(ds, "file_meta", None)
    tsyntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if tsyntax is None or not getattr(tsyntax, "is_compressed", False):
        return
    from pydicom.pixels import get_decoder

    try:
        available = get_decoder(tsyntax).is_available
    except NotImplementedError:
        available = False
    if not available:
        raise UnreadableFile(
            f"DICOM pixel data is compressed as {tsyntax.name}, which this installation "
            "cannot decode"
        )


def _native_size(ds, rows: int, cols: int, compressed_too: bool = False) -> int:
    """Bytes of uncompressed pixel data the header promises (0 when unknown, or compressed unless
    ``compressed_too``)."""
    meta = getattr(ds, "file_meta", None)
    tsyntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if not compressed_too and tsyntax is not None and getattr(tsyntax, "is_compressed", False):
        return 0
    try:
        bits = int(ds.BitsAllocated)
        spp = int(ds.get("SamplesPerPixel", 1) or 1)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (AttributeError, TypeError, ValueError):
        return 0
    total_bits = rows * cols * spp * frames * bits
    if str(ds.get("PhotometricInterpretation", "")).startswith("YBR_FULL_422"):
        total_bits = total_bits * 2 // 3
    return (total_bits + 7) // 8


def _frames(ds) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _file_windows(ds) -> list[tuple[float, float]]:
    centres, widths = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centres is None or widths is None:
        return []
    try:
        cs = [float(c) for c in (centres if _is_multi(centres) else [centres])]
        ws = [float(w) for w in (widths if _is_multi(widths) else [widths])]
    except (TypeError, ValueError):
        return []
    return [(c, w) for c, w in zip(cs, ws, strict=False) if w > 0]


def _is_multi(value) -> bool:
    return isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue"


def _presets(ds, modality: str, full: tuple[float, float] | None) -> dict[str, tuple[float, float]]:
    presets: dict[str, tuple[float, float]] = {}
    for i, win in enumerate(_file_windows(ds)):
        presets["file" if i == 0 else f"file {i + 1}"] = win
    if modality == "CT":
        presets.update(CT_PRESETS)
    if full is not None:
        presets["full range"] = full
    return presets


def _text(ds, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def display_info(ds, header_only: bool = False) -> dict:
    """Display-only tags. With ``header_only`` (import): JSON-ready, small, for ``Item.info``."""
    modality = _text(ds, "Modality").upper()
    info: dict = {"modality": modality} if modality else {}
    body = _text(ds, "BodyPartExamined")
    if body:
        info["body_part"] = body
    info["frames"] = _frames(ds)
    if header_only:
        presets = _presets(ds, modality, None)
        if presets:
            info["window_presets"] = {k: [c, w] for k, (c, w) in presets.items()}
        return info
    study = _text(ds, "StudyDescription")
    if study:
        info["study_description"] = study
    series = _text(ds, "SeriesDescription")
    if series:
        info["series_description"] = series
    info["photometric"] = _text(ds, "PhotometricInterpretation")
    info["rows"], info["columns"] = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    if "BitsStored" in ds:
        info["bits"] = int(ds.BitsStored)
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    if spacing is not None and _is_multi(spacing) and len(spacing) >= 2:
        info["spacing_mm"] = f"{float(spacing[0]):.3g} × {float(spacing[1]):.3g}"
    if "SliceThickness" in ds and ds.SliceThickness not in (None, ""):
        info["thickness_mm"] = f"{float(ds.SliceThickness):.3g}"
    if modality == "CT":
        info["units"] = "HU"
    return info


def load_dicom(path: str | os.PathLike, frame: int = 0, max_side: int | None = None) -> ImageData:
    """Decode one frame of a DICOM image for display and for the model. The size guard is
    checked on the header before the pixel data is read (it is deferred until then); with
    ``max_side`` a large frame is reduced right after decoding, before any float copy."""
    ds = _read_guarded(path, defer_size=1 << 20)
    if _pixel_element(ds) is None:
        raise UnreadableFile("DICOM file has no pixel data")
    n_frames = _frames(ds)
    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise UnreadableFile("DICOM file has pixel data but no image size (Rows/Columns)") from None
    if not 0 <= frame < n_frames:
        raise UnreadableFile(f"frame {frame} does not exist (the file has {n_frames})")
    arr = _reduce(_decode_frame(ds, frame, n_frames), reduction(cols, rows, max_side))
    info = display_info(ds)
    modality = info.get("modality", "")
    photometric = info.get("photometric", "")
    if photometric == "PALETTE COLOR" or (arr.ndim == 3 and arr.shape[-1] in (3, 4)):
        return _colour(ds, arr, info, n_frames)
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    pixels = np.asarray(apply_modality_lut(arr, ds), dtype=np.float32)
    full = min_max_window(pixels)
    presets = _presets(ds, modality, full)
    window: tuple[float, float] | None
    if "file" in presets:
        window = presets["file"]
        display = apply_window(pixels, *window)
    elif "VOILUTSequence" in ds:
        window = None
        voi = np.asarray(apply_voi_lut(pixels, ds, index=0), dtype=np.float32)
        lo, hi = float(voi.min()), float(voi.max())
        display = ((voi - lo) / max(hi - lo, 1e-6) * 255.0 + 0.5).astype(np.uint8)
    else:
        window = full
        display = apply_window(pixels, *window)
    if photometric == "MONOCHROME1":
        display = 255 - display  # high values are dark
        info["inverted"] = "yes"
    return ImageData(
        pixels=pixels, display=display, window=window, presets=presets, info=info, frames=n_frames
    )


def _decode_frame(ds, frame: int, n_frames: int) -> np.ndarray:
    try:
        if n_frames > 1:
            try:
                ds.pixel_array_options(index=frame)
                arr = ds.pixel_array
            except TypeError:  # an older pydicom: decode all, take one
                arr = ds.pixel_array[frame]
        else:
            arr = ds.pixel_array
    except UnreadableFile:
        raise
    except Exception as err:
        raise UnreadableFile(_decode_reason(err)) from None
    arr = np.asarray(arr)
    if n_frames > 1 and arr.ndim >= 3 and arr.shape[0] == n_frames:
        arr = arr[frame]  # a decoder that ignored the index
    return arr


def _reduce(arr: np.ndarray, factor: int) -> np.ndarray:
    """Block mean over ``factor``×``factor`` pixels, in the array's own dtype (stored values, so
    the modality and colour LUTs still apply)."""
    if factor <= 1 or arr.ndim < 2:
        return arr
    h, w = arr.shape[0] // factor, arr.shape[1] // factor
    if h == 0 or w == 0:
        return arr
    blocks = arr[: h * factor, : w * factor].reshape(h, factor, w, factor, *arr.shape[2:])
    mean = blocks.mean(axis=(1, 3), dtype=np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        mean = np.rint(mean)
    return mean.astype(arr.dtype)


def _decode_reason(err: Exception) -> str:
    text = _short(err)
    low = text.lower()
    if any(k in low for k in ("plugin", "decoder", "missing required", "unable to decompress")):
        return (
            f"DICOM pixel data is compressed in a format this installation cannot decode ({text})"
        )
    if "truncat" in low or "shorter" in low or "buffer" in low:
        return "DICOM pixel data is truncated"
    return f"DICOM pixel data cannot be decoded ({text})"


def _colour(ds, arr: np.ndarray, info: dict, n_frames: int) -> ImageData:
    if info.get("photometric") == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = np.asarray(apply_color_lut(arr, ds))
    if arr.shape[-1] == 4:
        arr = arr[..., :3]
    pixels = arr.astype(np.float32)
    peak = float(pixels.max(initial=0.0))
    if arr.dtype == np.uint8 or peak <= 255:
        display = np.clip(pixels, 0, 255).astype(np.uint8)
        return ImageData(pixels=pixels, display=display, info=info, frames=n_frames)
    bits = int(ds.get("BitsStored", 16) or 16)
    if info.get("photometric") == "PALETTE COLOR":
        bits = 16  # the colour LUT's entries are scaled to 16 bits
    top = float(2**bits - 1)
    window = (top / 2.0 + 0.5, top + 1.0)
    display = apply_window(pixels, *window)
    return ImageData(
        pixels=pixels,
        display=display,
        window=window,
        presets={"full range": window},
        info=info,
        frames=n_frames,
    )
