"""Edit ▸ Include excluded items…: the excluded items (when, by whom, why) and bringing them back.

Excluding is Edit ▸ Exclude this item (Ctrl+Delete) or ``mmrl-desktop exclude``; nothing is ever
deleted (``core/data/exclusions.py``). Including selected rows is one short store write through the
labelling session, which puts the items back in the queue.
"""

from __future__ import annotations

import time

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QLabel,
    QTableWidgetItem,
)

from mmrl_desktop.gui.widgets import close_and_action, list_table, stack

COLUMNS = ["Item", "Excluded", "By", "Reason"]


class ExcludedItemsDialog(QDialog):
    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.window_ = window
        self.setWindowTitle(f"Excluded items — {window.project.name}")
        self.resize(760, 380)
        intro = QLabel(
            "Excluded items are out of the queue, training and evaluation; their answers stay in "
            "the log. Select items and include them to bring them back."
        )
        intro.setWordWrap(True)
        self.table = list_table(COLUMNS, QAbstractItemView.ExtendedSelection)
        self.table.itemSelectionChanged.connect(self._selection)
        self.empty = QLabel("No item is excluded.")
        self.buttons, self.include_button = close_and_action(
            self, "Include selected items", self._include
        )
        stack(self, intro, self.table, self.empty, self.buttons, stretch=self.table)
        self.ids: list[str] = []
        self.refresh()

    def refresh(self) -> None:
        rows = self.window_.labeling.session.store.exclusions()
        self.ids = [e.item_id for e in rows]
        self.table.setRowCount(len(rows))
        for r, e in enumerate(rows):
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.timestamp))
            for c, text in enumerate([e.item_id, when, e.annotator, e.reason]):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.empty.setVisible(not rows)
        self._selection()

    def selected_ids(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.ids[r] for r in rows if 0 <= r < len(self.ids)]

    def _selection(self) -> None:
        self.include_button.setEnabled(bool(self.selected_ids()))

    def _include(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.window_.labeling.include(ids)
            self.refresh()


def open_excluded_items(window) -> ExcludedItemsDialog | None:
    if window.labeling is None:  # still starting
        return None
    dlg = ExcludedItemsDialog(window, window)
    dlg.open()
    return dlg
