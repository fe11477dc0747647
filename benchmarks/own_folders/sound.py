"""Spoken words: espeak-ng's English voices and variants at many speeds and pitches, each word
placed at a random onset in one second of background noise, 16 kHz mono 16-bit WAV, written as
``out/<word>/<word>_<i:04d>.wav``. Needs the ``espeak-ng`` program (Debian: ``espeak-ng``)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np

WORDS = ("down", "go", "left", "no", "right", "stop", "up", "yes")
RATE = 16000
BASES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-029")


class NoEspeak(RuntimeError):
    """espeak-ng is not installed: the spoken-word set cannot be made."""


def espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise NoEspeak(
            "words: espeak-ng is not installed (Debian: apt-get install espeak-ng); set skipped."
        )
    return exe


def voices() -> list[str]:
    """English base voices, each alone and with every variant espeak-ng lists (``en-us+m3``)."""
    exe = espeak()
    out = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True).stdout
    variants = sorted(
        {ln.split()[4].split("/")[-1] for ln in out.splitlines()[1:] if len(ln.split()) >= 5}
    )
    return [*BASES, *(f"{b}+{v}" for b in BASES for v in variants)]


def say(exe: str, word: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """The word as float32 at 16 kHz (espeak-ng writes 22,050 Hz WAV to stdout)."""
    import soundfile as sf
    from scipy.signal import resample_poly

    res = subprocess.run(
        [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word],
        capture_output=True,
        timeout=30,
        check=True,
    )
    wav, sr = sf.read(io.BytesIO(res.stdout), dtype="float32")
    if wav.ndim > 1:
        wav = wav.mean(1)
    if sr != RATE:
        g = np.gcd(int(sr), RATE)
        wav = resample_poly(wav, RATE // g, int(sr) // g).astype(np.float32)
    nz = np.flatnonzero(np.abs(wav) > 1e-3)  # trim espeak's leading/trailing silence
    return wav[nz[0] : nz[-1] + 1] if nz.size else wav


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """White, pink-ish or brown-ish noise, unit RMS."""
    x = rng.normal(0, 1, n)
    colour = rng.integers(3)
    if colour:
        spec = np.fft.rfft(x)
        f = np.maximum(np.arange(spec.size), 1)
        spec /= f ** (0.5 * colour)
        x = np.fft.irfft(spec, n)
    return (x / (np.sqrt(np.mean(x**2)) + 1e-9)).astype(np.float32)


def place(word: np.ndarray, rng: np.random.Generator, seconds: float = 1.0) -> np.ndarray:
    """The word at a random onset in ``seconds`` of noise at 5–25 dB SNR, peak ≤ 0.9."""
    n = int(RATE * seconds)
    word = word[:n]
    out = np.zeros(n, np.float32)
    start = int(rng.integers(0, n - word.size + 1))
    out[start : start + word.size] = word * rng.uniform(0.3, 1.0)
    rms = np.sqrt(np.mean(word**2)) * 0.65 + 1e-6
    snr_db = rng.uniform(5, 25)
    out += _noise(rng, n) * rms / (10 ** (snr_db / 20))
    return out * min(1.0, 0.9 / (np.abs(out).max() + 1e-9))


def _say_some_voice(exe: str, word: str, vs: list[str], rng: np.random.Generator) -> np.ndarray:
    """The word in a random voice, speed and pitch; another voice if espeak-ng refuses one."""
    for _ in range(5):
        voice = vs[int(rng.integers(len(vs)))]
        speed, pitch = int(rng.integers(110, 230)), int(rng.integers(10, 90))
        try:
            wav = say(exe, word, voice, speed, pitch)
        except (subprocess.CalledProcessError, RuntimeError):
            continue
        if wav.size > RATE // 20:
            return wav
    return say(exe, word, BASES[0], 160, 50)


def write_words(out: Path, per_class: int = 60, seed: int = 0, words=WORDS) -> dict:
    """``per_class`` clips of each of ``words`` (by default all of ``WORDS``) in
    ``out/<word>/<word>_<i:04d>.wav``."""
    import soundfile as sf

    exe = espeak()
    vs = voices()
    rng = np.random.default_rng(seed)
    for i in range(per_class):
        for word in words:
            wav = place(_say_some_voice(exe, word, vs, rng), rng)
            folder = out / word
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{word}_{i:04d}.wav", wav, RATE, subtype="PCM_16")
    return {"classes": len(words), "items": per_class * len(words), "voices": len(vs)}
