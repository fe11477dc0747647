"""The real main window, offscreen, with the real trainer (its own process, behind a thread): answer, correct, skip, undo,
shortcuts, multimodal items, trainer start/pause/stop."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.labelling.session import ItemStatus
from mmrl_desktop.gui.main_window import MainWindow
from mmrl_desktop.gui.trainer_worker import TrainerController

LABELS = ["a", "b", "c"]


@pytest.fixture
def project(tmp_path):
    rng = np.random.default_rng(0)
    p = Project.create(tmp_path / "proj", tasks=[Task("label", LABELS)])
    items = []
    for k in range(9):
        lab = LABELS[k % 3]
        img = (rng.random((16, 16)) * 80 + 60 * (k % 3)).astype(np.uint8)
        path = tmp_path / f"img{k}.png"
        Image.fromarray(img).save(path)
        items.append(Item(f"img{k}", image=str(path), labels={"label": lab}))
    wav = tmp_path / "case.wav"
    t = np.arange(8000) / 8000.0
    sf.write(wav, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    items.append(
        Item(
            "case",
            image=str(tmp_path / "img0.png"),
            audio=str(wav),
            text_inline="a multimodal case",
            labels={"label": "a"},
        )
    )
    items.append(Item("note", text_inline="just some text", labels={"label": "b"}))
    with p.open_store() as s:
        s.add_items(items)
    return p


@pytest.fixture
def window(qtbot, project):
    w = MainWindow(project, annotator="tester", device="cpu")
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    w.activateWindow()
    qtbot.waitExposed(w)
    yield w
    w.shutdown()


def _events(window):
    return window.labeling.session.store.active_feedback()


def test_keys_answer_correct_skip_undo(qtbot, window):
    lab = window.labeling
    first = lab.session.current_item().item_id
    qtbot.keyClick(window, Qt.Key_A)
    assert lab.session.status[first] == ItemStatus.UP
    second = lab.session.current_item().item_id
    assert second != first
    qtbot.keyClick(window, Qt.Key_Left)  # 👎
    assert lab.session.status[second] == ItemStatus.DOWN
    third = lab.session.current_item().item_id
    qtbot.keyClick(window, Qt.Key_2)  # correct to label 2 ("b")
    assert lab.session.status[third] in (ItemStatus.CORRECTED, ItemStatus.UP)
    fourth = lab.session.current_item().item_id
    qtbot.keyClick(window, Qt.Key_Space)
    assert lab.session.status[fourth] == ItemStatus.SKIPPED
    evs = _events(window)
    assert [e.item_id for e in evs] == [first, second, third]
    assert all(e.annotator == "tester" for e in evs)
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)  # undo the skip
    assert lab.session.status[fourth] == ItemStatus.NEW
    assert lab.session.current_item().item_id == fourth
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)  # undo a submitted answer
    assert lab.session.status[third] == ItemStatus.NEW
    assert [e.item_id for e in _events(window)] == [first, second]
    assert window.queue.progress.value() == 2
    assert window.feedback.message.text() == f"Undone: the answer on {third} was withdrawn."


def test_buttons_and_correction_picker(qtbot, window):
    lab = window.labeling
    item = lab.session.current_item().item_id
    qtbot.mouseClick(window.feedback.up_button, Qt.LeftButton)
    assert lab.session.status[item] == ItemStatus.UP
    item = lab.session.current_item().item_id
    row = window.feedback.rows["label"]
    row.picker.activated.emit(3)  # "c"
    ev = _events(window)[-1]
    assert ev.item_id == item
    assert ev.corrected_label == "c" or (ev.reward == 1 and ev.shown_label == "c")


def test_multimodal_item_shows_every_viewer(qtbot, window):
    window.labeling.activate("case")
    assert set(window.viewer.modalities()) == {"image", "audio", "text"}
    window.labeling.activate("note")
    assert window.viewer.modalities() == ("text",)


def test_next_item_is_preloaded_after_the_paint_and_shown_by_a_flip(qtbot, window):
    """Once an item is on screen the next one is decoded and filled into a hidden viewer page;
    the click then shows that page, with the next item's content, without refilling it."""
    lab, viewer = window.labeling, window.viewer
    nxt = lab.session.upcoming_ids(2)[1]
    qtbot.waitUntil(lambda: viewer.preloaded(nxt), timeout=5000)
    page = next(p for ps in viewer._pages.values() for p in ps if p.key == nxt)
    assert page is not viewer.current_page() and page.visibleRegion().isEmpty()  # covered
    qtbot.keyClick(window, Qt.Key_A)
    assert lab.session.current_item().item_id == nxt
    assert viewer.current_page() is page and not page.visibleRegion().isEmpty()
    item = lab.session.current_item()
    assert viewer.modalities() == tuple(m.value for m in item.modalities)
    # and the trainer is told the new queue once that paint is done
    qtbot.waitUntil(lambda: window.trainer._queue[:1] == [nxt], timeout=5000)


