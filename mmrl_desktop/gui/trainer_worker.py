"""The trainer behind a QThread: a thin Qt adapter over the Qt-free ``TrainerClient``
(``core/learning/trainer_client.py``), which starts the trainer (a process of its own by default,
ADR 0007; a thread with ``trainer_factory`` or ``in_process=False``), sends it commands and polls
its events (``core/learning/trainer_messages.py``).

``TrainerWorker`` (no parent, moved to a QThread) polls the client and re-emits each event as
``yielded(generation, event)``, then ``finished(generation)``: superqt's worker vocabulary.
``TrainerController`` owns the thread and the worker, sends the GUI's commands to the client
(thread-safe), drops the events of an older run (a restart never acts on stale signals) and gives
each kind of event its own signal for the widgets.

Threading rules (ARCHITECTURE.md, STYLE.md):
- the trainer is built — torch imported, its own FeedbackStore opened — in the trainer process
  (or its thread); no sqlite connection crosses threads;
- the GUI thread only sends commands (``TrainerClient.send``: a pipe write, or a flag set);
  cancellation is cooperative;
- shutdown is ``Stop`` + a bounded ``QThread.wait()`` (``TrainerController.stop``): the client
  gives the process ``STOP_GRACE_S`` to checkpoint and exit, then terminates it.
"""

from __future__ import annotations

from operator import attrgetter

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from mmrl_desktop.core.learning.trainer_client import TrainerClient
from mmrl_desktop.core.learning.trainer_loop import build_trainer
from mmrl_desktop.core.learning.trainer_messages import (
    Command,
    Drafts,
    Failed,
    Hold,
    Info,
    Metrics,
    NextItems,
    Pause,
    Predictions,
    Resume,
    SetQueue,
    State,
    Stop,
    Wake,
    Warned,
)

POLL_S = 0.1  # the worker thread waits this long for the trainer's next event


class TrainerWorker(QObject):
    yielded = Signal(int, object)  # generation, an event of core/learning/trainer_messages.py
    finished = Signal(int)  # generation

    def __init__(self, client: TrainerClient, generation: int):
        super().__init__()  # no parent: it is moved to a thread
        self.client = client
        self.generation = generation

    @property
    def in_process(self) -> bool:
        return self.client.in_process

    @property
    def pid(self) -> int | None:
        return self.client.pid

    @Slot()
    def run(self) -> None:
        client, gen = self.client, self.generation
        try:
            client.start()
            while not client.done:
                for event in client.poll(POLL_S):
                    self.yielded.emit(gen, event)
        finally:
            self.finished.emit(gen)


class TrainerController(QObject):
    """Owns the QThread and the worker; start/pause/resume/stop; the current run id."""

    stateChanged = Signal(str)  # loading | running | paused | idle | stopped | error
    infoChanged = Signal(object)  # Trainer.info(): {"device": ..., "model_version": ...}
    metricsArrived = Signal(object)  # a Metrics event (the charts' keys)
    predictionsArrived = Signal(object)  # {item_id: {task: Prediction}}
    nextItemsArrived = Signal(object)  # a NextItems event: the trainer's choice of the next items
    draftsArrived = Signal(object)  # a Drafts event: a generate task's drafts, made ahead
    warned = Signal(str)  # one sentence: a warning, or why training stopped

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
        self.generation = 0
        self.thread: QThread | None = None
        self.worker: TrainerWorker | None = None
        self.state = "stopped"
        self._queue: list[str] = []
        # each event's signal, and what it carries
        self._routes = {
            State: (self.stateChanged, attrgetter("state")),
            Info: (self.infoChanged, attrgetter("info")),
            Metrics: (self.metricsArrived, lambda ev: ev),
            Predictions: (self.predictionsArrived, attrgetter("predictions")),
            NextItems: (self.nextItemsArrived, lambda ev: ev),
            Drafts: (self.draftsArrived, lambda ev: ev),
            Warned: (self.warned, attrgetter("text")),
            Failed: (self.warned, attrgetter("text")),
        }

    @property
    def trainer_peak_rss_mb(self) -> float | None:
        """Peak resident memory of the trainer processes so far (None: the trainer ran in this
        process, whose own peak already counts it)."""
        now = self.worker.client.peak_rss_mb if self.worker is not None else None
        values = [v for v in (now, self._rss_before) if v is not None]
        return max(values) if values else None

    def is_running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self) -> None:
        if self.is_running():
            self.resume()
            return
        self.generation += 1
        factory = self._factory
        in_process = factory is None if self.in_process is None else self.in_process
        if factory is None and not in_process:
            root, device = self.project_root, self.device
            factory = lambda: build_trainer(root, device)  # noqa: E731
        client = TrainerClient(
            self.project_root,
            self.device,
            None if in_process else factory,
            name=f"mmrl-trainer-{self.generation}",
        )
        worker = TrainerWorker(client, self.generation)
        thread = QThread()
        thread.setObjectName(f"trainer-{self.generation}")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        # direct: quit() is thread-safe, and the GUI thread may be blocked in wait() right now
        worker.finished.connect(thread.quit, Qt.DirectConnection)
        worker.yielded.connect(self._on_yielded)
        client.send(SetQueue(tuple(self._queue)))
        self.thread, self.worker = thread, worker
        thread.start()

    def send(self, command: Command) -> None:
        """A command to the running trainer (thread-safe; dropped when none runs)."""
        if self.worker is not None:
            self.worker.client.send(command)

    def pause(self) -> None:
        self.send(Pause())

    def resume(self) -> None:
        self.send(Resume())

    def stop(self, timeout_ms: int = 10000) -> bool:
        """Request a stop and wait (bounded). True when the thread has ended."""
        if self.thread is None:
            return True
        self.send(Stop())
        ended = self.thread.wait(timeout_ms)
        if ended:
            self._rss_before = self.trainer_peak_rss_mb
            self.thread.deleteLater()
            if self.worker is not None:
                self.worker.deleteLater()
            self.thread, self.worker = None, None
            self.state = "stopped"
            self.stateChanged.emit("stopped")
        return ended

    def set_queue(self, item_ids: list[str]) -> None:
        self._queue = list(item_ids)
        self.send(SetQueue(tuple(item_ids)))

    def feedback_arrived(self) -> None:
        self.send(Wake())

    def hold(self, seconds: float) -> None:
        """Hold a trainer *thread* for a click's paint (it shares the interpreter lock). A
        trainer process is not held: it has its own lock and a lower CPU priority, and holding
        it only delayed the model, with the same paint times (ADR 0007; docs/benchmarks.md
        §2b)."""
        if self.worker is not None and not self.worker.client.in_process:
            self.send(Hold(seconds))

    def _on_yielded(self, generation: int, event) -> None:
        """An event of the trainer: on its own signal, unless it is of an older run."""
        if generation != self.generation:
            return
        if isinstance(event, State):
            self.state = event.state
        signal, value = self._routes[type(event)]
        signal.emit(value(event))
