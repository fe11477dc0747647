"""Ordinary images with Pillow: PNG, JPEG, BMP, TIFF (8/16-bit, grey/RGB/palette, alpha, EXIF).

``check_image`` validates a file at import time without decoding its pixels (header, chunk CRCs,
end markers, declared sizes, decompression-bomb guard); ``load_pillow_image`` decodes it for display
and for the model.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from mmrl_desktop.core.data.loaders.base import (
    MAX_PIXELS,
    ImageData,
    UnreadableFile,
    apply_window,
    check_pixels,
    file_size_or_raise,
    open_regular,
    reduction,
)


def _open(path: str | os.PathLike) -> Image.Image:
    """``Image.open`` with every failure turned into an ``UnreadableFile`` sentence; the size
    guard (``loaders.check_pixels``) is checked on the header, before any pixel is decoded.
    Pillow's own decompression-bomb error, which fires only above twice its 89-megapixel
    threshold, is reported with the same sentence."""
    file_size_or_raise(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    except Image.DecompressionBombError:
        with open_regular(path) as fh:  # read the declared size only, for the sentence
            w, h = _png_declared_size(fh.read(24)) or (0, 0)
        if w and h:
            check_pixels(w, h)
        raise UnreadableFile(
            f"image is too large (over {MAX_PIXELS / 1e6:.0f} megapixels, a guard against "
            "decompression bombs and running out of memory)"
        ) from None
    except UnidentifiedImageError:
        raise UnreadableFile(_unidentified_reason(path)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        if "truncated" in str(err).lower() or isinstance(err, EOFError):
            raise UnreadableFile("image is truncated") from None
        raise UnreadableFile(f"image header is broken ({err})") from None
    w, h = im.size
    try:
        check_pixels(w, h)
    except UnreadableFile:
        im.close()
        raise
    if w == 0 or h == 0:
        im.close()
        raise UnreadableFile("image has no pixels (zero width or height)")
    return im


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _unidentified_reason(path) -> str:
    """Why Pillow could not identify a file. A PNG or JPEG cut short inside or just after its
    header is not identified at all, yet it is truncated like one cut later (which Pillow opens
    and ``check_image`` reports as "image is truncated"): one reason for both."""
    with open_regular(path) as fh:
        head = fh.read(8)
        if head == PNG_SIGNATURE:
            return _png_reason(fh)
        if head[:3] == b"\xff\xd8\xff":  # a JPEG's start of image
            fh.seek(0, os.SEEK_END)
            fh.seek(max(8, fh.tell() - 4096))
            if b"\xff\xd9" not in fh.read():
                return "image is truncated"
            return "image header is broken"
    return "not an image file, or an image format that is not supported"


def _png_file_reason(path) -> str:
    with open_regular(path) as fh:
        fh.seek(8)
        return _png_reason(fh)


def _png_reason(fh) -> str:
    """Says "image is truncated" when the file ends before the PNG's chunks reach IEND (``fh`` is
    past the signature); "image header is broken" when it does not start with its IHDR chunk."""
    size = os.fstat(fh.fileno()).st_size
    first = fh.read(8)
    if len(first) == 8 and (first[4:8] != b"IHDR" or first[:4] != (13).to_bytes(4, "big")):
        return "image header is broken (a PNG must start with its IHDR chunk)"
    pos = 8
    while pos + 8 <= size:
        fh.seek(pos)
        head = fh.read(8)
        pos += 12 + int.from_bytes(head[:4], "big")
        if head[4:8] == b"IEND":
            break
    else:
        return "image is truncated"
    return "image is truncated" if pos > size else "image header is broken"


def _png_declared_size(head: bytes) -> tuple[int, int] | None:
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def check_image(path: str | os.PathLike) -> dict:
    """Validate an image file for import without decoding its pixels.

    Returns cheap display info (format, size, mode). Raises ``UnreadableFile`` with a sentence.
    """
    im = _open(path)
    try:
        fmt = im.format or ""
        info = {"format": fmt, "width": im.size[0], "height": im.size[1], "mode": im.mode}
        file_size = os.path.getsize(path)
        if fmt == "JPEG":
            _check_jpeg_end(path, file_size)
        elif fmt == "TIFF":
            _check_tiff_strips(im, file_size)
        else:
            _check_raw_tiles(im, file_size)
        if fmt == "PNG" and _png_file_reason(path) == "image is truncated":
            raise UnreadableFile("image is truncated")  # cut inside a chunk, even the last
        try:
            im.verify()  # PNG: walks every chunk and checks its CRC (no zlib decoding)
        except Exception as err:  # Pillow raises many types for broken files
            raise UnreadableFile(_broken_reason(err)) from None
    finally:
        im.close()
    return info


def _broken_reason(err: Exception) -> str:
    text = str(err).lower()
    if "truncated" in text or isinstance(err, EOFError):
        return "image is truncated"
    if "crc" in text:
        return "image data is corrupted (checksum mismatch)"
    return f"image data is broken ({err})"


def _check_jpeg_end(path, file_size: int) -> None:
    """A complete JPEG ends with the EOI marker FF D9 (some writers add a little padding)."""
    with open_regular(path) as fh:
        fh.seek(max(0, file_size - 4096))
        tail = fh.read()
    if b"\xff\xd9" not in tail:
        raise UnreadableFile("image is truncated")


def _check_raw_tiles(im: Image.Image, file_size: int) -> None:
    """Uncompressed formats (BMP, …): the declared rows must fit in the file."""
    for tile in getattr(im, "tile", None) or []:
        try:
            name, extents, offset, args = tile[0], tile[1], tile[2], tile[3]
        except (IndexError, TypeError):
            continue
        if name != "raw" or not isinstance(args, tuple) or len(args) < 2:
            continue
        stride = args[1]
        if isinstance(stride, int) and stride > 0:
            rows = extents[3] - extents[1]
            if offset + stride * rows > file_size:
                raise UnreadableFile("image is truncated")


def _check_tiff_strips(im: Image.Image, file_size: int) -> None:
    """TIFF: every strip or tile (offset + byte count) must lie inside the file."""
    tags = getattr(im, "tag_v2", None)
    if tags is None:
        return
    for off_tag, count_tag in ((273, 279), (324, 325)):  # strips, tiles
        offsets, counts = tags.get(off_tag), tags.get(count_tag)
        if offsets is None or counts is None:
            continue
        offsets = offsets if isinstance(offsets, tuple) else (offsets,)
        counts = counts if isinstance(counts, tuple) else (counts,)
        for o, c in zip(offsets, counts, strict=False):
            if int(o) + int(c) > file_size:
                raise UnreadableFile("image is truncated")


# ------------------------------------------------------------------ decoding
def load_pillow_image(path: str | os.PathLike, max_side: int | None = None) -> ImageData:
    """Decode an ordinary image: EXIF orientation applied, palette converted, alpha flattened.

    ``pixels`` keep the file's units (0..255, or 0..65535 for 16-bit); 16-bit and float images are
    windowed by their min/max into ``display``. With ``max_side`` a large image is reduced while
    it is decoded (see ``loaders.load_image``).
    """
    im = _open(path)
    try:
        fmt = im.format or ""
        try:
            im = _decode(im, max_side)
        except Exception as err:
            raise UnreadableFile(_broken_reason(err)) from None
        try:
            im = ImageOps.exif_transpose(im)
        except Exception:  # a broken EXIF block only loses the orientation
            pass
        info = {"format": fmt, "mode": im.mode}
        pixels, eight_bit = _to_array(im)
    finally:
        im.close()
    if eight_bit:
        display = np.clip(pixels, 0, 255).astype(np.uint8)
        return ImageData(pixels=pixels, display=display, info=info)
    window = min_max_window(pixels)
    display = apply_window(pixels, *window)
    info["bits"] = 16 if info["mode"].startswith("I;16") else 32
    return ImageData(
        pixels=pixels, display=display, window=window, presets={"full range": window}, info=info
    )


def _decode(im: Image.Image, max_side: int | None) -> Image.Image:
    """Load the pixels; reduced by an integer factor when ``max_side`` asks for it (JPEG: the
    decoder itself scales by 1/2, 1/4 or 1/8, so the full image is never in memory)."""
    factor = reduction(*im.size, max_side)
    if factor > 1 and im.format == "JPEG":
        im.draft(im.mode, (im.size[0] // factor, im.size[1] // factor))
    im.load()
    factor = reduction(*im.size, max_side)
    if factor <= 1:
        return im
    size = (max(1, im.size[0] // factor), max(1, im.size[1] // factor))
    try:
        small = im.reduce(factor)  # box average
    except ValueError:  # modes reduce() does not take ("1", "P", "I;16"): nearest pixel
        small = im.resize(size, Image.NEAREST)
    small.format = im.format
    im.close()
    return small


def min_max_window(pixels: np.ndarray) -> tuple[float, float]:
    """(centre, width) that maps the array's min..max onto 0..255 with ``apply_window``."""
    finite = pixels[np.isfinite(pixels)]
    if finite.size == 0:
        return 0.5, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    return (lo + hi) / 2.0 + 0.5, hi - lo + 1.0