def test_after_paint_runs_once_the_window_has_painted(qtbot, window):
    from mmrl_desktop.gui.widgets import AfterPaint

    ran = []
    window.after_paint = AfterPaint(window, fallback_ms=60_000)  # only a paint can run it
    window.after_paint.call(lambda: ran.append(1))
    window.update()
    qtbot.waitUntil(lambda: ran == [1], timeout=5000)
    window.hide()
    window.after_paint = AfterPaint(window, fallback_ms=50)
    fn = lambda: ran.append(2)  # noqa: E731
    window.after_paint.call(fn)
    window.after_paint.call(fn)  # queued once
    qtbot.waitUntil(lambda: ran == [1, 2], timeout=2000)  # no paint: the fallback runs it
    qtbot.wait(100)
    assert ran == [1, 2]


def test_trainer_learns_and_predictions_arrive(qtbot, window):
    lab = window.labeling
    qtbot.waitUntil(lambda: window.trainer.state in ("idle", "running"), timeout=60000)
    for _ in range(4):
        qtbot.keyClick(window, Qt.Key_A)
    versions = []
    window.trainer.metricsArrived.connect(lambda ev: versions.append(ev.model_version))
    qtbot.waitUntil(lambda: bool(versions) and max(versions) >= 1, timeout=30000)
    current = lab.session.current_item().item_id
    qtbot.waitUntil(lambda: lab.session.has_model_prediction(current), timeout=30000)
    assert "model v" in window.feedback.rows["label"].source.text()


def test_trainer_pause_resume_stop(qtbot, window):
    tr = window.trainer
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
    tr.pause()
    qtbot.waitUntil(lambda: tr.state == "paused", timeout=5000)
    tr.resume()
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=5000)
    assert tr.stop()
    assert tr.state == "stopped" and not tr.is_running()
    tr.start()  # a new run, new run id
    assert tr.generation == 2
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)


def test_first_item_gets_the_model_prediction_without_a_click(qtbot, window):
    """The random warm-up guess is replaced as soon as the model has predicted the item."""
    row = window.feedback.rows["label"]
    qtbot.waitUntil(lambda: "model v" in row.source.text(), timeout=60000)
    item = window.labeling.session.current_item().item_id
    assert window.labeling.session.has_model_prediction(item)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_trainer_runs_in_its_own_process_and_stop_ends_it(qtbot, window):
    tr = window.trainer
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
    pid = tr.worker.pid
    assert tr.worker.in_process and pid is not None and pid != os.getpid()
    assert not _gone(pid)
    if hasattr(os, "sched_getscheduler"):  # Linux: never preempts the window, never starved
        assert os.sched_getscheduler(pid) == os.SCHED_BATCH
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19
        assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert tr.stop()
    # ended and reaped: no zombie left behind (on a machine too busy for a killed process at
    # the lowest priority to exit within the stop's wait, reaped by a thread when it does)
    qtbot.waitUntil(lambda: _gone(pid), timeout=30000)


@pytest.mark.slow
def test_a_trainer_that_gets_no_cpu_is_ended_within_the_stop_wait(qtbot, window):
    """Stopped by SIGSTOP, as if busy programs left it no CPU: stop() still ends the process and
    the thread inside its wait, so the window is never deleted under a running QThread."""
    tr = window.trainer
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
    pid = tr.worker.pid
    os.kill(pid, signal.SIGSTOP)
    assert tr.stop()

    def reaped() -> bool:  # multiprocessing reaps its ended children when asked
        multiprocessing.active_children()
        return _gone(pid)

    # killed (SIGTERM waits while a process is stopped): on a loaded machine the kernel may still
    # be freeing a ~1 GB process after stop()'s bounded join; it must be gone soon after
    qtbot.waitUntil(reaped, timeout=10000)


