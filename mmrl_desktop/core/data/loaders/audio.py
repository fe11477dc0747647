"""Audio with soundfile (libsndfile: WAV, FLAC, OGG): float32 mono, resampled with torchaudio.

Never ``torchaudio.load`` (it needs FFmpeg). torch is imported only when resampling is needed.
Only the part that is used is decoded: the first ``max_seconds`` (the model reads its
``audio_seconds``), and never more than ``MAX_AUDIO_SAMPLES`` samples whatever the header claims,
mixed to mono block by block so the channels never multiply the memory.
"""

from __future__ import annotations

import os

import numpy as np

from mmrl_desktop.core.data.loaders.base import UnreadableFile, file_size_or_raise, open_regular

# At most this many (mono) samples are decoded: 128 MB of float32, 11.6 minutes at 48 kHz. A longer
# file (a 4 GB WAV is 6 hours) is read from its start up to this length.
MAX_AUDIO_SAMPLES = 32 * 1024 * 1024
_BLOCK_VALUES = 1 << 20  # samples × channels decoded per block
# Samples read past ``max_seconds`` so that resampling the cut gives the same first seconds.
_RESAMPLE_MARGIN_S = 0.1


def _soundfile():
    import soundfile as sf

    return sf


def check_audio(path: str | os.PathLike) -> dict:
    """Validate an audio file for import by reading its header only (``sf.info``)."""
    file_size_or_raise(path)
    sf = _soundfile()
    try:
        with open_regular(path) as fh:
            meta = sf.info(fh)
    except UnreadableFile:
        raise
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


def read_audio(path: str | os.PathLike, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """(float32 mono samples, sample rate) at the file's own rate: the first ``max_seconds``
    (None: the whole file), at most ``MAX_AUDIO_SAMPLES``."""
    file_size_or_raise(path)
    sf = _soundfile()
    with open_regular(path) as fh:
        try:
            with sf.SoundFile(fh) as snd:
                rate, channels, frames = int(snd.samplerate), int(snd.channels), int(snd.frames)
                limit = min(frames, MAX_AUDIO_SAMPLES) if frames > 0 else MAX_AUDIO_SAMPLES
                if max_seconds is not None:
                    limit = min(limit, int(np.ceil(max_seconds * rate)))
                wave = _read_mono(snd, max(0, limit), channels)
        except UnreadableFile:
            raise
        except Exception:
            raise UnreadableFile("audio file cannot be decoded (broken header or data)") from None
    if wave.size == 0:
        raise UnreadableFile("audio file has no samples")
    return wave, rate


def _read_mono(snd, limit: int, channels: int) -> np.ndarray:
    """Up to ``limit`` frames, mixed to mono block by block (a header that claims more frames
    than the file holds ends the read early)."""
    out = np.empty(limit, np.float32)
    block = max(1, _BLOCK_VALUES // max(1, channels))
    done = 0
    while done < limit:
        data = snd.read(min(block, limit - done), dtype="float32", always_2d=True)
        n = len(data)
        if n == 0:
            break
        out[done : done + n] = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
        done += n
    return out[:done] if done < limit else out


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling with ``torchaudio.functional.resample`` (torch imported lazily)."""
    if rate == target or wave.size == 0:
        return wave
    import torch
    import torchaudio.functional as AF

    with torch.no_grad():
        out = AF.resample(torch.from_numpy(np.ascontiguousarray(wave)), int(rate), int(target))
    return out.numpy().astype(np.float32, copy=False)


def load_audio(
    path: str | os.PathLike, sample_rate: int | None = 16000, max_seconds: float | None = None
) -> np.ndarray:
    """float32 mono samples at ``sample_rate`` (None keeps the file's rate): the first
    ``max_seconds`` of the file (None: as much as ``MAX_AUDIO_SAMPLES`` allows)."""
    read_for = None if max_seconds is None else max_seconds + _RESAMPLE_MARGIN_S
    wave, rate = read_audio(path, read_for)
    if sample_rate is not None:
        wave = resample(wave, rate, int(sample_rate))
        rate = int(sample_rate)
    if max_seconds is not None:
        wave = wave[: int(np.ceil(max_seconds * rate))]
    return wave
