"""The feedback panel and the status bar keep their geometry while the expert clicks."""

from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QEvent

from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.gui.feedback_panel import FeedbackPanel
from mmrl_desktop.gui.status import StatusBar

LABELS = [str(d) for d in range(10)]


def _settle(qtbot) -> None:
    for _ in range(3):  # a relayout can post the next level's
        QCoreApplication.sendPostedEvents(None, QEvent.LayoutRequest)
        qtbot.wait(1)


def _pred(shown: str, top: str, version: int = 3) -> Prediction:
    probs = {top: 0.7, shown: 0.2} if shown != top else {top: 0.9}
    return Prediction("x", "digit", version, shown, 0.5, probs)


def test_thumb_buttons_do_not_move_whatever_the_panel_says(qtbot, show_widget):
    panel = show_widget(FeedbackPanel([("digit", LABELS)]), 300, 700)
    cases = [
        ("a", {"digit": _pred("3", "3")}, True),  # the model's top guess: no note
        ("b", {"digit": _pred("5", "8")}, True),  # exploring: a note appears
        ("c", {"digit": _pred("5", "5")}, False),  # no model yet: another note
        ("a much longer item name that wraps " * 2, {"digit": None}, True),  # nothing at all
        ("e", {"digit": _pred("7", "7", version=12345)}, True),
    ]
    seen = set()
    for title, preds, from_model in cases:
        panel.show_item(title, preds, from_model)
        _settle(qtbot)
        seen.add((panel.up_button.geometry().getRect(), panel.down_button.geometry().getRect()))
    assert panel.rows["digit"].explore.text() == ""  # the last case had no note
    assert len(seen) == 1, seen


def test_status_bar_labels_keep_their_place_as_counts_grow(qtbot, show_widget):
    bar = show_widget(StatusBar(), 1000, 24)
    bar.set_counts(0, 151)
    bar.set_info({"device": "cpu", "model_version": 0})
    _settle(qtbot)
    labels = (bar.device, bar.version, bar.answers, bar.state)
    where = [w.geometry().getRect() for w in labels]
    for done, version in ((9, 9), (10, 10), (99, 120), (100, 1200), (151, 12000)):
        bar.set_counts(done, 151)
        bar.set_info({"model_version": version})
        bar.set_trainer_state("running" if done % 2 else "paused")
        _settle(qtbot)
        assert [w.geometry().getRect() for w in labels] == where


def test_the_closed_correction_list_answers_nothing_by_wheel_or_arrow_keys(qtbot, show_widget):
    """↓, PgDn, End or the wheel over the closed "Correct to…" list each saved a correction
    (QComboBox's activated); only a choice in the open list answers."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QKeyEvent, QWheelEvent

    panel = show_widget(FeedbackPanel([("digit", LABELS)]), 300, 700)
    got: list[tuple[str, str]] = []
    panel.correctRequested.connect(lambda task, label: got.append((task, label)))
    picker = panel.rows["digit"].picker
    assert picker.focusPolicy() == Qt.NoFocus
    for key in (Qt.Key_Down, Qt.Key_PageDown, Qt.Key_End, Qt.Key_Up, Qt.Key_Home):
        QCoreApplication.sendEvent(picker, QKeyEvent(QEvent.KeyPress, key, Qt.NoModifier))
    centre = QPointF(picker.rect().center())
    for delta in (-120, 120, -120):
        wheel = QWheelEvent(centre, QPointF(picker.mapToGlobal(centre.toPoint())), QPoint(),
                            QPoint(0, delta), Qt.NoButton, Qt.NoModifier, Qt.NoScrollPhase, False)  # fmt: skip
        QCoreApplication.sendEvent(picker, wheel)
    qtbot.wait(10)
    assert got == [] and picker.currentIndex() == 0
    picker.activated.emit(3)  # a choice in the open list
    assert got == [("digit", LABELS[2])] and picker.currentIndex() == 0
