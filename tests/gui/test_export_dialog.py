"""The Export dialog's "Pseudonymous item ids" box: says what it does, applies to the feedback
log only, and the written file carries the pseudonyms (issue 18, point 11)."""

from __future__ import annotations

import json
import os

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.pseudonyms import project_key, pseudonym
from mmrl_desktop.gui.dialogs.export_dialog import PSEUDONYM_NA, PSEUDONYM_TEXT, ExportDialog
from tests.core.enginefixtures import text_export_project


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
    # the result line is set by the finished signal, delivered after the task stops running
    qtbot.waitUntil(lambda: dlg.result.text() != "Exporting…", timeout=30000)
    dlg.task.wait()
    assert "with pseudonymous item ids" in dlg.result.text(), dlg.result.text()
    row = json.loads(out.read_text().splitlines()[0])
    assert row["item_id"] == pseudonym(project_key(project.root), "DOE_JOHN_normal0")
    assert "DOE" not in out.read_text()
    assert dlg.pseudonymize.isEnabled()  # usable again after the export


def test_every_offered_format_is_writable(qtbot, tmp_path):
    """The default install (the test environment) writes every format the dialog offers, to a
    folder that does not exist yet (issue 12, points 10 and 11)."""
    from mmrl_desktop.gui.dialogs.export_dialog import FORMATS

    project = text_export_project(tmp_path / "p")
    dlg = ExportDialog(project)
    qtbot.addWidget(dlg)
    model = dlg.format.model()
    offered = [row for row in range(dlg.format.count()) if model.item(row).isEnabled()]
    assert len(offered) == len(FORMATS)  # nothing greyed out after a plain install
    for row in offered:
        dlg.format.setCurrentIndex(row)
        key, name, _ = FORMATS[dlg.format.currentText()]
        out = tmp_path / "new" / key  # no suffix: a folder, created
        dlg.path.setText(str(out))
        dlg.start()
        # the result line is set by the finished signal, a queued call delivered after the task
        # stops running: wait for the line itself (waiting on is_running alone raced on CI)
        qtbot.waitUntil(lambda: dlg.result.text() != "Exporting…", timeout=60000)
        dlg.task.wait()
        assert dlg.result.text().startswith("Wrote"), (key, dlg.result.text())
        written = out if key == "tensorboard" else out / name  # TensorBoard: the folder itself
        assert out.is_dir() and written.exists() and any(out.rglob("*.*")), key


def test_a_format_the_install_cannot_write_is_greyed_out(qtbot, tmp_path, monkeypatch):
    import sys

    from mmrl_desktop.gui.dialogs.export_dialog import FORMATS

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` fails
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "b"])])
    dlg = ExportDialog(project)
    qtbot.addWidget(dlg)
    model = dlg.format.model()
    for row, (key, _, _) in enumerate(FORMATS.values()):
        item = model.item(row)
        assert item.isEnabled() == (key != "onnx"), key
    tip = model.item(list(FORMATS).index("ONNX model (.onnx)")).toolTip()
    assert tip == (
        "The ONNX export needs the onnxruntime package, which is not installed: "
        'pip install "mmrl-desktop[export]".'
    )
