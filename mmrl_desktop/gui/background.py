"""Run long, Qt-free work off the GUI thread: progress, cooperative cancel, a sentence on failure.

    task = BackgroundTask(lambda state: import_source(src, project, state=state), "import")
    task.progress.connect(bar_update)        # (done, total), at most ~20 per second
    task.finished.connect(show_report)       # the function's return value
    task.failed.connect(show_sentence)       # one sentence, never a traceback
    task.start()
    ...
    task.cancel()                            # sets the flag the function polls
    task.shutdown()                          # cancel + bounded wait (dialog closed, app quitting)

The function gets a :class:`~mmrl_desktop.core.tasks.TaskState` (plain Python, in the core:
``progress(done, total)``, ``should_stop()``), so it can be unit-tested without Qt (Orange3's
``TaskState`` idea); the core's long functions take it as ``state=``. It runs
in a worker ``QObject`` (no parent) moved to its own ``QThread``; widgets are touched only by the
slots connected to this object's signals, which run on the GUI thread. Anything the function
opens — an sqlite connection above all — it opens itself, in that thread.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tasks import Cancelled, TaskState
from mmrl_desktop.gui.sentence import sentence

__all__ = ["BackgroundTask", "Cancelled", "TaskState", "shutdown_all"]

_LIVE: set[BackgroundTask] = set()  # running tasks stay referenced until their thread ends


class _Worker(QObject):
    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)
    done = Signal()

    def __init__(self, fn: Callable[[TaskState], Any]):
        super().__init__()  # no parent: it is moved to a thread
        self.fn = fn
        self.state = TaskState(self.progress.emit)

    @Slot()
    def run(self) -> None:
        try:
            result = self.fn(self.state)
        except Cancelled:
            self.finished.emit(None)
        except UserError as err:
            self.failed.emit(sentence(str(err)))
        except MemoryError:
            self.failed.emit("There was not enough memory to finish.")
        except OSError as err:
            name = f" ({err.filename})" if getattr(err, "filename", None) else ""
            self.failed.emit(sentence(f"a file could not be read or written{name}: {err.strerror}"))
        except Exception as err:  # a bug: log it for us, a sentence for the user
            traceback.print_exc()
            self.failed.emit(sentence(f"something went wrong: {type(err).__name__}: {err}"))
        else:
            self.finished.emit(result)
        finally:
            self.done.emit()


class BackgroundTask(QObject):
    """One run of ``fn(state)`` on its own QThread. Signals arrive on the GUI thread."""

    progress = Signal(int, int)
    finished = Signal(object)  # the return value (None when cancelled before a result)
    failed = Signal(str)  # a sentence
    ended = Signal()  # after finished/failed, once the thread has stopped

    def __init__(self, fn: Callable[[TaskState], Any], name: str = "task", parent=None):
        super().__init__(parent)
        self.name = name
        self._worker = _Worker(fn)
        self._thread: QThread | None = None
        self.result: Any = None
        self.error: str | None = None

    @property
    def state(self) -> TaskState:
        return self._worker.state

    @property
    def cancelled(self) -> bool:
        return self._worker.state.should_stop()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a BackgroundTask runs once")
        thread = QThread()
        thread.setObjectName(f"background-{self.name}")
        self._worker.moveToThread(thread)
        thread.started.connect(self._worker.run)
        # direct: quit() is thread-safe and the GUI thread may be blocked in wait()
        self._worker.done.connect(thread.quit, Qt.DirectConnection)
        self._worker.progress.connect(self.progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        _LIVE.add(self)
        _hook_quit()
        thread.start()

    def is_running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def cancel(self) -> None:
        self._worker.state.cancel()

    def wait(self, timeout_ms: int = 5000) -> bool:
        """Block until the thread has ended (bounded). True when it has."""
        if self._thread is None:
            return True
        return self._thread.wait(timeout_ms)

    def shutdown(self, timeout_ms: int = 5000) -> bool:
        """Cancel and wait (bounded): for a dialog that closes or an app that quits."""
        self.cancel()
        return self.wait(timeout_ms)

    # ------------------------------------------------ GUI thread
    def _on_finished(self, result) -> None:
        self.result = result
        self.finished.emit(result)

    def _on_failed(self, text: str) -> None:
        self.error = text
        self.failed.emit(text)

    def _on_thread_finished(self) -> None:
        _LIVE.discard(self)
        self.ended.emit()


_hooked = False


def _hook_quit() -> None:
    """Once per process: the application's quit cancels and waits for every running task, so
    no QThread is destroyed while it runs."""
    global _hooked
    app = QCoreApplication.instance()
    if not _hooked and app is not None:
        app.aboutToQuit.connect(shutdown_all)
        _hooked = True


def shutdown_all(timeout_ms: int = 5000) -> bool:
    """Cancel every running task and wait for each (bounded). True when all have ended."""
    ok = True
    for task in list(_LIVE):
        ok = task.shutdown(timeout_ms) and ok
    return ok
