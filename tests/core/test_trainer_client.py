"""The trainer protocol: commands and events are frozen dataclasses, the client starts the loop,
sends commands, polls events and stops it; the loop sends the charts' keys; the trainer process
lowers its priority on Windows through psutil."""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from mmrl_desktop.core.learning.trainer_client import TrainerClient
from mmrl_desktop.core.learning.trainer_messages import (
    Failed,
    Hold,
    Info,
    Metrics,
    Pause,
    Predictions,
    Resume,
    SetQueue,
    State,
    Stop,
    Wake,
    chart_keys,
)
from tests.core.test_trainer_loop import _Trainer


def _until(client: TrainerClient, seen: list, done, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not done(seen) and time.monotonic() < deadline and not client.done:
        seen += client.poll(0.05)


def test_messages_are_frozen_and_cross_a_pipe():
    for msg in (Stop(), Pause(), Resume(), Wake(), Hold(0.1), SetQueue(("a",)), State("idle")):
        assert pickle.loads(pickle.dumps(msg)) == msg
        with pytest.raises(dataclasses.FrozenInstanceError):
            msg.x = 1


def test_the_client_runs_the_loop_and_commands_reach_it():
    trainer = _Trainer(updates=3)
    client = TrainerClient("unused", build=lambda: trainer)
    client.send(SetQueue(("a", "b")))  # before start: applied all the same
    client.send(Pause())
    client.start()
    seen: list = []
    _until(client, seen, lambda s: State("paused") in s)
    assert trainer.steps == 0 and seen[:2] == [State("loading"), Info({"device": "cpu"})]
    client.send(Resume())
    _until(client, seen, lambda s: State("idle") in s)
    seen += client.stop()
    assert client.done and trainer.closed and seen[-1] == State("stopped")
    preds = [e for e in seen if isinstance(e, Predictions)]
    assert [p.model_version for p in preds] == [1, 2, 3]
    assert trainer.predicted[0] == ["a", "b"]
    assert client.poll(0.01) == []  # ended: nothing more


def test_a_failing_trainer_is_one_sentence_and_its_error_is_kept():
    client = TrainerClient("unused", build=lambda: _Trainer(fail_at=1), quiet=True)
    client.start()
    seen: list = []
    _until(client, seen, lambda s: State("error") in s)
    assert Failed("Training stopped: the weights became NaN twice") in seen
    assert isinstance(client.control.error, RuntimeError)
    client.stop()


class _OneTaskTrainer(_Trainer):
    project = SimpleNamespace(tasks=[SimpleNamespace(name="label")])

    def step(self):
        r = super().step()
        r.metrics.update({"loss/label": 0.5, "kl/label": 0.01, "reward/thumbs_up_rate": 0.7})
        r.metrics.setdefault("loss/total", 0.5)
        return r


def test_the_loop_sends_the_charts_keys():
    """The charts plot what arrives: the trainer folds a one-task project's keys itself."""
    client = TrainerClient("unused", build=lambda: _OneTaskTrainer(updates=2))
    client.start()
    seen: list = []
    _until(client, seen, lambda s: any(isinstance(e, Metrics) for e in s))
    client.stop()
    metrics = next(e for e in seen if isinstance(e, Metrics)).metrics
    assert metrics == {"loss/total": 1.0, "kl/ref": 0.01}


def test_chart_keys_fold_only_a_single_task():
    raw = {"loss/total": 1.0, "loss/a": 1.0, "kl/a": 0.1, "eval/accuracy_a": 0.9}
    assert chart_keys(raw, ["a"]) == {"loss/total": 1.0, "kl/ref": 0.1, "eval/accuracy": 0.9}
    alone = chart_keys({"eval/network_accuracy_a": 0.7}, ["a"])  # new_item_vote
    assert alone == {"eval/network_accuracy": 0.7}
    assert chart_keys(raw, ["a", "b"]) == raw
    assert chart_keys({"reward/thumbs_up_rate": 0.5, "perf/starved": 1.0}, []) == {
        "perf/starved": 1.0
    }


def test_without_nice_the_priority_class_is_lowered_through_psutil():
    """Windows has no os.nice: the trainer process lowers its priority class with psutil, never
    back up. Here on a real psutil.Process of a child process whose os module lacks what Windows
    lacks, the Windows classes standing for the nice values psutil takes on this system."""
    code = (
        "import os, psutil\n"
        "for name in ('nice', 'getpriority', 'setpriority', 'sched_setscheduler', 'SCHED_BATCH'):\n"
        "    if hasattr(os, name):\n"
        "        delattr(os, name)\n"
        "psutil.BELOW_NORMAL_PRIORITY_CLASS, psutil.IDLE_PRIORITY_CLASS = 10, 19\n"
        "from mmrl_desktop.core.learning.priority import lower_priority as low\n"
        "for n in (10, 19, 10):\n"
        "    low(n); print(psutil.Process().nice())\n"
    )
    if not hasattr(os, "getpriority"):
        pytest.skip("the classes stand for nice values here")
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert out == [str(max(10, os.nice(0))), "19", "19"]
