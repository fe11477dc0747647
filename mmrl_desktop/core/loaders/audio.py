"""Audio with soundfile (libsndfile: WAV, FLAC, OGG): float32 mono, resampled with torchaudio.

Never ``torchaudio.load`` (it needs FFmpeg). torch is imported only when resampling is needed.
"""

from __future__ import annotations

import os

import numpy as np

from mmrl_desktop.core.loaders import UnreadableFile, file_size_or_raise


def _soundfile():
    import soundfile as sf

    return sf


def check_audio(path: str | os.PathLike) -> dict:
    """Validate an audio file for import by reading its header only (``sf.info``)."""
    file_size_or_raise(path)
    sf = _soundfile()
    try:
        meta = sf.info(os.fspath(path))
    except Exception:  # soundfile.LibsndfileError, RuntimeError, …
        raise UnreadableFile(
            "audio file header is broken (not a readable WAV, FLAC or OGG file)"
        ) from None
    if meta.samplerate <= 0 or meta.channels <= 0:
        raise UnreadableFile("audio file header is broken (no sample rate or channels)")
    if meta.frames <= 0:
        raise UnreadableFile("audio file has no samples")
    return {
        "sample_rate": int(meta.samplerate),
        "channels": int(meta.channels),
        "seconds": round(meta.frames / meta.samplerate, 3),
    }


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) at the file's own rate."""
    file_size_or_raise(path)
    sf = _soundfile()
    try:
        data, rate = sf.read(os.fspath(path), dtype="float32", always_2d=True)
    except Exception:
        raise UnreadableFile("audio file cannot be decoded (broken header or data)") from None
    if data.size == 0:
        raise UnreadableFile("audio file has no samples")
    wave = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(wave, dtype=np.float32), int(rate)


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling with ``torchaudio.functional.resample`` (torch imported lazily)."""
    if rate == target or wave.size == 0:
        return wave
    import torch
    import torchaudio.functional as AF

    with torch.no_grad():
        out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), int(rate), int(target))
    return out.numpy().astype(np.float32, copy=False)


def load_audio(path: str | os.PathLike, sample_rate: int | None = 16000) -> np.ndarray:
    """float32 mono samples at ``sample_rate`` (None keeps the file's rate)."""
    wave, rate = read_audio(path)
    if sample_rate is None:
        return wave
    return resample(wave, rate, int(sample_rate))
