"""Issue 12: the Evaluation dialog closes with a Close button, names every line of its chart and
says why an off-policy figure is missing; the panel's confidence is the one source's number."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtWidgets import QDialog, QDialogButtonBox

from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.core.evaluation.evaluate import evaluate_project
from mmrl_desktop.core.tasks import Cancelled, TaskState
from mmrl_desktop.gui.dialogs.evaluation import DIAGONAL, EvaluationDialog, evaluation_job
from mmrl_desktop.gui.feedback_panel import FeedbackPanel
from tests.core.test_out_of_sample import make_trained_on_all, panel_and_evaluate_probs, trickle


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Project:
    """40 answers near the starting model, a model trained on all of them, a checkpoint."""
    return make_trained_on_all(tmp_path_factory.mktemp("evaldlg"))


def test_close_button_named_lines_and_reasons(qtbot, trained):
    dlg = EvaluationDialog(trained)
    qtbot.addWidget(dlg)
    dlg.resize(1180, 760)
    dlg.show()
    dlg.set_result(evaluate_project(trained))
    # every line of the reliability diagram has its name in the legend
    names = [label.text for _, label in dlg.legend.items]
    assert len(names) == len(dlg.plot.listDataItems()) == 3
    assert names[0] == DIAGONAL
    assert names[1].startswith("Current model (ECE ") and names[2].startswith("Starting model")
    # the current model trained on every answer: a sentence, not a number
    notes = dlg.notes.text()
    assert "Off-policy, Current model: not enough answers (n = 0 after this model's checkpoint" in (
        notes
    )
    assert "Calibration, Current model: ECE " in notes and "not calibrated (temperature 1" in notes
    rows = [dlg.summary.verticalHeaderItem(r).text() for r in range(dlg.summary.rowCount())]
    snips = rows.index("Thumbs-up rate, SNIPS")
    assert dlg.summary.item(snips, 0).text() == "n/a (n = 0)"
    assert "not enough answers" in dlg.summary.item(snips, 0).toolTip()
    assert "(" in dlg.summary.item(snips, 1).text()  # the starting model's estimate and interval
    unseen = rows.index("Answers not trained on")
    assert [dlg.summary.item(unseen, c).text() for c in range(2)] == ["0", "40"]
    # a Close button that closes
    boxes = dlg.findChildren(QDialogButtonBox)
    assert len(boxes) == 1
    close = boxes[0].button(QDialogButtonBox.Close)
    assert close is not None and close.isVisible()
    with qtbot.waitSignal(dlg.finished, timeout=5000) as closed:
        close.click()
    assert not dlg.isVisible() and closed.args == [QDialog.Rejected]


def test_panel_shows_the_one_source_confidence_never_the_propensity(qtbot, trained, tmp_path):
    project = trickle(Project.open(shutil.copytree(trained.root, tmp_path / "p")), rounds=20)
    items, preds, ev = panel_and_evaluate_probs(project, 5, "panel")  # a fitted temperature
    labels = project.tasks[0].labels
    panel = FeedbackPanel([(DEFAULT_TASK, labels)])
    qtbot.addWidget(panel)
    row = panel.rows[DEFAULT_TASK]
    for k, it in enumerate(items):
        pred = preds[it.item_id][DEFAULT_TASK]
        panel.show_item(it.item_id, {DEFAULT_TASK: pred}, True)
        p = ev[k, labels.index(pred.shown_label)]  # evaluate's number for the shown label
        assert row.confidence.value() == int(round(p * 1000))
        assert row.confidence.format() == f"confidence {p:.0%}"
    # probabilities that do not name the shown label: no number, and never the propensity
    odd = Prediction("x", DEFAULT_TASK, 3, "7", 0.42, {"1": 0.6, "2": 0.4})
    panel.show_item("x", {DEFAULT_TASK: odd}, True)
    assert row.confidence.format() == "confidence —" and row.confidence.value() == 0


def test_evaluate_runs_with_the_core_task_state_progress_and_cancel(qtbot, trained):
    """The dialog's job hands its TaskState (core/tasks.py) to evaluate_project: the bar shows
    the items scored, up to the whole; a cancelled state ends the job with tasks.Cancelled."""
    dlg = EvaluationDialog(trained)
    qtbot.addWidget(dlg)
    seen: list[tuple[int, int]] = []
    dlg.start()
    dlg.task.progress.connect(lambda d, t: seen.append((d, t)))
    with qtbot.waitSignal(dlg.task.ended, timeout=120000):
        pass
    assert dlg.result is not None and seen
    assert seen[-1][0] == seen[-1][1] > 1  # items scored, not a 0/1 step
    assert dlg.bar.maximum() == seen[-1][1]

    state = TaskState()
    state.cancel()
    with pytest.raises(Cancelled):
        evaluation_job(str(trained.root), None)(state)
