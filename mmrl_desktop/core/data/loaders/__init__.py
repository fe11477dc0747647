"""Loaders turn files into numpy arrays and str (never Qt types).

This package picks the loader for a file (``load_image``, ``load_audio``, ``load_text``,
``check_file``, ``kind_of``); the format modules (``image``, ``dicom``, ``audio``, ``text``) decode,
and what they all share — ``ImageData`` (what image and DICOM loaders return and what the image
viewer and the model's featurizer consume), ``UnreadableFile``, the regular-file checks, the size
guard, ``item_file`` — is in ``loaders/base.py`` and re-exported here. The format modules import
``base``, never this package: no import goes back up (ADR 0012).
"""

from __future__ import annotations

import os

import numpy as np

from mmrl_desktop.core.data.items import AUDIO_SUFFIXES, IMAGE_SUFFIXES, TEXT_SUFFIXES
from mmrl_desktop.core.data.loaders.base import (
    DICOM_SUFFIXES,
    MAX_PIXELS,
    MAX_VOLUME_PIXELS,
    MODEL_MAX_SIDE,
    SOURCE_ROOT,
    ImageData,
    UnreadableFile,
    apply_window,
    check_pixels,
    file_size_or_raise,
    has_dicom_preamble,
    is_dicom_path,
    item_file,
    open_regular,
    reduction,
    regular_file_reason,
)

__all__ = [
    "DICOM_SUFFIXES",
    "MAX_PIXELS",
    "MAX_VOLUME_PIXELS",
    "MODEL_MAX_SIDE",
    "SOURCE_ROOT",
    "ImageData",
    "UnreadableFile",
    "apply_window",
    "check_file",
    "check_pixels",
    "file_size_or_raise",
    "has_dicom_preamble",
    "is_dicom_path",
    "item_file",
    "kind_of",
    "load_audio",
    "load_image",
    "load_text",
    "open_regular",
    "reduction",
    "regular_file_reason",
]


def load_image(path: str | os.PathLike, frame: int = 0, max_side: int | None = None) -> ImageData:
    """Decode an image or DICOM file (picked by suffix, or by the DICM preamble) to ``ImageData``.

    ``max_side``: an image whose longer side is at least twice this is reduced by an integer
    factor while it is decoded (JPEG: by the decoder itself), for readers that need no more (the
    model). Images over the size guard (``check_pixels``) are refused before decoding."""
    if is_dicom_path(path):
        from mmrl_desktop.core.data.loaders.dicom import load_dicom

        return load_dicom(path, frame=frame, max_side=max_side)
    from mmrl_desktop.core.data.loaders.image import load_pillow_image

    return load_pillow_image(path, max_side=max_side)


def load_audio(
    path: str | os.PathLike, sample_rate: int | None = 16000, max_seconds: float | None = None
) -> np.ndarray:
    """float32 mono samples, resampled to ``sample_rate`` (None: the file's own rate). Only the
    first ``max_seconds`` are read (and never more than ``audio.MAX_AUDIO_SAMPLES``)."""
    from mmrl_desktop.core.data.loaders.audio import load_audio as _load

    return _load(path, sample_rate, max_seconds)


def load_text(path: str | os.PathLike | None = None, inline: str | None = None) -> str:
    """The text of a UTF-8 ``.txt`` file (BOM stripped), or ``inline`` when given."""
    from mmrl_desktop.core.data.loaders.text import load_text as _load

    return _load(path, inline)


def check_file(path: str, kind: str) -> dict:
    """Validate one file as ``kind`` (image, dicom, audio, text) without decoding pixels.
    Returns display info for ``Item.info`` (DICOM only keeps it); raises ``UnreadableFile``."""
    if kind == "dicom":
        from mmrl_desktop.core.data.loaders.dicom import check_dicom

        return check_dicom(path)
    if kind == "image":
        from mmrl_desktop.core.data.loaders.image import check_image

        return check_image(path)
    if kind == "audio":
        from mmrl_desktop.core.data.loaders.audio import check_audio

        return check_audio(path)
    from mmrl_desktop.core.data.loaders.text import check_text

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