def _to_array(im: Image.Image) -> tuple[np.ndarray, bool]:
    """(float32 H×W or H×W×3 array, whether it is 8-bit)."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return np.asarray(im).astype(np.float32), False
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.float32), True
    if mode in ("LA", "La", "PA", "RGBA", "RGBa"):
        return _flatten_alpha(im), True
    if mode != "RGB":
        im = im.convert("RGB")  # CMYK, YCbCr, LAB, HSV, …
    arr = np.asarray(im, dtype=np.float32)
    return arr, True


def _flatten_alpha(im: Image.Image) -> np.ndarray:
    """Composite over black or white, whichever contrasts with the visible content (dark ink on a
    transparent page goes on white, a light logo on black)."""
    grey = im.mode in ("LA", "La")
    rgba = im.convert("LA" if grey else "RGBA")
    arr = np.asarray(rgba, dtype=np.float32)
    colour, alpha = arr[..., :-1], arr[..., -1:] / 255.0
    weight = float(alpha.sum())
    mean = float((colour * alpha).sum() / (weight * colour.shape[-1])) if weight > 0 else 0.0
    background = 255.0 if mean < 128.0 else 0.0
    out = colour * alpha + background * (1.0 - alpha)
    out = np.round(out)
    return out[..., 0] if grey else out
