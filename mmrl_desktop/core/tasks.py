"""TaskState: how long core work reports progress and hears a request to stop. Qt-free.

Long functions of the core (``importer.import_source``, ``evaluate.evaluate_project``) take an
optional ``state`` — Orange3's ``run_mds(…, state)`` idea — and call ``state.progress(done,
total)`` and ``state.should_stop()``; ``gui/background.py`` runs them on a thread with a state
whose progress becomes a Qt signal, the command line may pass one that draws a bar, a test a
plain one it cancels itself:

    state = TaskState(lambda done, total: print(done, total))
    import_source(src, project, state=state)      # state.cancel() from another thread stops it
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

PROGRESS_INTERVAL_S = 0.05


class Cancelled(Exception):  # noqa: N818 — raised by TaskState.check() to unwind cooperatively
    """The user cancelled; the task stops where it is."""


class TaskState:
    """What the work function sees: report progress, ask whether to stop. Thread-safe.

    ``report(done, total)`` receives the progress, throttled to one call per ``interval`` seconds
    (the last step, done == total, always goes through)."""

    def __init__(
        self,
        report: Callable[[int, int], None] | None = None,
        interval: float = PROGRESS_INTERVAL_S,
    ):
        self._stop = threading.Event()
        self._report = report
        self._interval = interval
        self._last = 0.0

    def cancel(self) -> None:
        self._stop.set()

    def should_stop(self) -> bool:
        return self._stop.is_set()

    def check(self) -> None:
        """Raise :class:`Cancelled` when a stop was asked for."""
        if self._stop.is_set():
            raise Cancelled

    def progress(self, done: int, total: int) -> None:
        """Report progress; throttled, but the last step (done == total) always goes through."""
        now = time.monotonic()
        if self._report is not None and (done >= total or now - self._last >= self._interval):
            self._last = now
            self._report(int(done), int(total))

    def part(self, index: int, count: int) -> TaskState:
        """A state for step ``index`` of ``count`` equal steps: its ``progress(done, total)``
        reports this one's progress of the whole (in thousandths); stopping is shared."""
        return _Part(self, index, count)


class _Part(TaskState):
    def __init__(self, whole: TaskState, index: int, count: int):
        super().__init__(None)
        self._stop = whole._stop  # one stop flag for the whole and its parts
        self._whole, self._index, self._count = whole, index, max(1, count)

    def progress(self, done: int, total: int) -> None:
        share = done / total if total > 0 else 1.0
        whole = 1000 * self._count
        self._whole.progress(round(1000 * (self._index + min(1.0, share))), whole)
