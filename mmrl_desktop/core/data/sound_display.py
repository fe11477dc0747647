"""What the audio viewer draws, computed without Qt (so the prefetch thread can do it ahead).

``envelope`` (the waveform as at most ``MAX_WAVE_POINTS`` min/max points) and ``spectrogram``
(log-magnitude STFT, ``DB_RANGE`` dB, at most ``MAX_FRAMES`` frames) are pure numpy;
``sound_display(samples, rate)`` bundles both into a ``SoundDisplay``. The prefetcher
(``core/labelling/prefetch.py``) computes it on its thread, so a click on an item with sound only hands
ready arrays to the plots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_WAVE_POINTS = 4000
MAX_FRAMES = 800
DB_RANGE = 80.0


@dataclass(frozen=True)
class SoundDisplay:
    t: np.ndarray  # waveform x (seconds)
    y: np.ndarray  # waveform y
    db: np.ndarray  # spectrogram (frequency bins, frames), dB, lowest frequency first
    top: float  # the spectrogram's maximum (dB)
    peak: float  # the waveform's largest magnitude (≥ 1e-3)


def sound_display(samples: np.ndarray, rate: int) -> SoundDisplay:
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    t, y = envelope(samples, rate)
    db, top = spectrogram(samples, rate)
    peak = float(max(np.max(np.abs(y)), 1e-3)) if len(y) else 1e-3
    return SoundDisplay(t, y, db, top, peak)


def envelope(samples: np.ndarray, rate: int, max_points: int = MAX_WAVE_POINTS):
    """(t, y) for drawing: the samples themselves if short, else alternating min/max per bin."""
    n = len(samples)
    if n <= max_points:
        return np.arange(n, dtype=np.float64) / rate, samples
    bins = max_points // 2
    per = -(-n // bins)  # ceil
    pad = bins * per - n
    x = np.pad(samples, (0, pad), mode="edge") if pad else samples
    x = x.reshape(bins, per)
    y = np.empty(2 * bins, dtype=np.float32)
    y[0::2] = x.min(axis=1)
    y[1::2] = x.max(axis=1)
    t = np.repeat((np.arange(bins) * per + per / 2) / rate, 2)
    return t, y


def spectrogram(samples: np.ndarray, rate: int, max_frames: int = MAX_FRAMES):
    """Log-magnitude STFT in dB, shape (frequency bins, frames), lowest frequency first."""
    nfft = 256 if rate <= 8000 else 512 if rate <= 24000 else 1024
    x = np.asarray(samples, dtype=np.float32)
    if len(x) < nfft:
        x = np.pad(x, (0, nfft - len(x)))
    hop = max(nfft // 4, -(-(len(x) - nfft) // max_frames))
    frames = np.lib.stride_tricks.sliding_window_view(x, nfft)[::hop]
    mag = np.abs(np.fft.rfft(frames * np.hanning(nfft).astype(np.float32), axis=1))
    db = 20.0 * np.log10(mag + 1e-10)
    top = float(db.max())
    np.clip(db, top - DB_RANGE, top, out=db)
    return np.ascontiguousarray(db.T, dtype=np.float32), top
