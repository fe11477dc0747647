"""Which item next in the window (issue 19): the trainer's choice reaches the session through the
controller's signal and the next click shows it (no model work on the GUI thread); the status bar
names the order and says what the figures of an actively ordered project are about."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.learning.trainer_messages import Info, NextItems
from mmrl_desktop.gui.main_window import MainWindow
from mmrl_desktop.gui.status import StatusBar


@pytest.fixture
def project(tmp_path):
    rng = np.random.default_rng(0)
    p = Project.create(
        tmp_path / "proj", tasks=[Task("label", ["a", "b"])], algorithm={"next_item": "uncertain"}
    )
    items = []
    for k in range(6):
        path = tmp_path / f"img{k}.png"
        Image.fromarray((rng.random((16, 16)) * 200).astype(np.uint8)).save(path)
        items.append(Item(f"img{k}", image=str(path), labels={"label": "ab"[k % 2]}))
    with p.open_store() as s:
        s.add_items(items)
    return p


@pytest.fixture
def window(qtbot, project):
    w = MainWindow(project, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    yield w
    w.shutdown()


def test_the_trainers_choice_is_asked_next(qtbot, window):
    lab = window.labeling
    s = lab.session
    shown = s.current_item().item_id
    chosen = [i for i in ("img4", "img1", "img3") if i != shown][:2]
    ctrl = window.trainer
    ctrl._on_yielded(ctrl.generation, NextItems(tuple(chosen), (0.9, 0.9), "uncertain", 3))
    assert s.next_ids == chosen
    assert s.current_item().item_id == shown  # the item on screen stays
    qtbot.waitUntil(lambda: lab._settled, timeout=5000)
    assert lab._next_id == chosen[0]  # decoded and preloaded ahead
    lab.thumb_up()
    assert s.current_item().item_id == chosen[0]
    lab.thumb_down()
    assert s.current_item().item_id == chosen[1]


def test_the_status_bar_names_the_order_and_what_the_figures_are_about(qtbot):
    bar = StatusBar()
    qtbot.addWidget(bar)
    assert bar.order.text() == ""
    bar.set_info({"device": "cpu", "next_item": "uncertain", "next_item_random": 0.2})
    # before the trainer's first choice: the queue order goes on, and the bar says so
    assert bar.order.text() == "Next: uncertain (queue order for now)"
    assert "readiness check" in bar.order.toolTip()
    bar.on_next_items()
    assert bar.order.text() == "Next: uncertain"
    bar.set_info({"next_item": "uncertain", "next_item_random": 0.2})  # a restarted trainer
    assert bar.order.text() == "Next: uncertain (queue order for now)"
    bar.on_next_items()
    tip = bar.order.toolTip()
    assert "about the items it chose, not a random sample" in tip
    assert "20% of the picks at random" in tip
    assert "held-out accuracy stays a random sample" in tip
    bar.set_info({"next_item": "shuffle"})
    assert bar.order.text() == "Next: shuffle" and "random sample" in bar.order.toolTip()
    bar.set_info({"model_version": 4})  # an Info without the order keeps it
    assert bar.order.text() == "Next: shuffle"
    bar.set_info({"next_item": "likely-positive"})  # a new order waits for its own choice
    assert bar.order.text() == "Next: likely-positive (queue order for now)"
    assert "readiness" not in bar.order.toolTip() and "warm-up" in bar.order.toolTip()


def test_info_reaches_the_status_bar_with_the_order(qtbot, window):
    ctrl = window.trainer
    ctrl._on_yielded(ctrl.generation, Info({"device": "cpu", "next_item": "uncertain"}))
    assert window.status.order.text() == "Next: uncertain (queue order for now)"
    ids = [window.labeling.session.current_item().item_id]
    ctrl._on_yielded(ctrl.generation, NextItems(tuple(ids), (1.0,), "uncertain", 1, (5,)))
    assert window.status.order.text() == "Next: uncertain"  # the trainer chooses now


def test_the_status_bar_says_when_the_order_handed_back_to_the_queue(qtbot, window):
    """uncertain/diverse hand back once half the items have answers (next_item.handed_back):
    the bar says the queue order goes on, and a restarted trainer's Info starts afresh."""
    ctrl = window.trainer
    ctrl._on_yielded(ctrl.generation, Info({"device": "cpu", "next_item": "diverse"}))
    ids = [window.labeling.session.current_item().item_id]
    ctrl._on_yielded(ctrl.generation, NextItems(tuple(ids), (1.0,), "diverse", 1, (5,)))
    ctrl._on_yielded(ctrl.generation, Info({"next_item_handed_back": 168}))
    bar = window.status
    assert bar.order.text() == "Next: queue order (diverse until 168 answers)"
    assert "no longer chooses (diverse)" in bar.order.toolTip()
    assert "held-out accuracy stays a random sample" in bar.order.toolTip()
    ctrl._on_yielded(ctrl.generation, Info({"next_item": "diverse"}))  # a restarted trainer
    assert bar.order.text() == "Next: diverse (queue order for now)"
