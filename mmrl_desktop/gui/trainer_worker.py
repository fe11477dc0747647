"""The trainer on its own QThread: a worker QObject (no parent) moved to a QThread, wrapping the
Qt-free ``core.trainer.Trainer``.

Threading rules (ARCHITECTURE.md, STYLE.md):
- the worker builds the Trainer — and so imports torch and opens its own FeedbackStore — inside
  its thread; no sqlite connection crosses threads;
- the GUI talks to the worker through thread-safe methods guarded by a lock and an Event
  (``pause``, ``resume``, ``request_stop``, ``set_queue``, ``feedback_arrived``): the worker's loop
  is busy, so queued slots would wait; cancellation is cooperative, checked between steps;
- signals carry small immutable Python data tagged with a ``run_id``; the GUI drops events of an
  older run, so a restart never acts on stale signals;
- shutdown is ``request_stop()`` + a bounded ``QThread.wait()`` (see ``TrainerController``).
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot


@dataclass(frozen=True)
class TrainEvent:
    run_id: int
    step: int
    model_version: int
    metrics: dict[str, float]


class TrainerWorker(QObject):
    sig_event = Signal(object)  # TrainEvent
    sig_predictions = Signal(int, object)  # run_id, {item_id: {task: Prediction}}
    sig_state = Signal(int, str)  # run_id, loading|running|paused|idle|stopped|error
    sig_info = Signal(int, object)  # run_id, {"device": ..., "model_version": ...}
    sig_error = Signal(int, str)  # run_id, a sentence
    finished = Signal(int)

    EVENT_INTERVAL_S = 0.05  # at most ~20 metric events per second reach the GUI

    def __init__(self, project_root: str, run_id: int, device: str = "auto", trainer_factory=None):
        super().__init__()  # no parent: it is moved to a thread
        self.project_root = project_root
        self.run_id = run_id
        self.device = device
        self._factory = trainer_factory
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._paused = False
        self._queue: list[str] = []
        self._queue_dirty = True
        self._hold_until = 0.0

    # ------------------------------------------------ called from the GUI thread (thread-safe)
    def request_stop(self) -> None:
        with self._lock:
            self._stop = True
        self._wake.set()

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self._wake.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self._wake.set()

    def set_queue(self, item_ids: list[str]) -> None:
        """The items the GUI will show next; predicted after each new model version."""
        with self._lock:
            self._queue = list(item_ids)
            self._queue_dirty = True
        self._wake.set()

    def feedback_arrived(self) -> None:
        self._wake.set()

    def hold(self, seconds: float) -> None:
        """Do not start a training step for ``seconds``: the GUI is answering a click and
        painting the next item. Python threads share one interpreter lock, so a step running now
        would slow that paint; holding keeps clicks at one frame (BENCHMARKS.md §2)."""
        with self._lock:
            self._hold_until = max(self._hold_until, time.monotonic() + seconds)

    # ------------------------------------------------ the loop (worker thread)
    def _build(self):
        if self._factory is not None:
            return self._factory()
        from mmrl_desktop.core.project import Project
        from mmrl_desktop.core.trainer import Trainer

        # queue_size=0: this worker predicts the GUI's queue itself after each model version
        return Trainer(Project.open(self.project_root), device=self.device, queue_size=0)

    @Slot()
    def run(self) -> None:
        rid = self.run_id
        self.sig_state.emit(rid, "loading")
        trainer = None
        try:
            trainer = self._build()
            self.sig_info.emit(rid, trainer.info())
            last_version = None
            last_emit = 0.0
            pending: dict[str, float] = {}
            state = ""
            while True:
                with self._lock:
                    stop, paused = self._stop, self._paused
                    held = self._hold_until - time.monotonic()
                    queue, dirty = self._queue, self._queue_dirty
                    self._queue_dirty = False
                if stop:
                    break
                if held > 0:
                    time.sleep(min(held, 0.1))  # sleeping releases the interpreter lock
                    with self._lock:
                        self._queue_dirty |= dirty
                    continue
                if paused:
                    if state != "paused":
                        state = "paused"
                        self.sig_state.emit(rid, state)
                    self._wake.wait(0.2)
                    self._wake.clear()
                    continue
                result = trainer.step()
                if result.metrics:
                    pending.update(result.metrics)
                if queue and (dirty or result.model_version != last_version):
                    preds = trainer.predict_items(queue)
                    self.sig_predictions.emit(rid, preds)
                    last_version = result.model_version
                now = time.monotonic()
                if pending and now - last_emit >= self.EVENT_INTERVAL_S:
                    self.sig_event.emit(
                        TrainEvent(rid, result.step, result.model_version, dict(pending))
                    )
                    pending.clear()
                    last_emit = now
                new_state = "running" if result.did_update else "idle"
                if new_state != state:
                    state = new_state
                    self.sig_state.emit(rid, state)
                if not result.did_update:
                    self._wake.wait(0.1)
                    self._wake.clear()
        except Exception as err:  # never let the thread die silently
            traceback.print_exc()
            self.sig_error.emit(rid, f"Training stopped: {err}")
            self.sig_state.emit(rid, "error")
        finally:
            if trainer is not None:
                try:
                    trainer.close()
                except Exception:
                    traceback.print_exc()
            if state != "error":
                self.sig_state.emit(rid, "stopped")
            self.finished.emit(rid)


class TrainerController(QObject):
    """Owns the QThread and the worker; start/pause/resume/stop; the current run id."""

    sig_event = Signal(object)
    sig_predictions = Signal(object)
    sig_state = Signal(str)
    sig_info = Signal(object)
    sig_error = Signal(str)

    def __init__(self, project_root: str, device: str = "auto", trainer_factory=None, parent=None):
        super().__init__(parent)
        self.project_root = project_root
        self.device = device
        self._factory = trainer_factory
        self.run_id = 0
        self.thread: QThread | None = None
        self.worker: TrainerWorker | None = None
        self.state = "stopped"
        self._queue: list[str] = []

    def is_running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self) -> None:
        if self.is_running():
            self.resume()
            return
        self.run_id += 1
        worker = TrainerWorker(self.project_root, self.run_id, self.device, self._factory)
        thread = QThread()
        thread.setObjectName(f"trainer-{self.run_id}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # direct: quit() is thread-safe, and the GUI thread may be blocked in wait() right now
        worker.finished.connect(thread.quit, Qt.DirectConnection)
        worker.sig_event.connect(self._on_event)
        worker.sig_predictions.connect(self._on_predictions)
        worker.sig_state.connect(self._on_state)
        worker.sig_info.connect(self._on_info)
        worker.sig_error.connect(self._on_error)
        worker.set_queue(self._queue)
        self.thread, self.worker = thread, worker
        thread.start()

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.pause()

    def resume(self) -> None:
        if self.worker is not None:
            self.worker.resume()

    def stop(self, timeout_ms: int = 10000) -> bool:
        """Request a stop and wait (bounded). True when the thread has ended."""
        if self.thread is None:
            return True
        if self.worker is not None:
            self.worker.request_stop()
        ended = self.thread.wait(timeout_ms)
        if ended:
            self.thread.deleteLater()
            if self.worker is not None:
                self.worker.deleteLater()
            self.thread, self.worker = None, None
            self.state = "stopped"
            self.sig_state.emit("stopped")
        return ended

    def set_queue(self, item_ids: list[str]) -> None:
        self._queue = list(item_ids)
        if self.worker is not None:
            self.worker.set_queue(self._queue)

    def feedback_arrived(self) -> None:
        if self.worker is not None:
            self.worker.feedback_arrived()

    def hold(self, seconds: float) -> None:
        if self.worker is not None:
            self.worker.hold(seconds)

    # --------------------------------------------- drop signals of older runs
    def _on_event(self, ev: TrainEvent) -> None:
        if ev.run_id == self.run_id:
            self.sig_event.emit(ev)

    def _on_predictions(self, run_id: int, preds) -> None:
        if run_id == self.run_id:
            self.sig_predictions.emit(preds)

    def _on_state(self, run_id: int, state: str) -> None:
        if run_id == self.run_id:
            self.state = state
            self.sig_state.emit(state)

    def _on_info(self, run_id: int, info) -> None:
        if run_id == self.run_id:
            self.sig_info.emit(info)

    def _on_error(self, run_id: int, text: str) -> None:
        if run_id == self.run_id:
            self.sig_error.emit(text)
