"""Issue 12.4: the app's latest model reaches disk within seconds of training on an answer, the
commands say which model they used, and warn when the open app holds a newer one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project, Task
from mmrl_desktop.core.evaluation.model_info import describe, newer_in_app
from mmrl_desktop.core.learning import ckpt_files
from mmrl_desktop.core.learning.model_on_disk import HEARTBEAT_FILE, ModelOnDisk, live_trainer
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
from mmrl_desktop.core.learning.trainer_messages import State
from tests.core.enginefixtures import TINY_MODEL, answer, make_pngs


def _wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    return condition()


def _on_disk(project, event_id: int):
    """The newest readable checkpoint that has trained on ``event_id``, or None."""
    entries = [
        e
        for e in ckpt_files.newest_first(ckpt_files.scan(project.checkpoints_dir))
        if e.meta["last_event_id"] >= event_id
    ]
    return entries[0] if entries else None


def _tiny_project(root):
    """Two classes of small PNGs, a tiny model: quick to build and to train."""
    make_pngs(root / "img", 4)
    project = Project.create(
        root / "proj",
        tasks=[Task(DEFAULT_TASK, ["dark", "light"])],
        model=TINY_MODEL,
        algorithm={"batch_size": 4, "updates_per_event": 2, "eval_every": 0},
    )
    with project.open_store() as store:
        store.add_items(
            Item(f"{c}{i}", image=str(root / "img" / c / f"img{i}.png"), labels={DEFAULT_TASK: c})
            for c in ("dark", "light")
            for i in range(4)
        )
    return project


def test_an_answer_reaches_disk_seconds_after_training_while_the_app_runs(tmp_path):
    project = _tiny_project(tmp_path)
    control, reports = LoopControl(), []
    thread = threading.Thread(
        target=run_loop,
        args=(
            lambda: Trainer(project, device="cpu", queue_size=0),
            control,
            reports.append,
        ),
        kwargs={"save_after_s": 0.5, "heartbeat_s": 0.2},
    )
    thread.start()
    try:
        assert _wait_for(lambda: State("idle") in reports, 30.0)
        (first,) = answer(project, 1)
        control.wake()
        t0 = time.monotonic()
        entry = _wait_for(lambda: _on_disk(project, first), 10.0)
        assert entry is not None, "no checkpoint has the answer while the app runs"
        assert time.monotonic() - t0 < 5.0
        # the heartbeat names this process and the model the trainer holds
        version = entry.meta["model_version"]
        beat = _wait_for(
            lambda: (
                (live_trainer(project.root) or {}).get("on_disk_version", -1) >= version
                and live_trainer(project.root)
            ),
            2.0,
        )
        assert beat and beat["pid"] == os.getpid() and beat["model_version"] >= version
        (second,) = answer(project, 1, seed=1)
        control.wake()
        later = _wait_for(lambda: _on_disk(project, second), 10.0)
        assert later is not None and later.step > entry.step  # a new file: never rewritten
    finally:
        control.request_stop()
        thread.join(30.0)
    assert not thread.is_alive() and State("stopped") in reports
    assert not (project.root / HEARTBEAT_FILE).exists()  # the trainer stopped: no claim left


class _Trainer:
    """What ModelOnDisk reads of a trainer; saves count and may fail."""

    def __init__(self, root):
        self.project = SimpleNamespace(root=root)
        self.checkpoints_enabled = True
        self.updates = self._last_ckpt_step = 0
        self.pending_updates = 0
        self.model_version = 0
        self.saved: list[int] = []
        self.fail = False
        self.save_error = None

    def train(self, updates: int, pending: int = 0) -> None:
        self.updates += updates
        self.model_version += 1
        self.pending_updates = pending

    def save_checkpoint(self, note="", *, keep_going=False):
        if self.fail:
            self.save_error = "could not save a checkpoint (disk full)."
            return None
        self.saved.append(self.updates)
        self._last_ckpt_step = self.updates
        return f"ckpt-{self.updates}"


def test_saves_wait_for_the_answers_updates_and_come_at_most_every_few_seconds(tmp_path):
    now = [100.0]
    t = _Trainer(tmp_path)
    disk = ModelOnDisk(t, save_after_s=5.0, heartbeat_s=5.0, clock=lambda: now[0])
    assert disk.tick() is None and t.saved == []  # nothing trained: nothing to write
    t.train(1, pending=7)  # the first of an answer's 8 updates
    disk.tick()
    assert t.saved == []  # still training on it
    t.train(7, pending=0)
    disk.tick()
    assert t.saved == [8]  # settled: on disk at once
    now[0] += 1.0
    t.train(8, pending=0)  # the next answer, a second later
    disk.tick()
    assert t.saved == [8]  # debounced
    now[0] += 4.0
    disk.tick()
    assert t.saved == [8, 16]  # 5 s after the last write
    for _ in range(12):  # answers keep coming: the model never settles
        now[0] += 1.0
        t.train(1, pending=5)
        disk.tick()
    assert t.saved == [8, 16, 22, 28]  # one write per ~5 s all the same
    t.fail = True
    now[0] += 5.0
    t.train(1)
    assert disk.tick() == t.save_error  # said once ...
    now[0] += 5.0
    assert disk.tick() is None and len(t.saved) == 4  # ... retried, not said again
    t.fail = False
    now[0] += 5.0
    disk.tick()
    assert t.saved[-1] == t.updates


def _beat(root, **fields):
    beat = {"pid": os.getpid(), "model_version": 64, "time": time.time(), **fields}
    (root / HEARTBEAT_FILE).write_text(json.dumps(beat), encoding="utf-8")


def test_a_live_fresh_heartbeat_says_the_app_has_a_newer_model(tmp_path):
    model = {"version": 60, "step": 248, "written": "2026-11-30T08:12:03Z"}
    assert newer_in_app(tmp_path, model) is None  # no app
    _beat(tmp_path)
    assert newer_in_app(tmp_path, model) == (
        "the app open on this project has a newer model (version 64, not yet on disk: it will "
        "be within ~10 s)"
    )
    assert newer_in_app(tmp_path, {**model, "version": 64}) is None  # the same model
    _beat(tmp_path, time=time.time() - 60)
    assert live_trainer(tmp_path) is None  # stale: the app is gone or stuck
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    import socket

    _beat(tmp_path, pid=int(done.stdout), host=socket.gethostname())
    assert live_trainer(tmp_path) is None  # its process has ended
    (tmp_path / HEARTBEAT_FILE).write_text("{not json", encoding="utf-8")
    assert live_trainer(tmp_path) is None


def test_describe_names_the_model_and_its_age():
    stamp = int(time.time())
    written = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
    line = describe({"version": 60, "step": 248, "written": written}, now=stamp + 42)
    assert line.startswith("model: version 60, step 248, written 20") and "(42 s ago)" in line
    assert "(3 min ago)" in describe({"version": 1, "step": 2, "written": written}, stamp + 200)
    start = describe({"version": 0, "step": 0, "written": None})
    assert start == "model: the starting model (no checkpoint yet)"
    both = ["image", "audio"]  # a model that leaves a modality out says so (ADR 0039)
    alone = {"version": 3, "step": 9, "written": written, "modalities": both}
    line = describe({**alone, "modalities_used": ["audio"]}, stamp + 1)
    assert line.endswith("(1 s ago), from the audio alone")
    assert describe({**alone, "modalities_used": both}, stamp + 1).endswith("(1 s ago)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny project with a few answers, trained, and one checkpoint."""
    project = _tiny_project(tmp_path_factory.mktemp("model_on_disk"))
    answer(project, 6)
    trainer = Trainer(project, device="cpu", queue_size=0)
    trainer.add_budget(4)
    trainer.train_pending()
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    return project


