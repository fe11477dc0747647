"""The item header of a revisited item fits the Prediction panel at 1280×800 (issue 12.13)."""

from __future__ import annotations

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from tests.gui.test_keys_and_fit import _png, open_window  # noqa: F401  (the fixture)

SHAPES = ["circle", "square", "triangle"]


@pytest.fixture
def app_look(qapp):
    """The app's own font and style sheet (``make_app``): the header is bold and 12 pt there."""
    from mmrl_desktop.gui.app import STYLE_SHEET

    font, sheet = qapp.font(), qapp.styleSheet()
    bigger = qapp.font()
    bigger.setPointSizeF(10.5)
    qapp.setFont(bigger)
    qapp.setStyleSheet(STYLE_SHEET)
    yield
    qapp.setStyleSheet(sheet)
    qapp.setFont(font)


def _shapes_project(tmp_path) -> Project:
    """Item ids as an imported folder of classes gives them: ``triangle/triangle14``."""
    p = Project.create(tmp_path / "proj", tasks=[Task("label", SHAPES)])
    items = [
        Item(f"{s}/{s}{k}", image=_png(tmp_path / f"{s}{k}.png", k), labels={"label": s})
        for k in range(10, 22)
        for s in SHAPES
    ]
    with p.open_store() as store:
        store.add_items(items)
    return p


@pytest.mark.parametrize("answer", ["corrected", "right", "wrong", "skipped"])
def test_the_header_of_an_answered_item_is_not_cut(
    qtbot,
    tmp_path,
    app_look,
    open_window,  # noqa: F811
    answer,
):
    window = open_window(_shapes_project(tmp_path), (1280, 800))
    lab = window.labeling
    first = lab.session.current_item().item_id
    shown = lab.session.prediction(first, "label").shown_label
    other = next(s for s in SHAPES if s != shown)  # a correction to the shown label is a 👍
    {
        "corrected": lambda: lab.correct("label", other),
        "right": lab.thumb_up,
        "wrong": lab.thumb_down,
        "skipped": lab.skip,
    }[answer]()
    lab.activate(first)  # back to it: the header says how it was answered
    qtbot.wait(100)
    title = window.feedback.item_title
    assert answer in title.text() and f"of {len(lab.session.items)}" in title.text()
    assert "…" not in title.shown_text(), title.shown_text()
