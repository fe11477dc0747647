"""Edit ▸ Exclude this item (Ctrl+Delete) in the real main window: the queue moves on, the store
records it, Ctrl+Z brings it back; Edit ▸ Include excluded items… lists and includes."""

from __future__ import annotations

from PySide6.QtCore import Qt

from mmrl_desktop.core.labelling.session import ItemStatus
from tests.gui.test_main_window import project, window  # noqa: F401  (fixtures)


def _queue_ids(win) -> list[str]:
    model = win.queue.model
    return [model.data(model.index(r), Qt.UserRole) for r in range(model.rowCount())]


def test_exclude_moves_on_records_and_undo_brings_it_back(qtbot, window):  # noqa: F811
    lab = window.labeling
    store = lab.session.store
    total = len(lab.session.items)
    first = lab.session.current_item().item_id
    assert "Exclude this item" in window.actions_.exclude.text().replace("&", "")
    assert window.actions_.exclude in window.menuBar().actions()[1].menu().actions()
    qtbot.keyClick(window, Qt.Key_Delete, Qt.ControlModifier)
    nxt = lab.session.current_item().item_id
    assert nxt != first
    assert store.excluded_ids() == {first}
    [row] = store.exclusions()
    assert row.annotator == "tester" and row.reason
    assert first not in _queue_ids(window) and len(_queue_ids(window)) == total - 1
    assert window.queue.progress.maximum() == total - 1
    assert window.feedback.item_title.text().startswith(nxt)
    assert "Excluded" in window.feedback.message.text()
    qtbot.keyClick(window, Qt.Key_A)  # answering goes on with the others
    assert lab.session.status[nxt] == ItemStatus.UP
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)  # undo the answer
    qtbot.keyClick(window, Qt.Key_Z, Qt.ControlModifier)  # undo the exclusion
    assert store.excluded_ids() == set() and lab.session.current_item().item_id == first
    assert len(_queue_ids(window)) == total and first in _queue_ids(window)


def test_include_dialog_lists_and_brings_items_back(qtbot, window):  # noqa: F811
    from mmrl_desktop.gui.dialogs.excluded_items import open_excluded_items

    lab = window.labeling
    first = lab.session.current_item().item_id
    window.actions_.exclude.trigger()
    dlg = open_excluded_items(window)
    qtbot.addWidget(dlg)
    assert dlg.ids == [first] and not dlg.include_button.isEnabled()
    dlg.table.selectRow(0)
    dlg.include_button.click()
    assert dlg.ids == [] and dlg.empty.isVisibleTo(dlg)
    assert lab.session.store.excluded_ids() == set()
    assert first in _queue_ids(window) and lab.session.current_item().item_id == first
