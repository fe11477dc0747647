"""What ``mmrl-desktop train`` needs around the trainer: a stop on Ctrl+C or SIGTERM after the
current update, and a progress line on stderr when stderr is a terminal (never on stdout).

A stopped run exits with 128 + the signal's number (130 for Ctrl+C, 143 for SIGTERM), as a shell
does, after saving its checkpoint: see docs/cli.md.
"""

from __future__ import annotations

import signal
import time

PROGRESS_EVERY_S = 0.2  # redraw the progress line at most this often


class StopSignals:
    """SIGINT and SIGTERM set a flag instead of killing the process; the training loop looks at
    it between updates. ``restore()`` puts the previous handlers back."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, object] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread (e.g. called from a test's thread)
                pass

    def _handle(self, signum, _frame) -> None:
        self.signum = signum

    def requested(self) -> bool:
        return self.signum is not None

    @property
    def exit_code(self) -> int:
        return 128 + int(self.signum or 0)

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


class Progress:
    """``training: 120/1200 updates · loss 0.4321 · 45 updates/s`` redrawn in place on stderr;
    silent when stderr is not a terminal (a log file, a pipe, a test). Drawn by
    ``commands.progress.Bar``, as the other commands' bars."""

    def __init__(self, total: int, stream=None) -> None:
        from mmrl_desktop.commands.progress import Bar

        self.total = total
        self.bar = Bar("training", "updates", stream)
        self.enabled = self.bar.enabled
        self._start = time.monotonic()
        self._last_draw = 0.0

    def update(self, done: int, loss: float | None = None) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._last_draw < PROGRESS_EVERY_S and done < self.total):
            return
        self._last_draw = now
        rate = done / max(now - self._start, 1e-9)
        text = f"training: {done}/{self.total} updates"
        if loss is not None:
            text += f" · loss {loss:.4f}"
        text += f" · {rate:.0f} updates/s"
        self.bar.draw(text)

    def clear(self) -> None:
        """Erase the progress line, so that the next line starts clean."""
        self.bar.close()
