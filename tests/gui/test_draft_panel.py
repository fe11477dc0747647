"""The draft panel of a generate task: "drafting…" until the trainer's draft comes, then the
draft; Shift+A / Shift+X answer it, Shift+E edits it (Enter submits, Esc cancels); every answer is
one row in the store. The window with a generate task never loads the language model itself:
the trainer process drafts, and the window's process imports neither torch nor transformers."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import GenerateTask, Project, Task
from mmrl_desktop.core.labelling.drafts import DraftBook
from mmrl_desktop.core.learning.trainer_messages import Drafts
from mmrl_desktop.gui.draft_panel import DRAFTING, DraftController, DraftPanel


def make_project(root, tiny_lm_folder, **settings) -> Project:
    task = GenerateTask(
        "finding",
        GenerateConfig.from_dict(
            {"prompt": "Finding:", "model": str(tiny_lm_folder), "max_new_tokens": 6, **settings}
        ),
    )
    p = Project.create(root, tasks=[Task("label", ["a", "b"])], generate_tasks=[task])
    with p.open_store() as s:
        s.add_items(
            [
                Item(
                    f"i{k}", text_inline=f"case {k} no focal lesion", labels={"label": "ab"[k % 2]}
                )
                for k in range(6)
            ]
        )
    return p


@pytest.fixture
def project(tmp_path, tiny_lm_folder):
    return make_project(tmp_path / "p", tiny_lm_folder)


def _real_drafts(project, ids):
    """Drafts as the trainer process makes them (the tiny model, stored)."""
    from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer

    gen = GenerateTrainer(project, project.generate_task(), "cpu")
    try:
        return gen.draft(ids)
    finally:
        gen.close()


def test_the_panel_shows_the_draft_and_takes_answers_and_edits_by_key(qtbot, project):
    (d0,) = _real_drafts(project, ["i0"])
    store = project.open_store()
    host = QWidget()
    lay = QVBoxLayout(host)
    panel = DraftPanel("finding", "Finding:")
    lay.addWidget(panel)
    panel.make_actions(host)
    ctrl = DraftController(DraftBook(store, "finding", "tester"), panel)
    qtbot.addWidget(host)
    host.show()
    host.activateWindow()
    qtbot.waitExposed(host)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is host)  # its shortcuts work
    ctrl.show("i0")
    assert panel.texts[0].text() == DRAFTING and not panel.up_button.isEnabled()
    ctrl.on_drafts(Drafts((d0,), "finding"))
    assert panel.texts[0].text() == d0.text and panel.source.text() == "policy v0"
    QTest.keyClick(host, Qt.Key_A, Qt.ShiftModifier)
    assert [(a.reward, a.edited_text) for a in store.all_draft_answers()] == [(1, None)]
    assert panel.status.text() == "answered: good"
    QTest.keyClick(host, Qt.Key_E, Qt.ShiftModifier)
    assert panel.editor.isVisible() and panel.editor.text() == d0.text
    QTest.keyClick(panel.editor, Qt.Key_Escape)  # Esc: nothing written
    assert not panel.editor.isVisible() and len(store.all_draft_answers()) == 1
    QTest.keyClick(host, Qt.Key_E, Qt.ShiftModifier)
    panel.editor.clear()
    QTest.keyClicks(panel.editor, "8 mm nodule right upper lobe")
    QTest.keyClick(panel.editor, Qt.Key_Return)
    rows = store.all_draft_answers()  # the second answer replaces the first
    assert [(a.kind, a.reward, a.edited_text) for a in rows] == [
        ("answer", 1, None),
        ("retraction", None, None),
        ("answer", -1, "8 mm nodule right upper lobe"),
    ]
    assert panel.status.text() == "answered: edited" and not panel.editor.isVisible()
    assert ctrl.undo() and store.active_draft_answers() == []
    store.close()


def test_a_newer_draft_of_the_shown_item_waits_until_it_is_left(qtbot, project):
    first, second = _real_drafts(project, ["i1"]), _real_drafts(project, ["i1"])
    store = project.open_store()
    panel = DraftPanel("finding", "Finding:")
    qtbot.addWidget(panel)
    ctrl = DraftController(DraftBook(store, "finding"), panel)
    ctrl.show("i1")
    ctrl.on_drafts(Drafts(tuple(first), "finding"))
    shown = panel.texts[0].text()
    newer = (dataclasses.replace(second[0], policy_version=1),)
    ctrl.on_drafts(Drafts(newer, "finding"))
    assert panel.texts[0].text() == shown and panel.source.text() == "policy v0"
    ctrl.show("i2")
    ctrl.show("i1")
    assert panel.source.text() == "policy v1"
    store.close()


WINDOW_SCRIPT = """
import sys, time
def main():
    from mmrl_desktop.core.data.project import Project
    from mmrl_desktop.gui.app import make_app, release_window
    from mmrl_desktop.gui.bench_gui import _wait, simulated_answer
    from mmrl_desktop.gui.draft_panel import DRAFTING
    from mmrl_desktop.gui.main_window import MainWindow
    app = make_app(offscreen=True)
    w = MainWindow(Project.open(sys.argv[1]), annotator='t', device='cpu')
    w.resize(1280, 800)
    w.show()
    _wait(app, lambda: w.labeling is not None, 60)
    panel = w.drafts.panel
    drafted = lambda: panel.texts[0].text() != DRAFTING
    ok = _wait(app, drafted, 240)
    first = w.drafts.item_id
    w.drafts.panel.up_button.click()
    _wait(app, lambda: False, 1.0)  # the trainer drafts the next items meanwhile
    simulated_answer(w.labeling)
    ahead = w.drafts.item_id != first and drafted()  # the next draft was there at once
    _wait(app, lambda: False, 0.2)
    if len(sys.argv) > 2:
        w.grab().save(sys.argv[2])
    print(ok, ahead, 'torch' in sys.modules, 'transformers' in sys.modules)
    w.shutdown()
    release_window(w)