def test_a_crashed_trainer_process_is_reported_and_can_be_restarted(qtbot, window):
    tr = window.trainer
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
    errors = []
    tr.warned.connect(errors.append)
    os.kill(tr.worker.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: tr.state == "error", timeout=10000)
    assert errors and "ended unexpectedly" in errors[0] and "Traceback" not in errors[0]
    assert tr.stop()
    tr.start()
    qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
    qtbot.keyClick(window, Qt.Key_A)  # answers still reach the new trainer
    versions = []
    tr.metricsArrived.connect(lambda ev: versions.append(ev.model_version))
    qtbot.waitUntil(lambda: bool(versions) and max(versions) >= 1, timeout=30000)


def test_trainer_can_still_run_in_a_thread(qtbot, project):
    tr = TrainerController(str(project.root), device="cpu", in_process=False)
    states = []
    tr.stateChanged.connect(states.append)
    tr.start()
    try:
        qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
        assert not tr.worker.in_process and tr.worker.pid is None
        assert tr.trainer_peak_rss_mb is None  # counted in this process's own peak
    finally:
        assert tr.stop()
    assert states[0] == "loading" and states[-1] == "stopped"


def test_the_window_process_does_not_import_torch(project, tmp_path):
    """The trainer process holds torch (~500 MB resident); the window answering clicks must not
    (ADR 0007). A fresh interpreter: this test process has imported torch long ago."""
    script = tmp_path / "window_only.py"
    script.write_text(
        "import sys\n"
        "def main():\n"
        "    from mmrl_desktop.core.data.project import Project\n"
        "    from mmrl_desktop.gui.app import make_app, release_window\n"
        "    from mmrl_desktop.gui.bench_gui import _wait, simulated_answer\n"
        "    from mmrl_desktop.gui.main_window import MainWindow\n"
        "    app = make_app(offscreen=True)\n"
        "    w = MainWindow(Project.open(sys.argv[1]), annotator='t', device='cpu')\n"
        "    w.show()\n"
        "    _wait(app, lambda: w.labeling is not None, 30)\n"
        "    _wait(app, lambda: w.trainer.state in ('idle', 'running', 'error'), 60)\n"
        "    for _ in range(5):\n"
        "        simulated_answer(w.labeling)\n"
        "        _wait(app, lambda: False, 0.05)\n"
        "    print(w.trainer.state, 'torch' in sys.modules)\n"
        "    w.shutdown()\n"
        "    release_window(w)\n"
        "if __name__ == '__main__':\n"
        "    main()\n",
        encoding="utf-8",
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, str(script), str(project.root)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] in (["idle", "False"], ["running", "False"]), out.stdout


def test_a_second_answer_on_an_item_says_so(qtbot, window):
    lab = window.labeling
    first = lab.session.current_item().item_id
    qtbot.keyClick(window, Qt.Key_A)
    lab.activate(first)  # opened again from the list
    qtbot.keyClick(window, Qt.Key_Left)
    assert window.feedback.message.text().startswith(f"A second answer on {first}:")
    assert [e.item_id for e in _events(window)] == [first, first]
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert lab.session.status[first] == ItemStatus.UP


def test_on_a_short_screen_the_charts_start_hidden(qtbot, window):
    """A 1366×768 laptop leaves about 700 px for the window: the panel and the charts stacked
    need more, so the charts' dock starts hidden, View ▸ Training brings it back."""
    from mmrl_desktop.gui.screen_fit import NOTE, fit_to_screen

    dock = window.findChild(QDockWidget, "chartsDock")
    qtbot.wait(50)
    tall = window.minimumSizeHint().height()
    assert not fit_to_screen(window, dock, available=tall + 100) and dock.isVisible()
    assert fit_to_screen(window, dock, available=700)
    assert not dock.isVisible() and window.statusBar().currentMessage() == NOTE
    qtbot.wait(50)
    assert window.minimumSizeHint().height() + 40 <= 700 < tall + 40
    dock.toggleViewAction().trigger()
    assert dock.isVisible()
