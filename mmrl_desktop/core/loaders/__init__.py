"""Loaders turn files into numpy arrays and str (never Qt types).

``ImageData`` is what image and DICOM loaders return and what the image viewer and the model's
featurizer consume.
"""

from __future__ import annotations

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
