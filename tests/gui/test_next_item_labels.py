"""Issue 19: the prequential and held-out figures of an actively ordered project say so — the
charts' titles, x labels and tooltips, and the Evaluation view's summary and notes."""

from __future__ import annotations

import pytest

from mmrl_desktop.core.data.store import Selection
from mmrl_desktop.core.evaluation.evaluate import evaluate_project
from mmrl_desktop.core.learning.trainer_messages import Info
from mmrl_desktop.gui.dialogs import evaluation_notes as why
from mmrl_desktop.gui.dialogs.evaluation import EvaluationDialog
from tests.core.enginefixtures import DEFAULT_TASK, digits_project
from tests.gui.test_charts import _fill_every_plot
from tests.gui.test_next_item_gui import project, window  # noqa: F401  (fixtures)


def _x_label(charts, pid):
    return charts.plots[pid].getAxis("bottom").labelText


def test_an_active_order_labels_the_charts(qtbot, charts):
    charts.set_order("uncertain")
    _fill_every_plot(charts)
    assert "Prequential · chosen" in charts.plots["preq"].titleLabel.text
    assert _x_label(charts, "eval") == "step · random items"
    preq_tip = charts.plots["preq"].toolTip()
    assert "Prequential accuracy — items chosen by 'uncertain' (not a random sample)" in preq_tip
    assert "items chosen by 'uncertain'" in charts.plots["reward"].toolTip()
    assert "a random sample of the items" in charts.plots["eval"].toolTip()
    assert _x_label(charts, "preq") == "answers chosen by uncertain"
    assert _x_label(charts, "reward") == "answers (chosen)"
    charts.set_order("shuffle")  # the queue order: the plain names again
    assert "·" not in charts.plots["preq"].titleLabel.text
    assert _x_label(charts, "preq") == "answers"
    assert "not a random sample" not in charts.plots["preq"].toolTip()


@pytest.mark.parametrize("size", [(1280, 230), (1920, 260), (900, 420)])
def test_the_longest_order_title_still_fits_its_plot(qtbot, charts, size):
    charts.set_order("likely-positive")
    charts.resize(*size)
    _fill_every_plot(charts)
    qtbot.wait(50)  # the layout settles
    for pid, plot in charts.plots.items():
        text = plot.titleLabel.item.boundingRect().width()
        assert text <= plot.geometry().width(), (pid, plot.titleLabel.text)
        label = plot.getAxis("bottom").label.boundingRect().width()
        assert label <= plot.geometry().width() - 44, (pid, _x_label(charts, pid))


def test_the_window_labels_its_charts_by_the_projects_order(qtbot, window):  # noqa: F811
    assert "Prequential · chosen" in window.charts.plots["preq"].titleLabel.text
    ctrl = window.trainer
    ctrl._on_yielded(ctrl.generation, Info({"device": "cpu", "next_item": "shuffle"}))
    assert "·" not in window.charts.plots["preq"].titleLabel.text


@pytest.mark.slow
def test_the_evaluation_view_says_which_answers_the_model_chose(qtbot, tmp_path):
    proj = digits_project(tmp_path, n=40, algorithm={"next_item": "uncertain"})
    with proj.open_store() as store:
        pool = store.items(split="pool")
        for k, it in enumerate(pool[:24]):
            m = len(pool) - k
            sel = Selection(1 / m, m, "shuffle") if k < 12 else Selection(0.9, m, "uncertain")
            right = it.labels[DEFAULT_TASK]
            store.record_feedback(it.item_id, DEFAULT_TASK, right, 0.5, 1, selection=sel)
    result = evaluate_project(proj)
    dlg = EvaluationDialog(proj)
    qtbot.addWidget(dlg)
    dlg.set_result(result)
    t = dlg.summary
    rows = [t.verticalHeaderItem(r).text() for r in range(t.rowCount())]
    assert "Prequential (uncertain)" in rows and "Prequential accuracy" not in rows
    tip = t.item(rows.index("Prequential (uncertain)"), 0).toolTip()
    assert "items chosen by 'uncertain' (not a random sample)" in tip
    assert t.item(rows.index("Accuracy"), 0).toolTip() == why.HELD_OUT_RANDOM
    first = dlg.notes.text().splitlines()[0]
    assert first == (
        "Which item next: 'uncertain' chose 12 of 24 answered items, so the prequential figure "
        "is not a random sample; the held-out figures are."
    )


def test_answers_in_the_queue_order_need_no_order_line():
    result = {"answers_by_order": {"shuffle": 5, "unknown": 2}, "order_note": "x"}
    assert why.chosen_by(result) is None and why.order_line(result) is None
    several = {"answers_by_order": {"uncertain": 5, "diverse": 2}}
    assert why.chosen_by(several) == "the model"
