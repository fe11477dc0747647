"""The trainer behind a QThread: a worker QObject (no parent) moved to a QThread, wrapping the
Qt-free trainer loop (``core.learning.trainer_loop``).

By default the loop runs in a **process of its own** (ADR 0007): the worker thread spawns it,
forwards the GUI's commands down a pipe and turns what comes back into signals. Python threads
share one interpreter lock, so a trainer thread slowed every paint of the GUI thread; a process
has its own. With ``trainer_factory`` (tests) or ``in_process=False`` the loop runs in the
worker thread itself, as before.

Threading rules (ARCHITECTURE.md, STYLE.md):
- the trainer is built — torch imported, its own FeedbackStore opened — in the trainer process
  (or the worker thread); no sqlite connection crosses threads;
- the GUI talks to the worker through thread-safe methods (``pause``, ``resume``,
  ``request_stop``, ``set_queue``, ``feedback_arrived``, ``hold``): they set a ``LoopControl``
  and, in process mode, send the same command down the pipe; cancellation is cooperative;
- signals carry small immutable Python data tagged with a ``run_id``; the GUI drops events of an
  older run, so a restart never acts on stale signals;
- shutdown is ``request_stop()`` + a bounded ``QThread.wait()`` (see ``TrainerController``); the
  worker gives the process ``STOP_GRACE_S`` to checkpoint and exit, then terminates it.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from mmrl_desktop.core.learning.trainer_loop import LoopControl, build_trainer, run_loop, serve

# A stopping trainer process saves its checkpoint in STOP_GRACE_S, or is terminated, then killed,
# JOIN_S each: 5 + 2 + 2 s stays inside TrainerController.stop()'s 10 s wait, so the QThread has
# ended before the window is deleted. With 8 s it did not when the trainer got no CPU (a SIGSTOP
# in the test; busy programs), and Qt aborted: "QThread: Destroyed while thread … still running".
STOP_GRACE_S = 5.0
JOIN_S = 2.0


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

    def __init__(
        self,
        project_root: str,
        run_id: int,
        device: str = "auto",
        trainer_factory=None,
        in_process: bool | None = None,
    ):
        super().__init__()  # no parent: it is moved to a thread
        self.project_root = project_root
        self.run_id = run_id
        self.device = device
        self._factory = trainer_factory
        self.in_process = trainer_factory is None if in_process is None else in_process
        self.control = LoopControl()
        self._conn = None
        self._send_lock = threading.Lock()
        self._state = ""
        self.trainer_peak_rss_mb: float | None = None  # of the trainer process, when there is one
        self.pid: int | None = None  # the trainer process

    # ------------------------------------------------ called from the GUI thread (thread-safe)
    def request_stop(self) -> None:
        self.control.request_stop()
        self._send("stop")

    def pause(self) -> None:
        self.control.pause()
        self._send("pause")

    def resume(self) -> None:
        self.control.resume()
        self._send("resume")

    def set_queue(self, item_ids: list[str]) -> None:
        """The items the GUI will show next; predicted after each new model version."""
        self.control.set_queue(item_ids)
        self._send("queue", list(item_ids))

    def feedback_arrived(self) -> None:
        self.control.wake()
        self._send("wake")

    def hold(self, seconds: float) -> None:
        """Do not start a training step for ``seconds``: the GUI is answering a click and
        painting the next item (on two cores the trainer and the GUI still share the CPU)."""
        self.control.hold(seconds)
        self._send("hold", float(seconds))

    def _send(self, *msg) -> None:
        with self._send_lock:
            if self._conn is None:
                return
            try:
                self._conn.send(msg)
            except (BrokenPipeError, EOFError, OSError):
                self._conn = None  # the process is gone; the worker loop reports it

    # ------------------------------------------------ the loop (worker thread)
    def _build(self):
        if self._factory is not None:
            return self._factory()
        return build_trainer(self.project_root, self.device)

    def _emit(self, kind: str, payload) -> None:
        rid = self.run_id
        if kind == "state":
            self._state = payload
            self.sig_state.emit(rid, payload)
        elif kind == "event":
            step, version, metrics = payload
            self.sig_event.emit(TrainEvent(rid, step, version, metrics))
        elif kind == "predictions":
            self.sig_predictions.emit(rid, payload)
        elif kind == "info":
            self.sig_info.emit(rid, payload)
        elif kind in ("error", "warning"):  # a warning: one sentence, training goes on
            self.sig_error.emit(rid, payload)
        elif kind == "rss" and self.in_process and payload is not None:
            self.trainer_peak_rss_mb = max(self.trainer_peak_rss_mb or 0.0, float(payload))

    @Slot()
    def run(self) -> None:
        try:
            if self.in_process:
                self._run_process()
            else:
                run_loop(self._build, self.control, self._emit)
        finally:
            self.finished.emit(self.run_id)

    def _run_process(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        conn, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=serve,
            args=(child, self.project_root, self.device),
            name=f"mmrl-trainer-{self.run_id}",
            daemon=True,
        )
        self._emit("state", "loading")
        proc.start()
        self.pid = proc.pid
        child.close()
        with self._send_lock:
            self._conn = conn
        stop, paused, _, queue, _ = self.control.take()  # commands given before the pipe existed
        self._send("queue", list(queue))
        if paused:
            self._send("pause")
        if stop:
            self._send("stop")
        clean = False
        stop_asked: float | None = None
        while True:
            try:
                if conn.poll(0.1):
                    kind, payload = conn.recv()
                    if kind == "exit":
                        clean = True
                        break
                    self._emit(kind, payload)
                    continue
            except (EOFError, OSError):
                break
            if not proc.is_alive():
                break
            if self.control.stopping():
                stop_asked = stop_asked or time.monotonic()
                # still importing torch: nothing to save, do not wait for it
                if self._state == "loading" or time.monotonic() - stop_asked > STOP_GRACE_S:
                    proc.terminate()
                    break
        with self._send_lock:
            self._conn = None
        proc.join(JOIN_S)
        if proc.is_alive():
            proc.kill()
            proc.join(JOIN_S)
        conn.close()
        if not clean and not self.control.stopping():
            self._emit(
                "error",
                "Training stopped: the trainer process ended unexpectedly "
                f"(exit code {proc.exitcode}). Your answers are saved; start it again with "
                "Train → Start.",
            )
            self._emit("state", "error")
        elif self._state not in ("stopped", "error"):
            self._emit("state", "stopped")


class TrainerController(QObject):
    """Owns the QThread and the worker; start/pause/resume/stop; the current run id."""

    sig_event = Signal(object)
    sig_predictions = Signal(object)
    sig_state = Signal(str)
    sig_info = Signal(object)
    sig_error = Signal(str)

    def __init__(
        self,
        project_root: str,
        device: str = "auto",
        trainer_factory=None,
        parent=None,
        in_process: bool | None = None,
    ):
        super().__init__(parent)
        self.project_root = project_root
        self.device = device
        self._factory = trainer_factory
        self.in_process = in_process  # None: a process unless a trainer_factory is given
        self._rss_before: float | None = None
        self.run_id = 0
        self.thread: QThread | None = None
        self.worker: TrainerWorker | None = None
        self.state = "stopped"
        self._queue: list[str] = []

    @property
    def trainer_peak_rss_mb(self) -> float | None:
        """Peak resident memory of the trainer processes so far (None: the trainer ran in this
        process, whose own peak already counts it)."""
        now = self.worker.trainer_peak_rss_mb if self.worker is not None else None
        values = [v for v in (now, self._rss_before) if v is not None]
        return max(values) if values else None

    def is_running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self) -> None:
        if self.is_running():
            self.resume()
            return
        self.run_id += 1
        worker = TrainerWorker(
            self.project_root, self.run_id, self.device, self._factory, self.in_process
        )
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
            self._rss_before = self.trainer_peak_rss_mb
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
        """Hold a trainer *thread* for a click's paint (it shares the interpreter lock). A
        trainer process is not held: it has its own lock and a lower CPU priority, and holding
        it only delayed the model (click → model p50 1.09 s held vs 0.13 s not, same paint
        times: docs/benchmarks.md §2b)."""
        if self.worker is not None and not self.worker.in_process:
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
