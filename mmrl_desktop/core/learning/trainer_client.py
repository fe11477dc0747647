"""The app's side of the trainer, Qt-free: ``start`` it, ``send`` it commands, ``poll`` its events,
``stop`` it. The GUI's worker thread (``gui/trainer_worker.py``) and ``simulate`` both use it.

By default the trainer runs in a **process of its own** (ADR 0007): ``start`` spawns
``trainer_loop.serve`` and the commands and events (``trainer_messages``) travel on a pipe. Python
threads share one interpreter lock, so a trainer thread slowed every paint of the GUI thread; a
process has its own. With ``build`` (tests, ``simulate``) the same loop runs in a thread of this
process instead, and the commands apply to its ``LoopControl`` directly.

Threading: ``send`` is thread-safe (the GUI thread calls it); ``start``, ``poll`` and ``stop``
belong to one thread (the worker's). Commands sent before ``start`` are kept and sent then.
``poll`` returns ``[]`` once the trainer has ended (``done``); an unexpected end of the process
comes back as ``Failed`` + ``State("error")``. A stopping process gets ``STOP_GRACE_S`` to save its
checkpoint and exit, then it is terminated (at once while it still loads: nothing to save).
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop, serve
from mmrl_desktop.core.learning.trainer_messages import (
    Command,
    Event,
    Exited,
    Failed,
    PeakMemory,
    State,
    Stop,
)

log = logging.getLogger(__name__)

# A stopping trainer process saves its checkpoint in STOP_GRACE_S, or is terminated, then killed,
# JOIN_S each: 5 + 2 + 2 s stays inside TrainerController.stop()'s 10 s wait, so the QThread has
# ended before the window is deleted. With 8 s it did not when the trainer got no CPU (a SIGSTOP
# in the test; busy programs), and Qt aborted: "QThread: Destroyed while thread … still running".
STOP_GRACE_S = 5.0
JOIN_S = 2.0


def died_text(exitcode) -> str:
    return (
        "Training stopped: the trainer process ended unexpectedly "
        f"(exit code {exitcode}). Your answers are saved; start it again with Train → Start."
    )


class TrainerClient:
    def __init__(
        self,
        project_root: str,
        device: str = "auto",
        build: Callable[[], Any] | None = None,
        name: str = "mmrl-trainer",
        quiet: bool = False,
    ) -> None:
        self.project_root, self.device, self.name = project_root, device, name
        self._build, self._quiet = build, quiet  # quiet: no traceback (run_loop)
        self.in_process = build is None
        self.control = LoopControl()  # the loop's, when it runs in a thread here
        self._lock = threading.Lock()
        self._pending: list[Command] = []  # sent before the process's pipe existed
        self._conn = None  # for sending (None once a send failed)
        self._reader = None  # the same pipe, for receiving
        self._closed = False
        self._proc = None
        self._thread: threading.Thread | None = None
        self._events: queue.SimpleQueue = queue.SimpleQueue()  # from the loop's thread
        self._early: list[Event] = []
        self._stop_asked: float | None = None
        self.state = ""  # the last State the trainer reported
        self.done = False
        self.peak_rss_mb: float | None = None  # of the trainer process, when there is one
        self.pid: int | None = None

    # ------------------------------------------------ any thread
    def send(self, command: Command) -> None:
        if not self.in_process:
            command.apply(self.control)
            return
        with self._lock:
            if isinstance(command, Stop) and self._stop_asked is None:
                self._stop_asked = time.monotonic()
            if self._conn is None:
                if not self._closed:
                    self._pending.append(command)
                return
            try:
                self._conn.send(command)
            except (BrokenPipeError, EOFError, OSError):
                self._conn = None  # the process is gone; poll reports it

    @property
    def stopping(self) -> bool:
        return self._stop_asked is not None or self.control.stopping()

    # ------------------------------------------------ the client's own thread
    def start(self) -> None:
        if not self.in_process:
            self._thread = threading.Thread(target=self._run_thread, name=self.name, daemon=True)
            self._thread.start()
            return
        ctx = multiprocessing.get_context("spawn")
        conn, child = ctx.Pipe(duplex=True)
        proc = ctx.Process(
            target=serve, args=(child, self.project_root, self.device), name=self.name, daemon=True
        )
        self._early.append(State("loading"))  # spawning takes a while: say so at once
        self._proc, self._reader = proc, conn
        proc.start()
        self.pid = proc.pid
        child.close()
        with self._lock:
            self._conn = conn
            pending, self._pending = self._pending, []
        for command in pending:
            self.send(command)

    def _run_thread(self) -> None:
        try:
            run_loop(self._build, self.control, self._events.put, quiet=self._quiet)
        finally:
            self._events.put(Exited())

    def poll(self, timeout: float) -> list[Event]:
        """The events that arrived, waiting up to ``timeout`` seconds for the first."""
        if self.done:
            return []
        out = self._poll_thread(timeout) if not self.in_process else self._poll_process(timeout)
        return [e for e in out if not isinstance(e, PeakMemory)]

    def _note(self, event: Event) -> Event:
        if isinstance(event, State):
            self.state = event.state
        elif isinstance(event, PeakMemory) and self.in_process and event.mb is not None:
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, float(event.mb))
        return event

    def stop(self, timeout: float = STOP_GRACE_S + 2 * JOIN_S + 1.0) -> list[Event]:
        """Ask the trainer to stop and wait (bounded) for its end; the events until then."""
        self.send(Stop())
        out: list[Event] = []
        deadline = time.monotonic() + timeout
        while not self.done and time.monotonic() < deadline:
            out += self.poll(0.1)
        return out

    def _poll_thread(self, timeout: float) -> list[Event]:
        try:
            out = [self._events.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
        if isinstance(out[-1], Exited):
            self.done = True
            self._thread.join()
            out.pop()
        return [self._note(e) for e in out]

    def _poll_process(self, timeout: float) -> list[Event]:
        out = [self._note(e) for e in self._early]
        self._early = []
        conn, proc = self._reader, self._proc
        try:
            if conn.poll(timeout):
                while True:
                    event = conn.recv()
                    if isinstance(event, Exited):
                        return out + self._finish(clean=True)
                    out.append(self._note(event))
                    if not conn.poll():
                        return out
        except (EOFError, OSError):
            return out + self._finish(clean=False)
        if not proc.is_alive():
            return out + self._finish(clean=False)
        if self._stop_asked is not None and self._stop_overdue():
            proc.terminate()
            return out + self._finish(clean=False)
        return out

    def _stop_overdue(self) -> bool:
        """Still importing torch (nothing to save, do not wait for it), or past the grace."""
        return self.state == "loading" or time.monotonic() - self._stop_asked > STOP_GRACE_S

    def _finish(self, clean: bool) -> list[Event]:
        """The process has ended, or is made to: join it, and say how it ended."""
        proc = self._proc
        with self._lock:
            self._conn, self._closed = None, True
        proc.join(JOIN_S)
        if proc.is_alive():
            proc.kill()
            proc.join(JOIN_S)
        if proc.is_alive():  # killed, but starved of the CPU even to exit: reaped when it does
            threading.Thread(target=proc.join, name="reap-trainer", daemon=True).start()
        self._reader.close()
        self.done = True
        if not clean and self._stop_asked is None:
            log.warning(
                "trainer process %s ended unexpectedly (exit code %s)", proc.pid, proc.exitcode
            )
            return [self._note(Failed(died_text(proc.exitcode))), self._note(State("error"))]
        if self.state not in ("stopped", "error"):
            return [self._note(State("stopped"))]
        return []
