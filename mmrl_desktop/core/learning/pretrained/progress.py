"""Where the embedding progress goes: the trainer process sends it to the window's status bar.

Torch-free, so the trainer loop can set the sink before anything heavy is imported.
"""

from __future__ import annotations

import time

_sink: list = [None]  # where prefill reports (done, total): the trainer process's status


def report_progress_to(progress) -> None:
    """``progress(done, total)`` from now on receives the embedding progress of ``prefill``
    (the trainer process sends it to the window's status bar); None: nowhere."""
    _sink[0] = progress


def report(done: int, total: int) -> None:
    """Tell the sink, if there is one."""
    if _sink[0] is not None:
        _sink[0](done, total)


def sink():
    """The current sink (None: nowhere)."""
    return _sink[0]


def throttled(send, every_s: float = 0.5):
    """``send(done, total)`` at most every ``every_s`` seconds, and always at the end."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= every_s:
            last[0] = now
            send(done, total)

    return report


def embedding_metrics(send):
    """A progress callback sending ``{"embeddings/done", "embeddings/total"}`` through
    ``send(metrics)``, at most twice a second (the trainer process → the status bar)."""
    return throttled(lambda d, t: send({"embeddings/done": float(d), "embeddings/total": float(t)}))
