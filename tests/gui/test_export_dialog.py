"""The Export dialog's "Pseudonymous item ids" box: says what it does, applies to the feedback
log only, and the written file carries the pseudonyms (issue 18, point 11)."""

from __future__ import annotations

import json
import os

from mmrl_desktop.core.items import Item
from mmrl_desktop.core.project import Project, Task
from mmrl_desktop.core.pseudonyms import project_key, pseudonym
from mmrl_desktop.gui.dialogs.export_dialog import PSEUDONYM_NA, PSEUDONYM_TEXT, ExportDialog


def test_pseudonymous_ids_box(qtbot, tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "b"])])
    with project.open_store() as store:
        store.add_items([Item("DOE_JOHN_normal0", text_inline="x")])
        store.record_feedback("DOE_JOHN_normal0", "t", "a", 0.5, 1, annotator="dr")
    dlg = ExportDialog(project)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.format.setCurrentText("TorchScript model (.pt)")
    assert not dlg.pseudonymize.isEnabled() and dlg.pseudonym_note.text() == PSEUDONYM_NA
    dlg.format.setCurrentText("Feedback log, JSONL (.jsonl)")
    assert dlg.pseudonymize.isEnabled() and dlg.pseudonym_note.text() == PSEUDONYM_TEXT
    assert "patient's name" in PSEUDONYM_TEXT and "pseudonym.key" in PSEUDONYM_TEXT
    dlg.pseudonymize.setChecked(True)
    if os.environ.get("MMRL_SCREENSHOT"):  # a look at the dialog (not a check)
        qtbot.wait(100)  # let the layout follow the new texts
        dlg.grab().save(os.environ["MMRL_SCREENSHOT"])
    out = tmp_path / "out" / "fb.jsonl"
    dlg.path.setText(str(out))
    dlg.start()
    qtbot.waitUntil(lambda: not dlg.is_running(), timeout=30000)
    dlg.task.wait()
    assert "with pseudonymous item ids" in dlg.result.text(), dlg.result.text()
    row = json.loads(out.read_text().splitlines()[0])
    assert row["item_id"] == pseudonym(project_key(project.root), "DOE_JOHN_normal0")
    assert "DOE" not in out.read_text()
    assert dlg.pseudonymize.isEnabled()  # usable again after the export