def test_evaluate_says_which_model_and_warns_of_a_newer_one_in_the_app(trained, capsys):
    _beat(trained.root, model_version=99)
    try:
        assert main(["evaluate", "--project", str(trained.root)]) == 0
        out, err = capsys.readouterr()
        assert "model: version " in err and ", written " in err and " ago)" in err
        assert "model version" not in out  # named once: the stderr line, not again in the report
        assert "warning: the app open on this project has a newer model (version 99" in err
        assert main(["evaluate", "--project", str(trained.root), "--json"]) == 0
        captured = capsys.readouterr()
        model = json.loads(captured.out)["model"]
        keys = {"version", "step", "written", "modalities", "modalities_used"}
        assert set(model) == keys and model["written"].endswith("Z")
        assert model["modalities_used"] == model["modalities"]  # one modality: all of it
        assert "model: version" not in captured.err  # --json: the JSON says it
        assert "newer model (version 99" in captured.err  # the warning still goes to stderr
    finally:
        (trained.root / HEARTBEAT_FILE).unlink()


def test_predict_and_export_say_which_model(trained, tmp_path, capsys):
    src = trained.root.parent / "img" / "dark"
    assert main(["predict", "--project", str(trained.root), str(src), "--json"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["model"]["version"] == out["model_version"] and out["model"]["written"]
    assert "warning" not in captured.err  # no app open
    target = tmp_path / "m.pt"
    args = ["export", "--project", str(trained.root), "--format", "torchscript"]
    assert main([*args, "--out", str(target)]) == 0
    captured = capsys.readouterr()  # the success line says which model, stderr stays empty
    assert f"(model v{out['model_version']}, step {out['step']}, written 20" in captured.out
    assert captured.err == ""
    assert main([*args, "--out", str(tmp_path / "j.pt"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == out["model"]


def test_readers_never_see_a_torn_checkpoint_while_the_app_writes_and_prunes(tmp_path):
    """A command reading while the trainer saves every few seconds (and prunes the oldest):
    each read gets one whole checkpoint — its tensors from the same write as its metadata —
    and never takes a checkpoint pruned under it for an unreadable one."""
    import torch

    from mmrl_desktop.core.learning.checkpoints import find_latest, save_checkpoint

    folder = tmp_path / "checkpoints"
    save_checkpoint(folder, {"w": torch.zeros(50_000)}, {"model_version": 0}, 0, keep=2)
    stop = threading.Event()

    def write() -> None:
        step = 0
        while not stop.is_set():
            step += 1
            state = {"w": torch.full((50_000,), float(step))}
            save_checkpoint(folder, state, {"model_version": step}, step, keep=2)
            time.sleep(0.005)  # ~100 saves a second: the app saves one per few seconds

    writer = threading.Thread(target=write)
    writer.start()
    reads, problems = 0, []
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            latest = find_latest(folder)
            assert latest.checkpoint is not None
            meta, w = latest.checkpoint.meta, latest.checkpoint.state["w"]
            assert float(w[0]) == float(w[-1]) == meta["model_version"] == meta["step"]
            problems += [e.problem for e in latest.unreadable]
            problems += [e.problem for e in ckpt_files.scan(folder) if not e.readable]
            reads += 1
    finally:
        stop.set()
        writer.join(10.0)
    assert reads > 10 and problems == []


def test_a_reader_that_lists_a_checkpoint_pruned_under_it_looks_again(tmp_path, monkeypatch):
    """The listing saw a checkpoint's metadata whose weights were pruned before it looked at
    them, and a newer one is written meanwhile (a busy machine: the CI run beside benchmarks):
    the reader looks again instead of saying there is no checkpoint."""
    import torch

    from mmrl_desktop.core.learning import checkpoints

    folder = tmp_path / "checkpoints"
    first = checkpoints.save_checkpoint(folder, {"w": torch.zeros(3)}, {"model_version": 1}, 1)
    first.unlink()  # mid-prune: the weights gone, the metadata still listed
    real_scan, looks = ckpt_files.scan, []

    def scan(folder_, pruned=None):
        out = real_scan(folder_, pruned)
        if not looks:  # the app's trainer saves the next one meanwhile
            checkpoints.save_checkpoint(folder, {"w": torch.ones(3)}, {"model_version": 2}, 2)
        looks.append(len(out))
        return out

    monkeypatch.setattr(ckpt_files, "scan", scan)
    latest = checkpoints.find_latest(folder)
    assert latest.checkpoint is not None and latest.checkpoint.meta["step"] == 2
    assert looks == [0, 1]


def test_time_based_checkpoints_replace_one_another_and_the_milestones_stay(tmp_path):
    """Saving every few seconds must not push the rollback history out of ``keep``: a
    ``recent`` checkpoint is deleted by the next checkpoint, milestones count for ``keep``."""
    import torch

    from mmrl_desktop.core.learning.checkpoints import save_checkpoint

    folder = tmp_path / "checkpoints"

    def save(step: int, note: str) -> None:
        save_checkpoint(folder, {"w": torch.zeros(4)}, {"note": note}, step, keep=3)

    def on_disk() -> list[int]:
        return [e.step for e in ckpt_files.newest_first(ckpt_files.scan(folder))]

    for step in (500, 1000, 1500):  # every checkpoint_every updates
        save(step, "")
    for step in range(1501, 1511):  # one every few seconds while answers come
        save(step, ckpt_files.RECENT)
    assert on_disk() == [1510, 1500, 1000]  # the model of the moment and two milestones
    save(1511, "on close")
    assert on_disk() == [1511, 1500, 1000]  # the closing checkpoint supersedes it


def test_an_undo_with_nothing_owed_reaches_disk_and_the_closing_checkpoint(tmp_path):
    """Answer, train, save; undo it with nothing owed: the model goes back to a snapshot and
    gets a new version without a new update. That version reaches disk one step above the last
    checkpoint (never rewriting it), both from the time-based save and on close."""
    project = _tiny_project(tmp_path)
    now = [100.0]
    trainer = Trainer(project, device="cpu", queue_size=0)
    trainer.info()  # built: the answers below are new to it
    disk = ModelOnDisk(trainer, save_after_s=5.0, heartbeat_s=0.0, clock=lambda: now[0])

    def newest():
        return ckpt_files.newest_first(ckpt_files.scan(project.checkpoints_dir))[0]

    def answer_train_save(seed: int) -> int:
        (eid,) = answer(project, 1, seed=seed)
        trainer.train_pending()
        now[0] += 5.0
        disk.tick()
        assert newest().meta["model_version"] == trainer.model_version == disk.on_disk_version
        return eid

    def undo(eid: int) -> tuple[int, int]:
        step, version = trainer.updates, trainer.model_version
        with project.open_store() as store:
            store.retract(eid)
        trainer.step()
        assert trainer.undo.rollbacks and trainer.pending_updates == 0  # nothing owed
        assert trainer.model_version > version and trainer.updates == step  # no new update
        return step, version

    first = answer_train_save(0)
    saved_step, _ = undo(first)
    now[0] += 5.0
    disk.tick()
    entry = newest()
    assert entry.meta["model_version"] == trainer.model_version == disk.on_disk_version
    assert entry.step == saved_step + 1  # a new file: the checkpoint at saved_step is not rewritten
    assert disk.tick() is None and newest().weights == entry.weights  # saved once

    second = answer_train_save(1)
    undo(second)
    trainer.close()  # the closing checkpoint holds the undone model
    disk.close()
    entry = newest()
    assert entry.note == "on close" and entry.meta["model_version"] == trainer.model_version
