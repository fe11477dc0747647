"""The trainer's background loop, Qt-free: in a thread of the app, or in a process of its own.

``run_loop(build, control, emit)`` builds the ``Trainer`` (imports torch, opens its own store),
then steps it until ``control`` says stop; it never raises. What it reports goes through
``emit(event)``, one of the events of ``core/learning/trainer_messages.py``: ``State``, ``Info``,
``Predictions`` (after each new model version, for the queue), ``Metrics`` (at most every
``event_interval_s``, under the charts' keys), ``Warned`` (one sentence; training goes on),
``Failed`` (one sentence, then ``State("error")``) and ``PeakMemory`` (with each ``Metrics``,
also a pretrained encoder's progress). With an active next-item order (ADR 0013) it also chooses
the next items on fresh predictions (``NextItems``, then their ``Predictions``).

The newest model reaches disk within seconds of training on an answer (a checkpoint once the
answers' updates are done, at most every ``save_after_s``), and ``<project>/.trainer.json`` says
which model version the trainer holds, for the commands (``core/learning/model_on_disk.py``).

While updates are owed to answers, the events also carry ``perf/throughput_updates_per_s`` (updates
done per second, measured over ``STARVED_WINDOW_S``) and ``perf/starved`` (1.0 when other programs
take the CPU so that the trainer falls behind the answers: ``StarvationMeter``; 0.0 once it is not).

``LoopControl`` is what the commands set (thread-safe): stop, pause/resume, the queue to
predict, a wake-up after new feedback, and ``hold(seconds)``: start no step for a moment while the
GUI paints a click (a trainer thread only).

``serve(conn, project_root, device)`` is the entry point of the trainer *process* (the app's
default, ADR 0007; ``core/learning/trainer_client.py`` starts it): a reader thread applies the
commands arriving on ``conn`` to a ``LoopControl`` and the loop's events go back on ``conn``. A
closed pipe (the app died) stops the loop, which saves a checkpoint on the way out as always.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mmrl_desktop import logs
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model_on_disk import HEARTBEAT_S, SAVE_AFTER_S, ModelOnDisk
from mmrl_desktop.core.learning.next_item import NextItemChooser
from mmrl_desktop.core.learning.priority import LOADING_NICE, TRAINER_NICE, lower_priority
from mmrl_desktop.core.learning.trainer_messages import (
    Drafts,
    Event,
    Exited,
    Failed,
    Info,
    Metrics,
    NextItems,
    PeakMemory,
    Predictions,
    State,
    Stop,
    Warned,
    chart_keys,
)

log = logging.getLogger(__name__)

EVENT_INTERVAL_S = 0.05  # at most ~20 metric events per second reach the GUI
STARVED_WINDOW_S = 3.0  # the trainer's pace is judged over this long
STARVED_CPU_SHARE = 0.5  # on the CPU less than this share of the time: others are using it

Emit = Callable[[Event], None]


class LoopControl:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.wake_event = threading.Event()
        self._stop = False
        self._paused = False
        self._queue: list[str] = []
        self._queue_dirty = True
        self._hold_until = 0.0
        self.error: Exception | None = None  # what stopped the loop (run_loop sets it)

    def request_stop(self) -> None:
        with self._lock:
            self._stop = True
        self.wake_event.set()

    def stopping(self) -> bool:
        with self._lock:
            return self._stop

    def pause(self) -> None:
        with self._lock:
            self._paused = True
        self.wake_event.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
        self.wake_event.set()

    def set_queue(self, item_ids: list[str]) -> None:
        with self._lock:
            self._queue = list(item_ids)
            self._queue_dirty = True
        self.wake_event.set()

    def wake(self) -> None:
        self.wake_event.set()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._hold_until = max(self._hold_until, time.monotonic() + float(seconds))

    def take(self) -> tuple[bool, bool, float, list[str], bool]:
        """(stop, paused, seconds still held, queue, queue changed since the last take)."""
        with self._lock:
            dirty, self._queue_dirty = self._queue_dirty, False
            held = self._hold_until - time.monotonic()
            return self._stop, self._paused, held, self._queue, dirty

    def keep_dirty(self, dirty: bool) -> None:
        with self._lock:
            self._queue_dirty |= dirty

    def wait(self, seconds: float) -> None:
        self.wake_event.wait(seconds)
        self.wake_event.clear()


class StarvationMeter:
    """Is the trainer starved by other programs? While updates are owed to answers it measures,
    over windows of ``window_s``, the updates done per second and the share of that time the
    loop's thread ran on the CPU. Starved: fewer updates per second than one answer needs
    (``needed_per_s``, the trainer's ``updates_per_event``) *and* on the CPU less than half the
    time — a slow model that has the CPU is not starved, a trainer that waits for it is."""

    def __init__(
        self,
        needed_per_s: float,
        window_s: float = STARVED_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.needed_per_s = max(1.0, float(needed_per_s))
        self.window_s = window_s
        self.clock, self.cpu_clock = clock, cpu_clock
        self.starved = False
        self._start: tuple[float, float, int] | None = None

    def reset(self) -> None:
        """Start a new window (after a pause or a hold: waiting then is not starving)."""
        self._start = None

    def sample(self, updates: int, owed: bool) -> dict[str, float]:
        """After a step: the metrics to report when a window closes, else ``{}``."""
        if not owed:
            self._start = None
            was, self.starved = self.starved, False
            return {"perf/starved": 0.0} if was else {}
        now, cpu = self.clock(), self.cpu_clock()
        if self._start is None:
            self._start = (now, cpu, updates)
            return {}
        t0, cpu0, updates0 = self._start
        wall = now - t0
        if wall < self.window_s:
            return {}
        rate = (updates - updates0) / wall
        share = (cpu - cpu0) / wall
        self.starved = rate < self.needed_per_s and share < STARVED_CPU_SHARE
        self._start = (now, cpu, updates)
        return {"perf/throughput_updates_per_s": rate, "perf/starved": float(self.starved)}


def _needed_updates_per_s(trainer) -> float:
    config = getattr(trainer, "config", None)
    return float(getattr(config, "updates_per_event", 1) or 1)


def peak_rss_mb() -> float | None:
    """Peak resident memory of this process so far (MB), where the platform reports it."""
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(peak / (1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0), 1)
    except (ImportError, OSError):
        return None


def _tell(emit: Emit, warning: str | None) -> None:
    if warning:
        emit(Warned(warning))


def _task_names(trainer) -> list[str]:
    return [t.name for t in getattr(getattr(trainer, "project", None), "tasks", [])]


@dataclass
class _Sent:
    """What the loop last told the GUI: the model version it predicted the queue with, when it
    last sent metrics, the metrics gathered since, the project's task names (for the charts'
    keys), and who chooses the next items."""

    version: Any = None
    at: float = 0.0
    pending: dict[str, float] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    chooser: NextItemChooser | None = None  # the next items' chooser (None: the queue order)


def _train_step(trainer, queue, dirty, meter, emit: Emit, sent: _Sent, interval_s: float):
    """One ``trainer.step()``; then new predictions for the queue (a new model version, or the
    queue changed), the next items when an order chooses them, and, at most every
    ``interval_s``, the metrics gathered since."""
    if dirty and hasattr(trainer, "set_draft_queue"):  # a generate task drafts the queue ahead
        trainer.set_draft_queue(queue)
    result = trainer.step()
    for event in Drafts.of(trainer.take_drafts() if hasattr(trainer, "take_drafts") else ()):
        emit(event)
    for text in trainer.take_warnings() if hasattr(trainer, "take_warnings") else ():
        emit(Warned(text))
    if news := (trainer.take_info_update() if hasattr(trainer, "take_info_update") else None):
        emit(Info(news))  # e.g. the modalities the model predicts from (ADR 0039)
    if result.metrics.get("train/checkpoint_failed"):  # the model stays in memory
        emit(Warned(trainer.save_error))
    pending = sent.pending
    if result.metrics:
        pending.update(result.metrics)
    pending.update(meter.sample(result.step, getattr(trainer, "pending_updates", 0) > 0))
    if queue and (dirty or result.model_version != sent.version):
        emit(Predictions(trainer.predict_items(queue), result.model_version))
        sent.version = result.model_version
    _choose_next(trainer, sent.chooser, result.model_version, emit)
    now = time.monotonic()
    if pending and now - sent.at >= interval_s:
        emit(Metrics(result.step, result.model_version, chart_keys(pending, sent.tasks)))
        emit(PeakMemory(peak_rss_mb()))
        pending.clear()
        sent.at = now
    return result


def _chooser(trainer) -> NextItemChooser | None:
    """The trainer's next-item chooser (None: the queue order, or a trainer without settings)."""
    config = getattr(trainer, "config", None)
    if config is None or getattr(config, "next_item", "shuffle") == "shuffle":
        return None
    return NextItemChooser(config)


