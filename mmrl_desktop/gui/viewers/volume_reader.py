"""The volume viewer's whole-volume read, off the GUI thread.

A coronal or sagittal plane of a DICOM series (one file a slice) or of a lazy NIfTI crosses every
stored slice, so the viewer reads the volume whole once (``volume_overlays.readable_for``: about
1 s for 300 files). ``WholeRead`` runs that read on a ``BackgroundTask`` thread, as the app's
other long work, and hands the in-memory copy back by a queued signal: the GUI thread keeps
showing (and scrolling) the current plane meanwhile, and no Qt object is touched by the worker.

One read at a time: ``start`` for another volume, or ``cancel`` (a new case, the switch taken
back), stops the running one between files and its result is dropped, even one already queued
(each read carries its own number, and only the latest one's result is delivered).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, Slot

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tasks import Cancelled
from mmrl_desktop.gui.background import BackgroundTask
from mmrl_desktop.gui.viewers.volume_overlays import readable_for


class WholeRead(QObject):
    """Read a volume whole on a worker thread; ``done(source, in_memory)`` on the GUI thread."""

    done = Signal(object, object)  # the volume asked for, its copy with voxels in memory
    failed = Signal(str)  # one sentence
    progress = Signal(int, int)  # files read, of

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._number = 0  # of the latest read asked for
        self._task: BackgroundTask | None = None
        self._source = None

    def source(self):
        """The volume being read (None when no read is running)."""
        return self._source

    def start(self, volume, plane: str) -> None:
        """Read ``volume`` for ``plane``; nothing new when that volume is being read already."""
        if self._source is volume:
            return
        self.cancel()
        self._number += 1
        number, self._source = self._number, volume

        def job(state):
            try:
                return number, readable_for(volume, plane, state)
            except (Cancelled, MemoryError):
                raise
            except Exception as err:  # a slice changed or vanished since import
                reason = str(err).strip() or type(err).__name__
                raise UserError(f"the {plane} plane could not be read: {reason}") from None

        task = self._task = BackgroundTask(job, "volume-read")
        task.finished.connect(self._finished)
        task.failed.connect(self._failed)
        task.progress.connect(self._progress)
        task.start()

    def cancel(self) -> None:
        """Stop the running read (between files); its result, if any comes, is dropped."""
        self._number += 1
        self._source = None
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Block until the running read has ended (tests, shutdown). True when it has."""
        return self._task is None or self._task.wait(timeout_ms)

    # ------------------------------------------------ GUI thread
    @Slot(object)
    def _finished(self, result) -> None:
        if result is None or result[0] != self._number:  # cancelled, or a stale read
            return
        source, self._source, self._task = self._source, None, None
        self.done.emit(source, result[1])

    @Slot(str)
    def _failed(self, text: str) -> None:
        if self.sender() is not self._task:
            return
        self._source = self._task = None
        self.failed.emit(text)

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        if self.sender() is self._task:
            self.progress.emit(done, total)
