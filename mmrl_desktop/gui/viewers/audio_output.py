"""Playback outputs for the audio viewer: the real one and the silent one, and the choice.

``AudioOutput`` is a ``sounddevice.OutputStream`` whose callback copies the next block and
advances a frame counter, so the position is exact; ``NullAudioOutput`` plays nothing and carries
the sentence that explains why. ``make_audio_output()`` picks one: PortAudio missing (importing
sounddevice raises ``OSError``), sounddevice not installed, or no default output device → null.
The stream callback runs on PortAudio's thread and touches only plain Python numbers and numpy.
"""

from __future__ import annotations

import threading

import numpy as np

NO_DEVICE = "Playback is off: no audio output device was found."
NO_PORTAUDIO = "Playback is off: the PortAudio library is not installed (libportaudio2)."
NO_SOUNDDEVICE = "Playback is off: the sounddevice package is not installed."


class NullAudioOutput:
    """A silent output: same methods as ``AudioOutput``; ``reason`` says why there is no sound."""

    available = False

    def __init__(self, reason: str = NO_DEVICE):
        self.reason = reason
        self.loaded: np.ndarray | None = None  # the samples last loaded (identity, not a copy)
        self._rate = 0
        self._n = 0
        self._pos = 0.0

    def load(self, samples: np.ndarray | None, rate: int) -> None:
        self.loaded = samples
        self._n = 0 if samples is None else len(samples)
        self._rate = rate
        self._pos = 0.0

    def play(self) -> None:
        raise RuntimeError(self.reason)

    def pause(self) -> None:
        pass

    def stop(self) -> None:
        self._pos = 0.0

    def seek(self, seconds: float) -> None:
        duration = self._n / self._rate if self._rate else 0.0
        self._pos = min(max(0.0, seconds), duration)

    def position(self) -> float:
        return self._pos

    def is_playing(self) -> bool:
        return False

    def close(self) -> None:
        pass


class AudioOutput:
    """Real playback through ``sounddevice`` (passed in, so tests can hand it a fake module)."""

    available = True
    reason = ""

    def __init__(self, sd):
        self._sd = sd
        self._lock = threading.Lock()
        self.loaded: np.ndarray | None = None  # the samples last loaded (identity, not a copy)
        self._samples = np.zeros(0, np.float32)
        self._rate = 0
        self._pos = 0  # frames; advanced by the stream callback
        self._stream = None
        self._playing = False

    def load(self, samples: np.ndarray | None, rate: int) -> None:
        self._close_stream()
        self.loaded = samples
        with self._lock:
            self._samples = (
                np.zeros(0, np.float32)
                if samples is None
                else np.ascontiguousarray(samples, dtype=np.float32).reshape(-1)
            )
            self._rate = int(rate)
            self._pos = 0

    def play(self) -> None:
        """Start (or resume) from the current position; raises if the device refuses."""
        if self._rate <= 0 or len(self._samples) == 0:
            return
        self._close_stream()
        with self._lock:
            if self._pos >= len(self._samples):
                self._pos = 0
        stream = self._sd.OutputStream(
            samplerate=self._rate,
            channels=1,
            dtype="float32",
            callback=self._callback,
            finished_callback=self._finished,
        )
        self._stream = stream
        self._playing = True
        try:
            stream.start()
        except Exception:
            self._playing = False
            self._close_stream()
            raise

    def pause(self) -> None:
        self._close_stream()

    def stop(self) -> None:
        self._close_stream()
        with self._lock:
            self._pos = 0

    def seek(self, seconds: float) -> None:
        with self._lock:
            frame = int(round(seconds * self._rate)) if self._rate else 0
            self._pos = min(max(0, frame), len(self._samples))

    def position(self) -> float:
        return self._pos / self._rate if self._rate else 0.0

    def is_playing(self) -> bool:
        return self._playing

    def close(self) -> None:
        self._close_stream()

    # PortAudio's thread: no Qt here.
    def _callback(self, outdata, frames, time_info, status) -> None:
        with self._lock:
            start = self._pos
            chunk = self._samples[start : start + frames]
            n = len(chunk)
            outdata[:n, 0] = chunk
            if n < frames:
                outdata[n:] = 0
            self._pos = start + n
        if n < frames:
            raise self._sd.CallbackStop

    def _finished(self) -> None:
        self._playing = False

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        self._playing = False
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:  # a vanished device must not take the viewer down
                pass


def _import_sounddevice():
    import sounddevice

    return sounddevice


def make_audio_output() -> AudioOutput | NullAudioOutput:
    """The real output when PortAudio and a default output device exist, else a null one."""
    try:
        sd = _import_sounddevice()
    except OSError:
        return NullAudioOutput(NO_PORTAUDIO)
    except ImportError:
        return NullAudioOutput(NO_SOUNDDEVICE)
    try:
        device = sd.query_devices(kind="output")
    except Exception:
        return NullAudioOutput(NO_DEVICE)
    if not device or int(device.get("max_output_channels", 1)) < 1:
        return NullAudioOutput(NO_DEVICE)
    return AudioOutput(sd)
