"""A progress bar on stderr for the long commands (import, evaluate, predict, export, train),
drawn only when stderr is a terminal: never into a pipe, a log file or a test's capture, and never
on stdout, so ``--json`` output stays one JSON object.

    with Bar("predicting", unit="items") as bar:
        predict_source(project, source, progress=bar)     # bar(done, total), redrawn in place
    # → "predicting [########            ]  40/100 items · 2.1 s", erased when the block ends

A ``Bar`` is the ``report(done, total)`` callable a core function or a ``core.tasks.TaskState``
takes. ``total`` 0 or less draws a count without a bar (the total is not known yet).
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import time

REDRAW_EVERY_S = 0.1  # at most this often, except the last step (done == total)
BAR_WIDTH = 24


def is_terminal(stream) -> bool:
    """True when ``stream`` is an interactive terminal (not a pipe, a file or None)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


def terminal_columns(stream) -> int:
    """The width of the terminal ``stream`` writes to (stderr's own, even when stdout is a pipe);
    ``COLUMNS`` or 80 where it cannot be told."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        columns = 0
    return columns or shutil.get_terminal_size((80, 24)).columns


def bar_text(label: str, done: int, total: int, unit: str = "", seconds: float = 0.0) -> str:
    """``label [#####     ]  12/40 unit · 3.2 s`` (a count alone when ``total`` is unknown)."""
    tail = f" · {seconds:.1f} s"
    if total <= 0:
        return f"{label} {done} {unit}".rstrip() + tail
    frac = min(max(done / total, 0.0), 1.0)
    filled = int(round(frac * BAR_WIDTH))
    bar = "#" * filled + " " * (BAR_WIDTH - filled)
    count = f"{done:>{len(str(total))}}/{total}"
    return f"{label} [{bar}] {count} {unit}".rstrip() + tail


class Bar:
    """One line redrawn in place (``\\r``) on ``stream`` (stderr); silent unless a terminal."""

    def __init__(self, label: str, unit: str = "", stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = is_terminal(self.stream)
        self.label, self.unit = label, unit
        self._start = time.monotonic()
        self._last_draw = float("-inf")
        self._width = 0

    def __call__(self, done: int, total: int) -> None:
        self.update(done, total)

    def update(
        self, done: int, total: int, label: str | None = None, unit: str | None = None
    ) -> None:
        """Show ``done`` of ``total`` (with ``label`` and ``unit`` from now on, when given)."""
        if label is not None:
            self.label = label
        if unit is not None:
            self.unit = unit
        now = time.monotonic()
        if not self.enabled or (now - self._last_draw < REDRAW_EVERY_S and done < total):
            return
        self._last_draw = now
        self.draw(bar_text(self.label, done, total, self.unit, now - self._start))

    def draw(self, text: str) -> None:
        """Replace the line with ``text`` (cut to the terminal's width, so it never wraps)."""
        if not self.enabled:
            return
        columns = terminal_columns(self.stream)
        text = text[: max(10, columns - 1)]
        pad = " " * max(0, self._width - len(text))
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self._width = len(text)

    def close(self) -> None:
        """Erase the line, so that what is printed next starts clean."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
