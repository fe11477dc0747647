"""The volume viewer's whole-volume read, off the GUI thread.

A coronal or sagittal plane of a DICOM series (one file a slice) or of a lazy NIfTI crosses every
stored slice, so the viewer reads the volume whole once (``volume_overlays.readable_for``: about
1 s for 300 files). ``WholeRead`` runs that read on a worker thread, as the prefetcher decodes
items (one ``ThreadPoolExecutor`` worker, shared by the viewers; a ``TaskState`` to stop it), and
hands the in-memory copy back by a queued signal: the GUI thread keeps showing (and scrolling)
the current plane meanwhile, and the worker touches no Qt object but that signal.

One read at a time per viewer: ``start`` for another volume, or ``cancel`` (a new case, the
switch taken back), stops the running one between files, and its result is dropped, even one
already queued (each read carries its own number; only the latest one's result is delivered).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tasks import Cancelled, TaskState
from mmrl_desktop.gui.sentence import sentence
from mmrl_desktop.gui.viewers.volume_overlays import readable_for

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
_running: set[TaskState] = set()  # stopped when the app quits: no read outlives the window


def _executor() -> ThreadPoolExecutor:
    """One worker for every viewer's whole reads (a stopped read ends between two files)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="volume-read")
            app = QCoreApplication.instance()
            if app is not None:
                app.aboutToQuit.connect(stop_all)
        return _pool


def stop_all() -> None:
    """Stop every whole read (the app quits)."""
    with _pool_lock:
        for state in list(_running):
            state.cancel()


def read_whole(volume, plane: str, state: TaskState):
    """``readable_for`` on a worker: the copy in memory, or a ``UserError`` sentence."""
    try:
        return readable_for(volume, plane, state)
    except (Cancelled, UserError):
        raise
    except MemoryError:
        raise UserError("there was not enough memory to read the volume whole") from None
    except Exception as err:  # a slice changed or vanished since import
        reason = str(err).strip() or type(err).__name__
        raise UserError(f"the {plane} plane could not be read: {reason}") from None


class WholeRead(QObject):
    """Read a volume whole on a worker thread; ``done(source, in_memory)`` on the GUI thread."""

    done = Signal(object, object)  # the volume asked for, its copy with voxels in memory
    failed = Signal(str)  # one sentence
    _ended = Signal(int, object, str)  # from the worker (queued): number, copy or None, error

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._number = 0  # of the latest read asked for
        self._state: TaskState | None = None
        self._future = None
        self._source = None
        self._ended.connect(self._on_ended)

    def source(self):
        """The volume being read (None when no read is running)."""
        return self._source

    def start(self, volume, plane: str) -> None:
        """Read ``volume`` for ``plane``; nothing new when that volume is being read already."""
        if self._source is volume:
            return
        self.cancel()
        self._number += 1
        number, state = self._number, TaskState()
        self._source, self._state = volume, state
        with _pool_lock:
            _running.add(state)
        self._future = _executor().submit(self._job, number, volume, plane, state)

    def _job(self, number: int, volume, plane: str, state: TaskState) -> None:
        """On the worker thread: no Qt object is touched but the queued ``_ended`` signal."""
        try:
            copy, error = read_whole(volume, plane, state), ""
        except Cancelled:
            return
        except UserError as err:
            copy, error = None, sentence(str(err))
        finally:
            with _pool_lock:
                _running.discard(state)
        if state.should_stop():
            return
        try:
            self._ended.emit(number, copy, error)
        except RuntimeError:  # the viewer is gone
            pass

    def cancel(self) -> None:
        """Stop the running read (between files); its result, if any comes, is dropped."""
        self._number += 1
        self._source = None
        if self._state is not None:
            self._state.cancel()
            self._state = None

    def wait(self, timeout_s: float = 5.0) -> bool:
        """Block until the last read asked for has ended (tests). True when it has."""
        future = self._future
        if future is None:
            return True
        try:
            future.result(timeout=timeout_s)
        except TimeoutError:
            return False
        except Exception:
            pass
        return True

    # ------------------------------------------------ GUI thread
    @Slot(int, object, str)
    def _on_ended(self, number: int, copy, error: str) -> None:
        if number != self._number:  # cancelled, or a stale read
            return
        source, self._source, self._state = self._source, None, None
        if copy is None:
            self.failed.emit(error)
        else:
            self.done.emit(source, copy)