def _choose_next(trainer, chooser: NextItemChooser | None, version, emit: Emit) -> None:
    """After a new model version (and enough new answers): the next items, then their
    predictions. A positive label the project lacks: one sentence, then the queue order."""
    if chooser is None or not chooser.active or version == chooser.version_seen:
        return
    chooser.version_seen = version  # one look per model version, not one per step
    answered = trainer.store.answered_item_ids()
    if not chooser.due(len(answered), version, len(next(iter(trainer.labels.values()), []))):
        return
    try:
        picks = chooser.choose(trainer, answered, version)
    except UserError as err:
        chooser.order = "shuffle"
        emit(Warned(f"{err} The items are asked in the queue order."))
        return
    if news := chooser.handback_news():
        emit(Info(news))  # uncertain/diverse handed back to the queue order (next_item.py)
    if picks:
        ids = tuple(p.item_id for p in picks)
        props, pools = tuple(p.propensity for p in picks), tuple(p.pool for p in picks)
        emit(NextItems(ids, props, chooser.order, version, pools))
        emit(Predictions(trainer.predict_items(list(ids)), version))


def _announce(trainer, emit: Emit) -> None:
    info = dict(trainer.info())
    config = getattr(trainer, "config", None)
    if hasattr(config, "next_item"):  # the status bar names the next-item order (ADR 0013)
        info.update(next_item=config.next_item, next_item_random=config.next_item_random)
    emit(Info(info))
    for text in info.get("checkpoint_warnings", []):  # skipped checkpoints, ignored settings
        emit(Warned(text))


