"""Loaders turn files into numpy arrays and str (never Qt types).

``ImageData`` is what image and DICOM loaders return and what the image viewer and the model's
featurizer consume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from mmrl_desktop.core.items import AUDIO_SUFFIXES, IMAGE_SUFFIXES, TEXT_SUFFIXES


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


def file_size_or_raise(path: str | os.PathLike) -> int:
    """The file's size; an unreadable or empty file is an ``UnreadableFile`` sentence."""
    try:
        size = os.path.getsize(path)
    except OSError as err:
        raise UnreadableFile(f"file cannot be read ({err.strerror or err})") from None
    if size == 0:
        raise UnreadableFile("file is empty")
    return size


DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})


def has_dicom_preamble(path: str | os.PathLike) -> bool:
    """True when the file carries the DICOM Part 10 marker ``DICM`` after its 128-byte preamble."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def is_dicom_path(path: str | os.PathLike) -> bool:
    """DICOM by suffix (``.dcm``) or, for a file without a suffix, by the ``DICM`` preamble."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in DICOM_SUFFIXES:
        return True
    return suffix == "" and has_dicom_preamble(path)


def load_image(path: str | os.PathLike, frame: int = 0) -> ImageData:
    """Decode an image or DICOM file (picked by suffix, or by the DICM preamble) to ``ImageData``."""
    if is_dicom_path(path):
        from mmrl_desktop.core.loaders.dicom import load_dicom

        return load_dicom(path, frame=frame)
    from mmrl_desktop.core.loaders.image import load_pillow_image

    return load_pillow_image(path)


def load_audio(path: str | os.PathLike, sample_rate: int | None = 16000) -> np.ndarray:
    """float32 mono samples, resampled to ``sample_rate`` (None: the file's own rate)."""
    from mmrl_desktop.core.loaders.audio import load_audio as _load

    return _load(path, sample_rate)


def load_text(path: str | os.PathLike | None = None, inline: str | None = None) -> str:
    """The text of a UTF-8 ``.txt`` file (BOM stripped), or ``inline`` when given."""
    from mmrl_desktop.core.loaders.text import load_text as _load

    return _load(path, inline)


def check_file(path: str, kind: str) -> dict:
    """Validate one file as ``kind`` (image, dicom, audio, text) without decoding pixels.
    Returns display info for ``Item.info`` (DICOM only keeps it); raises ``UnreadableFile``."""
    if kind == "dicom":
        from mmrl_desktop.core.loaders.dicom import check_dicom

        return check_dicom(path)
    if kind == "image":
        from mmrl_desktop.core.loaders.image import check_image

        return check_image(path)
    if kind == "audio":
        from mmrl_desktop.core.loaders.audio import check_audio

        return check_audio(path)
    from mmrl_desktop.core.loaders.text import check_text

    return check_text(path)


def kind_of(name: str, path: str) -> str | None:
    """image/dicom/audio/text for a recognised file name (extension-less: DICM preamble)."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix == ".dcm":
        return "dicom"
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in AUDIO_SUFFIXES:
        return "audio"
    if suffix in TEXT_SUFFIXES:
        return "text"
    if suffix == "" and has_dicom_preamble(path):
        return "dicom"
    return None
