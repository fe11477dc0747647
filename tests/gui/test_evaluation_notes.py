"""Issue 12.1 in the Evaluation view: the prequential accuracy in the summary, and one sentence
instead of an empty confusion matrix, per-class table and reliability diagram."""

from __future__ import annotations

import pyqtgraph as pg
import pytest

from mmrl_desktop.core.evaluation import prequential
from mmrl_desktop.core.evaluation.evaluate import evaluate_project
from mmrl_desktop.gui.dialogs.evaluation import EvaluationDialog
from tests.core.enginefixtures import answer, digits_project


@pytest.mark.slow
def test_a_project_without_held_out_items_says_why(qtbot, tmp_path):
    project = digits_project(tmp_path, n=40)
    with project.open_store() as store:
        store.set_split([it.item_id for it in store.items()], "pool")  # none kept aside
    answer(project, 20)
    result = evaluate_project(project)
    dlg = EvaluationDialog(project)
    qtbot.addWidget(dlg)
    dlg.resize(1180, 760)
    dlg.show()
    dlg.set_result(result)
    for table in (dlg.confusion, dlg.per_class):
        assert (table.rowCount(), table.columnCount()) == (1, 1)
        assert table.item(0, 0).text() == prequential.NO_HOLDOUT
    texts = [
        i.textItem.toPlainText() for i in dlg.plot.getPlotItem().items if isinstance(i, pg.TextItem)
    ]
    assert texts == [prequential.NO_HOLDOUT]
    rows = [dlg.summary.verticalHeaderItem(r).text() for r in range(dlg.summary.rowCount())]
    row = rows.index("Prequential accuracy")
    pq = result["prequential"]
    lo, hi = pq["ci95"]
    want = f"{100 * pq['accuracy']:.1f}%  ({100 * lo:.1f}–{100 * hi:.1f})"
    assert dlg.summary.item(row, 0).text() == want
    assert dlg.summary.item(row, 1).text() == "—"  # a figure of the answers, shown once
    assert "Over 20 answers" in dlg.summary.item(row, 0).toolTip()


def test_prequential_accuracy_is_shown_once_not_per_model(qtbot, tmp_path):
    """The prequential accuracy scores each answer against the label shown at the time: one
    figure of the session's answers, under the current model only, "—" under the starting model
    (it showed the same number in both columns), with a tooltip that says so."""
    project = digits_project(tmp_path, n=20)
    answer(project, 8)
    result = evaluate_project(project, bootstrap=20)
    dlg = EvaluationDialog(project)
    qtbot.addWidget(dlg)
    dlg.set_result(result)
    t = dlg.summary
    heads = [t.horizontalHeaderItem(c).text() for c in range(t.columnCount())]
    assert heads[:2] == ["Current model", "Starting model"]
    rows = [t.verticalHeaderItem(r).text() for r in range(t.rowCount())]
    row = rows.index("Prequential accuracy")
    cells = [t.item(row, c).text() for c in range(t.columnCount())]
    assert cells[0].endswith(")") and "%" in cells[0]
    assert cells[1:] == ["—"] * (len(cells) - 1)
    tip = t.item(row, 0).toolTip()
    assert "label shown at the time" in tip and "not of one model" in tip
    assert "Over 8 answers" in tip