def run_loop(
    build: Callable[[], Any],
    control: LoopControl,
    emit: Emit,
    event_interval_s: float = EVENT_INTERVAL_S,
    starved_window_s: float = STARVED_WINDOW_S,
    save_after_s: float = SAVE_AFTER_S,
    heartbeat_s: float = HEARTBEAT_S,
    quiet: bool = False,
) -> None:
    """Build the trainer and step it until ``control`` says stop (module docstring). An error
    ends it with ``Failed``; the exception is kept in ``control.error`` (``quiet``: its traceback
    is not printed, the caller re-raises it)."""
    emit(State("loading"))
    trainer = None
    disk = None
    state = ""
    try:
        from mmrl_desktop.core.learning.pretrained import idle, progress  # ADR 0014

        progress.report_progress_to(
            progress.embedding_metrics(
                lambda m: (emit(Metrics(0, 0, m)), emit(PeakMemory(peak_rss_mb())))
            )
        )
        trainer = build()
        _announce(trainer, emit)
        sent = _Sent(tasks=_task_names(trainer), chooser=_chooser(trainer))
        meter = StarvationMeter(_needed_updates_per_s(trainer), starved_window_s)
        disk = ModelOnDisk(trainer, save_after_s, heartbeat_s)  # the newest model on disk
        while True:
            stop, paused, held, queue, dirty = control.take()
            if stop:
                break
            if held > 0 or paused:
                meter.reset()
            if held > 0:
                time.sleep(min(held, 0.1))
                control.keep_dirty(dirty)
                continue
            if paused:
                if state != "paused":
                    state = "paused"
                    emit(State(state))
                _tell(emit, disk.tick())
                control.keep_dirty(dirty)
                control.wait(0.2)
                continue
            result = _train_step(trainer, queue, dirty, meter, emit, sent, event_interval_s)
            _tell(emit, disk.tick())  # after the GUI has the new model's predictions
            new_state = "running" if result.did_update else "idle"
            if new_state != state:
                state = new_state
                emit(State(state))
            if not result.did_update and not idle.idle_fill(trainer):  # embeddings (ADR 0014)
                control.wait(0.1)
    except Exception as err:  # never let the loop die silently
        control.error = err
        if not quiet:
            log.exception("training stopped")
        state = "error"
        emit(Failed(f"Training stopped: {err}"))
        emit(State("error"))
    finally:
        _close(trainer, disk, emit)
        if state != "error":
            emit(State("stopped"))


