"""The trainer's background loop (Qt-free), with a stand-in trainer: what it reports and when."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from types import SimpleNamespace

import pytest

from mmrl_desktop.core.learning.trainer_loop import LoopControl, StarvationMeter, run_loop
from mmrl_desktop.core.learning.trainer_messages import (
    Failed,
    Info,
    Metrics,
    Predictions,
    State,
)


@dataclass
class _Step:
    step: int
    model_version: int
    did_update: bool
    metrics: dict = field(default_factory=dict)


class _Trainer:
    """Updates on its first ``updates`` steps (a new model version each), then idles."""

    def __init__(self, updates: int = 3, fail_at: int | None = None):
        self.updates, self.fail_at = updates, fail_at
        self.steps = 0
        self.closed = False
        self.predicted: list[list[str]] = []

    def info(self):
        return {"device": "cpu"}

    def step(self):
        self.steps += 1
        if self.fail_at is not None and self.steps >= self.fail_at:
            raise RuntimeError("the weights became NaN twice")
        upd = self.steps <= self.updates
        version = min(self.steps, self.updates)
        return _Step(self.steps, version, upd, {"loss/total": 1.0 / self.steps} if upd else {})

    def predict_items(self, ids):
        self.predicted.append(list(ids))
        return {i: {"label": "p"} for i in ids}

    def close(self):
        self.closed = True


def _run(trainer, control, until, timeout=5.0):
    reports: list = []
    thread = threading.Thread(
        target=run_loop,
        args=(lambda: trainer, control, reports.append),
        kwargs={"event_interval_s": 0.0},
    )
    thread.start()
    deadline = time.monotonic() + timeout
    while not until(reports) and time.monotonic() < deadline:
        time.sleep(0.01)
    control.request_stop()
    thread.join(timeout)
    assert not thread.is_alive()
    return reports


def test_reports_state_info_events_and_queue_predictions_then_stops_cleanly():
    trainer, control = _Trainer(updates=3), LoopControl()
    control.set_queue(["a", "b"])
    reports = _run(trainer, control, lambda r: State("idle") in r)
    assert reports[0] == State("loading") and reports[1] == Info({"device": "cpu"})
    assert State("running") in reports and reports[-1] == State("stopped")
    events = [e for e in reports if isinstance(e, Metrics)]
    assert [e.model_version for e in events] == [1, 2, 3]
    assert sum(isinstance(e, Predictions) for e in reports) == 3  # once per new model version
    assert trainer.predicted[0] == ["a", "b"] and trainer.closed


class _ChoosingTrainer(_Trainer):
    """Its model leaves a modality out after its second step (ADR 0039)."""

    def take_info_update(self):
        if self.steps == 2:
            return {"modalities": ["image", "audio"], "modalities_used": ["audio"]}
        return None


def test_a_change_in_what_the_model_predicts_from_is_told_once():
    trainer, control = _ChoosingTrainer(updates=3), LoopControl()
    reports = _run(trainer, control, lambda r: State("idle") in r)
    infos = [e.info for e in reports if isinstance(e, Info)]
    assert infos == [
        {"device": "cpu"},
        {"modalities": ["image", "audio"], "modalities_used": ["audio"]},
    ]


def test_pause_holds_steps_and_resume_continues():
    trainer, control = _Trainer(updates=100), LoopControl()
    control.pause()
    reports = _run(trainer, control, lambda r: State("paused") in r)
    assert trainer.steps == 0 and State("paused") in reports


def test_hold_delays_the_next_step():
    trainer, control = _Trainer(updates=100), LoopControl()
    control.hold(0.3)
    t0 = time.monotonic()
    _run(trainer, control, lambda r: any(isinstance(e, Metrics) for e in r))
    assert time.monotonic() - t0 >= 0.25


def test_an_error_is_one_sentence_and_the_trainer_is_closed():
    trainer, control = _Trainer(fail_at=2), LoopControl()
    reports = _run(trainer, control, lambda r: State("error") in r)
    errors = [e for e in reports if isinstance(e, Failed)]
    assert errors == [Failed("Training stopped: the weights became NaN twice")]
    assert reports[-1] == State("error") and trainer.closed


@pytest.mark.parametrize("stop_first", [True, False])
def test_stop_is_honoured_whenever_it_comes(stop_first):
    trainer, control = _Trainer(updates=10**6), LoopControl()
    if stop_first:
        control.request_stop()
    reports = _run(trainer, control, lambda r: len(r) > 20)
    assert reports[-1] == State("stopped") and trainer.closed


class _Clocks:
    """Wall and CPU clocks the test moves by hand."""

    def __init__(self):
        self.wall = self.cpu = 0.0

    def advance(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


def _meter(clocks, needed=8.0):
    return StarvationMeter(needed, 3.0, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)


def test_a_trainer_kept_off_the_cpu_while_answers_wait_is_starved():
    clocks = _Clocks()
    meter = _meter(clocks)
    assert meter.sample(0, owed=True) == {}  # a window opens
    clocks.advance(wall=3.5, cpu=0.1)  # 2 updates in 3.5 s, on the CPU 3 % of the time
    out = meter.sample(2, owed=True)
    assert out["perf/starved"] == 1.0 and out["perf/throughput_updates_per_s"] == 2 / 3.5
    assert meter.sample(2, owed=False) == {"perf/starved": 0.0}  # caught up: said once
    assert meter.sample(2, owed=False) == {}


def test_a_slow_model_that_has_the_cpu_is_not_starved_nor_is_a_fast_one():
    clocks = _Clocks()
    meter = _meter(clocks)
    meter.sample(0, owed=True)
    clocks.advance(wall=3.0, cpu=2.9)  # 3 updates/s, but on the CPU all the time
    assert meter.sample(9, owed=True)["perf/starved"] == 0.0
    clocks.advance(wall=3.0, cpu=0.3)  # off the CPU, but 50 updates/s: keeping up
    assert meter.sample(159, owed=True)["perf/starved"] == 0.0


def test_a_pause_starts_a_new_window():
    clocks = _Clocks()
    meter = _meter(clocks)
    meter.sample(0, owed=True)
    clocks.advance(wall=60.0, cpu=0.0)  # paused for a minute: not starving
    meter.reset()
    assert meter.sample(0, owed=True) == {}
    clocks.advance(wall=1.0, cpu=0.0)
    assert meter.sample(0, owed=True) == {}  # the window is not over yet


class _WaitingTrainer(_Trainer):
    """Owes updates, but each step spends its time waiting (off the CPU), like a trainer
    process that other programs keep from running."""

    pending_updates = 10**6
    config = SimpleNamespace(updates_per_event=8)

    def step(self):
        time.sleep(0.2)  # 5 updates/s, fewer than the 8 one answer needs
        return super().step()


def test_the_loop_reports_starvation_in_its_events():
    trainer, control = _WaitingTrainer(updates=1), LoopControl()
    reports: list = []
    thread = threading.Thread(
        target=run_loop,
        args=(lambda: trainer, control, reports.append),
        kwargs={"event_interval_s": 0.0, "starved_window_s": 0.5},
    )
    thread.start()
    deadline = time.monotonic() + 5.0
    starved = []
    while not starved and time.monotonic() < deadline:
        starved = [
            e.metrics
            for e in list(reports)
            if isinstance(e, Metrics) and "perf/starved" in e.metrics
        ]
        time.sleep(0.02)
    control.request_stop()
    thread.join(5.0)
    assert starved and starved[0]["perf/starved"] == 1.0
    assert starved[0]["perf/throughput_updates_per_s"] < 8.0


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux scheduling classes")
def test_the_trainer_process_gives_way_but_is_never_idle_class():
    """Loading at nice 10, training at nice 19, both SCHED_BATCH: never SCHED_IDLE, which two
    busy programs starve to nothing (ADR 0009, amended)."""
    code = (
        "import os\n"
        "from mmrl_desktop.core.learning.priority import lower_priority as low\n"
        "low(10); print(os.nice(0), os.sched_getscheduler(0))\n"
        "low(19); print(os.nice(0), os.sched_getscheduler(0))\n"
        "low(10); print(os.nice(0), os.sched_getscheduler(0))\n"  # never back up
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    batch = str(os.SCHED_BATCH)
    loading = str(max(10, os.nice(0)))  # the child starts at this process's nice value
    assert out == [loading, batch, "19", batch, "19", batch]


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="Linux per-thread nice")
def test_threads_started_while_loading_are_lowered_too():
    """torch's pool threads start while the model loads at nice 10: the drop to 19 reaches them."""
    code = (
        "import os, threading\n"
        "from mmrl_desktop.core.learning.priority import lower_priority as low\n"
        "low(10)\n"
        "go, done = threading.Event(), threading.Event()\n"
        "tid = []\n"
        "def work():\n"
        "    tid.append(threading.get_native_id()); go.set(); done.wait(10)\n"
        "t = threading.Thread(target=work); t.start(); go.wait(10)\n"
        "low(19)\n"
        "print(os.getpriority(os.PRIO_PROCESS, tid[0]), os.sched_getscheduler(tid[0]))\n"
        "done.set(); t.join()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == ["19", str(os.SCHED_BATCH)]
