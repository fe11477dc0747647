"""Simulated clicks through the real main window while the trainer runs.

click → paint: from the moment the click handler starts to the end of the window's first repaint
after it, which paints the viewer, the feedback panel and the queue with the new item. Later
repaints belong to the look-ahead work done once the item is on screen, or to a relayout when a
label's new text needs another size (rare: a message line appearing in the panel).
click → model: from a click to the first trainer event whose model has trained on that click's
event (the trainer reports the last event id it has consumed with each model version).
answer → model on disk: from a click to the first checkpoint on disk whose ``last_event_id`` covers
that click's answer, i.e. when ``evaluate``/``export``/``predict`` would see it. A thread of the
bench (``CheckpointWatch``, never the GUI thread) lists the checkpoints folder four times a second
and reads each new checkpoint's metadata once; the moment a checkpoint became visible is its JSON's
rename (``st_ctime`` on Linux; the metadata is written last), else when the watch saw it.

The project is copied to a temporary folder first: a benchmark never writes into the user's
project. The simulated expert answers 👍 when the shown label is the item's label, otherwise gives
the right label (a correction); unlabelled items get 👎.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject
from PySide6.QtWidgets import QWidget

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.learning import ckpt_files
from mmrl_desktop.core.learning.trainer_loop import peak_rss_mb


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(q / 100.0 * (len(values) - 1)))))
    return values[k]


def simulated_answer(lab, unlabelled: str = "down") -> None:
    """One click of a simulated expert on the current item: 👍 when the shown label is the
    item's label, otherwise the right label (a correction); an unlabelled item gets 👎 (or a skip
    with ``unlabelled="skip"``)."""
    item = lab.session.current_item()
    task = lab.session.tasks[0].name
    truth = item.labels.get(task)
    shown = lab.session.prediction(item.item_id, task).shown_label
    if truth is None:
        lab.skip() if unlabelled == "skip" else lab.thumb_down()
    elif shown == truth:
        lab.thumb_up()
    else:
        lab.correct(task, truth)


class _PaintWatch(QObject):
    """Times the end of the window's next repaint.

    Qt batches every widget's repaint into one ``UpdateRequest`` to the top-level window, which
    paints all dirty widgets (viewer, panel, list) and flushes the backing store; the end of the
    first one after the click is the moment the new item is on screen."""

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.painted_at: float | None = None
        self.geometry_at_paint: dict[int, tuple] | None = None
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        # only the first repaint after the click: later ones (a relayout, the look-ahead work
        # that runs once the item is on screen) must not overwrite its time
        if self.painted_at is None and obj is self.window and event.type() == QEvent.UpdateRequest:
            obj.removeEventFilter(self)
            try:
                obj.event(event)  # paint now, then time it
            finally:
                obj.installEventFilter(self)
            self.painted_at = time.perf_counter()
            self.geometry_at_paint = self.geometries()
            return True
        return False

    def geometries(self) -> dict[int, tuple]:
        """Where every widget the expert can see is: compared later, to count the clicks whose
        first paint was followed by a relayout. Viewer pages covered by the one on top (being
        filled with the next item) do not count."""
        return {
            id(w): w.geometry().getRect()
            for w in self.window.findChildren(QWidget)
            if w.isVisible() and not w.visibleRegion().isEmpty()
        }

    def relaid_out(self) -> bool:
        now = self.geometries()
        return any(now.get(k, r) != r for k, r in (self.geometry_at_paint or {}).items())

    def reset(self) -> None:
        self.painted_at = None
        self.geometry_at_paint = None

    def done(self) -> bool:
        return self.painted_at is not None


class CheckpointWatch:
    """Notes each checkpoint that appears in ``folder``: ``seen[name] = (visible at, wall clock
    time; its last_event_id)``, from a thread of its own (pruning cannot hide one from it)."""

    def __init__(self, folder: Path, interval_s: float = 0.25):
        self.folder, self.interval_s = Path(folder), interval_s
        self.seen: dict[str, tuple[float, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-ckpt-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.look()
            self._stop.wait(self.interval_s)

    def look(self) -> None:
        try:
            names = [n for n in os.listdir(self.folder) if n.startswith(ckpt_files.PREFIX)]
        except OSError:
            return
        for name in names:
            if not name.endswith(".json") or name in self.seen:
                continue
            now = time.time()
            meta, problem = ckpt_files.read_meta((self.folder / name).with_suffix(".safetensors"))
            try:
                st = os.stat(self.folder / name)
            except OSError:
                continue
            if problem is None:  # on Linux the rename that made it visible sets its ctime
                at = min(now, st.st_ctime) if sys.platform.startswith("linux") else now
                self.seen[name] = (at, int(meta.get("last_event_id", 0)))

    def first_on_disk(self, event_id: int) -> float | None:
        """When the first checkpoint that has trained on ``event_id`` became visible."""
        times = [at for at, last in list(self.seen.values()) if last >= event_id]
        return min(times) if times else None

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)


class _TrainerLog:
    """What the trainer's signals report during the bench: each model version's time and the
    last event id it consumed, its update count, its updates per second and its info."""

    def __init__(self, trainer):
        self.versions: list[tuple[float, int]] = []  # (time, last event id consumed)
        self.steps: list[int] = []  # the trainer's update count, as its events report it
        self.ups: list[float] = []
        self.info: dict = {}
        trainer.metricsArrived.connect(self._event)
        trainer.infoChanged.connect(self.info.update)

    def _event(self, ev) -> None:
        if ev.metrics and all(k.startswith("embeddings/") for k in ev.metrics):
            return  # a pretrained encoder's progress (step 0), not a model version
        self.versions.append((time.perf_counter(), int(ev.metrics.get("data/last_event_id", -1))))
        self.steps.append(int(ev.step))
        if "perf/updates_per_s" in ev.metrics:
            self.ups.append(ev.metrics["perf/updates_per_s"])

    def step_now(self) -> int:
        return self.steps[-1] if self.steps else int(self.info.get("updates", 0))

    def to_model(self, click_at: dict[int, float]) -> list[float]:
        """For each clicked event: from the click to the first model version trained on it."""
        out = []
        for eid, t0 in click_at.items():
            t_model = next((t for t, last in self.versions if last >= eid and t >= t0), None)
            if t_model is not None:
                out.append(t_model - t0)
        return out


class _Clicks:
    """The simulated clicks and what each one cost until its first paint."""

    def __init__(self, window):
        self.window = window
        self.watch = _PaintWatch(window)
        self.paint_ms: list[float] = []
        self.by_kind: dict[str, list[float]] = {}  # "image+audio+text" → paint of such items
        self.at: dict[int, float] = {}  # event id → the click's time
        self.wall: dict[int, float] = {}  # the same clicks on the wall clock (files' times)
        self.relaid = 0  # clicks after whose first paint a visible widget moved or resized

    def click(self, app) -> None:
        watch, lab = self.watch, self.window.labeling
        watch.reset()
        t0, wall0 = time.perf_counter(), time.time()
        simulated_answer(lab)
        _wait(app, watch.done, 2.0)
        self.paint_ms.append(((watch.painted_at or time.perf_counter()) - t0) * 1e3)
        kind = "+".join(self.window.viewer.modalities()) or "nothing"
        self.by_kind.setdefault(kind, []).append(self.paint_ms[-1])
        for eid in lab.session.undo_stack[-1].event_ids:
            self.at[eid] = t0
            self.wall[eid] = wall0
        # an expert needs a moment per item; let the event loop breathe like a real one
        _wait(app, lambda: False, 0.02)
        self.relaid += watch.relaid_out()


def _pcts(values: list[float], digits: int, qs=(50, 95)) -> dict:
    return {f"p{q}": round(_percentile(values, q), digits) for q in qs}


def run_bench_gui(
    project_dir: str | Path, clicks: int = 500, device: str = "auto", warmup_s: float = 60.0
) -> dict:
    from mmrl_desktop.gui.app import make_app, release_window
    from mmrl_desktop.gui.main_window import MainWindow

    app = make_app(offscreen=True)
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-bench-gui-"))
    try:
        work = tmp / "project"
        shutil.copytree(project_dir, work, ignore=shutil.ignore_patterns("*.partial"))
        project = Project.open(work)
        window = MainWindow(project, annotator="bench-gui", device=device)
        window.resize(1280, 800)
        window.show()
        _wait(app, lambda: window.labeling is not None, 30.0)
        trainer = window.trainer
        log = _TrainerLog(trainer)
        # wait until the trainer has loaded (torch import, model build) before timing clicks
        _wait(app, lambda: trainer.state in ("idle", "running", "error"), warmup_s)
        log.ups.clear()  # the pace from here on
        done = _Clicks(window)
        watch_disk = CheckpointWatch(project.checkpoints_dir)
        clicks_from, steps_from = time.perf_counter(), log.step_now()
        for _ in range(clicks):
            done.click(app)
        clicks_s = time.perf_counter() - clicks_from
        steps_done = log.step_now() - steps_from
        _wait(app, lambda: bool(log.versions) and log.versions[-1][1] >= max(done.at), 20.0)
        # the checkpoint that has the last answer comes a few seconds later (core/learning/model_on_disk.py)
        _wait(app, lambda: watch_disk.first_on_disk(max(done.wall)) is not None, 30.0)
        watch_disk.stop()
        watch_disk.look()
        to_disk = [
            at - wall0
            for eid, wall0 in done.wall.items()
            if (at := watch_disk.first_on_disk(eid)) is not None
        ]
        delays = (log.to_model(done.at), to_disk)
        release_window(window)
        rates = (round(steps_done / clicks_s, 1), log.info.get("device", device))
        return _report(clicks, done, log, delays, rates, trainer.trainer_peak_rss_mb)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _report(clicks: int, done: _Clicks, log: _TrainerLog, delays, rates, trainer_mb) -> dict:
    """``bench-gui``'s JSON; ``delays``: click → model and answer → model on disk (s);
    ``rates``: the trainer's updates per second while the clicks ran, and its device."""
    (to_model, to_disk), (throughput, device) = delays, rates
    gui_mb = peak_rss_mb()
    return {
        "clicks": clicks,
        "click_to_paint_ms": {
            **_pcts(done.paint_ms, 2, (50, 95, 99)),
            "max": round(max(done.paint_ms), 2),
        },
        "click_to_paint_ms_by_kind": {
            kind: {"clicks": len(v), **_pcts(v, 2)} for kind, v in sorted(done.by_kind.items())
        },
        # the first paint showed the item in its final layout in all the other clicks
        "clicks_relaid_out_after_paint": done.relaid,
        "click_to_model_s": _pcts(to_model, 3),
        # click → the first checkpoint on disk that has trained on its answer
        "answer_to_model_on_disk_s": {
            **_pcts(to_disk, 3),
            "answers": len(to_disk),  # of len(done.wall) answers (the rest: not seen)
        },
        "trainer_updates_per_s": round(statistics.median(log.ups), 1) if log.ups else 0.0,
        # updates done while the clicks ran, per second of it (the line above is the pace of
        # one update while it runs; this one also counts the time the trainer did not run)
        "trainer_throughput_updates_per_s": throughput,
        "device": device,
        "model_versions_seen": len(log.versions),
        # the app's whole footprint: this process plus the trainer process (each one's own
        # peak, so the sum is an upper bound of what both held at once)
        "peak_rss_mb": round((gui_mb or 0.0) + (trainer_mb or 0.0), 1) if gui_mb else None,
        "peak_rss_gui_mb": gui_mb,
        "peak_rss_trainer_mb": trainer_mb,
    }


def _wait(app, condition, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        app.processEvents(QEventLoop.AllEvents, 5)
        QCoreApplication.sendPostedEvents()
        if condition():
            return True
        time.sleep(0.0005)
    return condition()
