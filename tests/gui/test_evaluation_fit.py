"""The Evaluation view at its snapshot size shows a 10-label confusion matrix whole (issue 12.13:
no scroll bar, no row cut in docs/screenshots/evaluation.png)."""

from __future__ import annotations

import copy

import pytest

from mmrl_desktop.core.evaluation.evaluate import evaluate_project
from mmrl_desktop.gui.dialogs.evaluation import EvaluationDialog
from tests.gui.test_evaluation_dialog import trained  # noqa: F401  (the fixture)
from tests.gui.test_header_fit import app_look  # noqa: F401  (the app's font and style)


@pytest.mark.parametrize("points", [10.5, 12.0])
def test_ten_labels_confusion_matrix_fits_without_scrolling(qtbot, qapp, app_look, trained, points):  # noqa: F811
    """12 pt stands for a font of taller lines (Noto Sans's against DejaVu Sans's): the matrix
    asks the dialog for its rows' height instead of an even share of it."""
    font = qapp.font()
    font.setPointSizeF(points)  # app_look puts its own font back afterwards
    qapp.setFont(font)
    result = copy.deepcopy(evaluate_project(trained))
    labels = [str(d) for d in range(10)]
    for entry in result["tasks"].values():  # the demo's ten digits
        entry["labels"] = labels
        for model in entry["holdout"].values():
            model["confusion_matrix"] = [[(r + c) % 3 for c in range(10)] for r in range(10)]
    dlg = EvaluationDialog(trained)
    qtbot.addWidget(dlg)
    dlg.resize(1180, 760)  # evaluation_snapshot's size
    dlg.show()
    dlg.set_result(result)
    qtbot.wait(50)
    t = dlg.confusion
    assert t.rowCount() == 10
    assert not t.verticalScrollBar().isVisible() and not t.horizontalScrollBar().isVisible()
    fm = t.fontMetrics()
    assert min(t.rowHeight(r) for r in range(10)) >= fm.height()  # each number readable