if __name__ == '__main__':
    main()
"""


def test_the_window_shows_drafts_from_the_trainer_process_without_loading_the_model(
    tmp_path, tiny_lm_folder
):
    """The real app: the trainer process loads the tiny model and drafts ahead; the window
    shows the draft, and the next item's draft is there when the expert moves on. A fresh
    interpreter: this test process has imported torch and transformers long ago."""
    project = make_project(tmp_path / "p", tiny_lm_folder, temperature=0.0)
    script = tmp_path / "window_with_drafts.py"
    script.write_text(WINDOW_SCRIPT, encoding="utf-8")
    args = [sys.executable, str(script), str(project.root)]
    if os.environ.get("MMRL_SCREENSHOT"):
        args.append(os.environ["MMRL_SCREENSHOT"])
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(args, capture_output=True, text=True, timeout=420, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[-4:] == ["True", "True", "False", "False"], (
        out.stdout + out.stderr[-3000:]
    )
    with project.open_store() as s:
        assert len(s.active_draft_answers()) == 1 and len(s.drafts()) >= 2


def test_a_project_of_drafts_only_moves_on_after_each_answer(qtbot, tmp_path, tiny_lm_folder):
    """No label task: the window shows the drafts, and answering one shows the next item."""
    from mmrl_desktop.gui.main_window import MainWindow

    task = make_project(tmp_path / "with", tiny_lm_folder).generate_task()
    p = Project.create(tmp_path / "p", tasks=[], generate_tasks=[task])
    with p.open_store() as s:
        s.add_items([Item(f"i{k}", text_inline=f"case {k}") for k in range(3)])
    w = MainWindow(p, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    try:
        ctrl = w.drafts
        first = ctrl.item_id
        ctrl.on_drafts(Drafts(tuple(_real_drafts(p, ["i0", "i1", "i2"])), "finding"))
        ctrl.panel.up_button.click()
        assert ctrl.item_id != first and w.labeling.session.current_item().item_id == ctrl.item_id
        assert ctrl.panel.texts[0].text() != DRAFTING
        ctrl.panel.editSubmitted.emit(0, "no focal lesion")
        ctrl.panel.down_button.click()
        assert ctrl.book.answer_of(ctrl.item_id) is not None  # all three answered: it stays
        with p.open_store() as s:
            assert [a.reward for a in s.active_draft_answers()] == [1, -1, -1]
        last = ctrl.item_id
        w.actions_.undo.trigger()  # Ctrl+Z: the newest draft answer is withdrawn
        assert ctrl.item_id == last and ctrl.book.answer_of(last) is None
        with p.open_store() as s:
            assert [a.reward for a in s.active_draft_answers()] == [1, -1]
    finally:
        w.shutdown()


def test_ctrl_z_withdraws_the_newest_answer_label_or_draft(qtbot, project):
    """Label tasks and a generate task: Ctrl+Z withdraws the newest answer of either kind, and
    an undone draft answer shows its item again."""
    from mmrl_desktop.gui.main_window import MainWindow

    w = MainWindow(project, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    try:
        ctrl, lab = w.drafts, w.labeling
        first = ctrl.item_id
        ctrl.on_drafts(Drafts(tuple(_real_drafts(project, [f"i{k}" for k in range(6)])), "finding"))
        ctrl.panel.down_button.click()  # the draft of the shown item: bad
        lab.thumb_up()  # its label: right; the next item is shown
        second = ctrl.item_id
        assert second != first
        ctrl.panel.up_button.click()  # the next item's draft: good
        with project.open_store() as s:
            assert [a.reward for a in s.active_draft_answers()] == [-1, 1]
            assert len(s.active_feedback()) == 1
        w.actions_.undo.trigger()  # the newest: the second item's draft answer
        assert ctrl.book.answer_of(second) is None and ctrl.book.answer_of(first) is not None
        w.actions_.undo.trigger()  # then the label answer: the first item is shown again
        assert lab.session.current_item().item_id == first == ctrl.item_id
        with project.open_store() as s:
            assert s.active_feedback() == [] and len(s.active_draft_answers()) == 1
        w.feedback.undoRequested.emit()  # the panel's Undo button: the first draft answer
        assert ctrl.book.answer_of(first) is None and ctrl.panel.status.text() == ""
        with project.open_store() as s:
            assert s.active_draft_answers() == []
            assert [a.kind for a in s.all_draft_answers()].count("retraction") == 2
    finally:
        w.shutdown()