def _close(trainer, disk: ModelOnDisk | None, emit: Emit) -> None:
    """Close the trainer (its closing checkpoint), then take back the heartbeat."""
    if trainer is not None:
        try:
            trainer.close()
            if getattr(trainer, "save_error", None):  # the closing checkpoint failed
                emit(Warned(trainer.save_error))
        except Exception:
            log.exception("closing the trainer failed")
    if disk is not None:
        disk.close()


# ---------------------------------------------------------------- the trainer process
def build_trainer(project_root: str, device: str = "auto"):
    """The app's trainer for a project (imports torch). ``queue_size=0``: the loop predicts the
    GUI's queue itself after each model version."""
    from mmrl_desktop.core.data.project import Project
    from mmrl_desktop.core.learning.trainer import Trainer

    project = Project.open(project_root)
    if project.generate_tasks:  # drafts ahead and KTO beside the label tasks (issue 16)
        from mmrl_desktop.core.learning.with_drafts import build_with_drafts

        return build_with_drafts(project, device, queue_size=0)
    return Trainer(project, device=device, queue_size=0)


def _build_then_yield(project_root: str, device: str):
    """Import torch and build the model at ``LOADING_NICE``, then train at ``TRAINER_NICE``."""
    trainer = build_trainer(project_root, device)
    trainer.info()  # builds it
    lower_priority(TRAINER_NICE)
    return trainer


def serve(conn, project_root: str, device: str = "auto") -> None:
    """Entry point of the trainer process (``multiprocessing`` spawn; ``TrainerClient``)."""
    logs.install("trainer")  # its own log file, crashes and faults (mmrl_desktop/logs.py)
    lower_priority(LOADING_NICE)
    control = LoopControl()
    send_lock = threading.Lock()

    def emit(event: Event) -> None:
        with send_lock:
            try:
                conn.send(event)
            except (BrokenPipeError, EOFError, OSError):
                control.request_stop()  # the app is gone: stop (and checkpoint) on our own

    def read() -> None:
        while True:
            try:
                command = conn.recv()
            except (EOFError, OSError):
                control.request_stop()
                return
            command.apply(control)
            if isinstance(command, Stop):
                return

    threading.Thread(target=read, name="trainer-commands", daemon=True).start()
    try:
        run_loop(lambda: _build_then_yield(project_root, device), control, emit)
    except BaseException:  # escaping a spawn target goes to stderr only, never sys.excepthook
        log.critical("trainer process failed", exc_info=True)
        raise
    emit(PeakMemory(peak_rss_mb()))
    with send_lock:
        try:
            conn.send(Exited())
            conn.close()
        except (BrokenPipeError, EOFError, OSError):
            pass
