"""What every loader shares: ``ImageData``, ``UnreadableFile``, the regular-file checks, the one
size guard for images, the one way to an item's file, DICOM detection and the display window.

Its own module so that the format loaders (``image``, ``dicom``, ``audio``, ``text``) import it
and the package (``loaders/__init__.py``, which picks a loader by file kind) imports them, with
no module importing back (ADR 0012). ``loaders`` re-exports every name here.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

import numpy as np


@dataclass
class ImageData:
    """A decoded image.

    pixels:  float32, H×W (grey) or H×W×3 (RGB), in the file's own units after the modality LUT
             (Hounsfield units for CT; 0..255 or 0..65535 for ordinary images).
    display: uint8, same shape, after the VOI LUT / window (what is shown and what the model sees).
    window:  (centre, width) used to make ``display``, or None for ordinary 8-bit images.
    presets: window presets by name (e.g. "file", "lung", "bone", "soft tissue", "brain"), in the
             units of ``pixels``. Empty for ordinary photos.
    info:    display-only tags (modality, body part, photometric, frames, …); never patient
             identifiers.
    frames:  number of frames in the file (multi-frame DICOM); ``pixels`` holds one frame.
    """

    pixels: np.ndarray
    display: np.ndarray
    window: tuple[float, float] | None = None
    presets: dict[str, tuple[float, float]] = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    frames: int = 1


def apply_window(pixels: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Linear window (DICOM PS3.3 C.11.2.1.2, 'LINEAR') to uint8."""
    width = max(float(width), 1.0)
    lo = centre - 0.5 - (width - 1) / 2
    out = (pixels.astype(np.float32) - lo) / max(width - 1, 1.0)
    return (np.clip(out, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class UnreadableFile(ValueError):
    """A file that cannot be read as what its name says. ``str(err)`` is one sentence for a user,
    e.g. "image is truncated" or "DICOM file has no pixel data"."""


def _not_regular(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        what = "a FIFO"
    elif stat.S_ISSOCK(mode):
        what = "a socket"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        what = "a device"
    elif stat.S_ISDIR(mode):
        what = "a folder"
    else:
        what = "an unknown kind of file"
    return f"not a regular file ({what}); only regular files are read"


def regular_file_reason(path: str | os.PathLike) -> str | None:
    """None for a regular file (symbolic links are followed), else the reason it is not read.

    FIFOs, sockets, devices and folders are never opened: opening a FIFO waits for a writer
    forever, and a device such as ``/dev/zero`` never ends."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"file cannot be read ({err.strerror or err})"
    return None if stat.S_ISREG(mode) else _not_regular(mode)


def file_size_or_raise(path: str | os.PathLike) -> int:
    """The size of a regular file; an unreadable, empty or non-regular file (FIFO, socket,
    device, folder) is an ``UnreadableFile`` sentence. Every loader calls it before opening."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise UnreadableFile(f"file cannot be read ({err.strerror or err})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(_not_regular(st.st_mode))
    if st.st_size == 0:
        raise UnreadableFile("file is empty")
    return st.st_size


def open_regular(path: str | os.PathLike):
    """A binary file object for a regular file, opened without blocking and checked on the open
    descriptor (so a FIFO swapped in after a ``stat`` cannot hang the read); else ``UnreadableFile``.
    """
    reason = regular_file_reason(path)
    if reason:
        raise UnreadableFile(reason)
    nonblock = getattr(os, "O_NONBLOCK", 0)  # POSIX only; Windows has no FIFOs to hang on
    flags = os.O_RDONLY | nonblock | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        raise UnreadableFile(f"file cannot be read ({err.strerror or err})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnreadableFile(_not_regular(mode))
        if nonblock:  # on Windows set_blocking exists (3.12+) but works only on pipes
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except UnreadableFile:
        os.close(fd)
        raise
    except OSError as err:
        os.close(fd)
        raise UnreadableFile(f"file cannot be read ({err.strerror or err})") from None


# ------------------------------------------------------------------ the one size guard for images
# One decoded image (or one frame of a volume) may have at most MAX_PIXELS pixels: 64 megapixels
# holds a 48-megapixel photo, a mammogram (~30) and any CT/MR/X-ray slice, and decoding it for the
# viewer (decoder buffer + float32 pixels + uint8 display, ~16 bytes a pixel) stays near 1 GB.
# A volume (all frames of a multi-frame DICOM, read whole by pydicom) may have 4× that in voxels.
MAX_PIXELS = 64_000_000
MAX_VOLUME_PIXELS = 4 * MAX_PIXELS
# The model sees at most 64×64 pixels: large images are reduced while decoding to this side.
MODEL_MAX_SIDE = 1024


def check_pixels(width: int, height: int, frames: int = 1) -> None:
    """The size guard for every image and volume, checked from the header before decoding."""
    pixels = int(width) * int(height)
    if pixels > MAX_PIXELS:
        raise UnreadableFile(
            f"image is too large ({width}×{height} = {pixels / 1e6:.0f} megapixels; the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels, a guard against decompression bombs and running "
            "out of memory)"
        )
    if pixels * max(1, int(frames)) > MAX_VOLUME_PIXELS:
        raise UnreadableFile(
            f"image volume is too large ({width}×{height}×{frames} frames = "
            f"{pixels * frames / 1e6:.0f} megapixels; the limit is "
            f"{MAX_VOLUME_PIXELS / 1e6:.0f} megapixels over all frames, a guard against running "
            "out of memory)"
        )


def reduction(width: int, height: int, max_side: int | None) -> int:
    """The integer factor that brings the longer side below 2 × ``max_side`` (1: no reduction,
    so images under twice ``max_side`` are decoded exactly as they are)."""
    if not max_side:
        return 1
    return max(1, max(int(width), int(height)) // int(max_side))


# ------------------------------------------------------------------ the one way to an item's file
SOURCE_ROOT = "source_root"  # Item.info key: the real path of the folder the item came from


def _inside(folder: str, path: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def item_file(item, slot: str) -> str:
    """The path of ``item``'s ``slot`` file (image, audio, text), checked before every read: a
    regular file, and still inside the folder it was imported from (``Item.info["source_root"]``,
    resolved now, so a source folder moved and linked back still works). A file replaced after
    import by a symbolic link leading elsewhere is refused with ``UnreadableFile``. Items imported
    before the root was recorded must at least not be a link leading out of their own folder."""
    path = getattr(item, slot, None)
    if not path:
        raise UnreadableFile(f"the item has no {slot} file")
    root = (item.info or {}).get(SOURCE_ROOT) or os.path.dirname(os.path.abspath(path))
    real = os.path.realpath(path)
    if not _inside(os.path.realpath(root), real):
        raise UnreadableFile(
            "file now leads outside the folder it was imported from (through a symbolic link); "
            "it is not read"
        )
    file_size_or_raise(real)
    return path


DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})


def has_dicom_preamble(path: str | os.PathLike) -> bool:
    """True when the file carries the DICOM Part 10 marker ``DICM`` after its 128-byte preamble."""
    try:
        with open_regular(path) as fh:
            head = fh.read(132)
    except (OSError, UnreadableFile):
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def is_dicom_path(path: str | os.PathLike) -> bool:
    """DICOM by suffix (``.dcm``) or, for a file without a suffix, by the ``DICM`` preamble."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in DICOM_SUFFIXES:
        return True
    return suffix == "" and has_dicom_preamble(path)
