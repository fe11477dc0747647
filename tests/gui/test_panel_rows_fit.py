"""A project of several tasks fits a 1280 × 800 window: the task rows scroll inside the Prediction
panel, the 👍/👎 buttons stay in view, and the window is never taller than asked (two tasks once
made it 1054 px high, taller than such a screen). One task never scrolls."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from tests.gui.test_header_fit import app_look  # noqa: F401  (the app's font and style)
from tests.gui.test_keys_and_fit import _png, open_window  # noqa: F401  (the fixture)

TASKS = {
    "finding": ["normal", "nodule", "effusion"],
    "severity": ["mild", "moderate", "severe"],
    "side": ["left", "right", "both"],
}


def _project(tmp_path, tasks: int) -> Project:
    names = list(TASKS)[:tasks]
    p = Project.create(tmp_path / "proj", tasks=[Task(n, TASKS[n]) for n in names])
    items = [Item(f"img{k}", image=_png(tmp_path / f"img{k}.png", k)) for k in range(8)]
    with p.open_store() as store:
        store.add_items(items)
    return p


@pytest.mark.parametrize("tasks", [1, 2, 3])
def test_the_rows_scroll_and_the_buttons_stay_in_view(
    qtbot,
    tmp_path,
    app_look,  # noqa: F811
    open_window,  # noqa: F811
    tasks,
):
    window = open_window(_project(tmp_path, tasks), (1280, 800))
    qtbot.wait(100)
    QApplication.processEvents()
    assert window.height() == 800  # not grown past the screen it was asked for
    fb = window.feedback
    area = fb.rows_area
    scrolled = area.verticalScrollBar().isVisible()
    assert scrolled == (tasks > 1)  # 1280 × 800 has room for one row whole, not two
    for row in fb.rows.values():  # each row whole inside the scrolled area, nothing drawn over
        assert row.height() >= row.minimumSizeHint().height()
        assert row.explore.geometry().top() >= row.top3.geometry().bottom()
    panel = fb.rect()
    for button in (fb.up_button, fb.down_button, fb.skip_button):
        assert panel.contains(button.geometry())  # in view, below the rows
        assert button.geometry().top() >= area.geometry().bottom()
    assert fb.key_hint.geometry().bottom() <= fb.key_hint.parentWidget().height()
    last = list(fb.rows.values())[-1]
    area.ensureWidgetVisible(last.picker)  # the last task's correction is reachable
    QApplication.processEvents()
    top_left = last.picker.mapTo(area.viewport(), last.picker.rect().topLeft())
    assert area.viewport().rect().contains(top_left)
