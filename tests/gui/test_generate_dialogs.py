"""A generate task in the Checkpoints and Export dialogs: its adapters' checkpoints are listed and
rolled back (a copy becomes the newest, audited; the trainer resumes from it), and Export writes
the LoRA adapters and a merged model folder, in a process of its own, off the GUI thread."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.config import GenerateConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import GenerateTask, Project, Task
from mmrl_desktop.gui.dialogs.checkpoints import open_checkpoints
from mmrl_desktop.gui.dialogs.export_dialog import GENERATE_NAME, ExportDialog


@pytest.fixture
def project(tmp_path, tiny_lm_folder):
    """Label and generate tasks; the drafting model has two checkpoints (steps 2 and 4)."""
    from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer

    settings = {"prompt": "Finding:", "model": str(tiny_lm_folder), "max_new_tokens": 4}
    task = GenerateTask("finding", GenerateConfig.from_dict(settings))
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])], generate_tasks=[task])
    with p.open_store() as s:
        s.add_items([Item(f"i{k}", text_inline=f"case {k}") for k in range(4)])
    gen = GenerateTrainer(p, p.generate_task(), "cpu")
    gen.set_queue(["i0", "i1", "i2"])
    drafts = gen.step().drafts
    for k, d in enumerate(drafts[:2]):
        with p.open_store() as s:
            s.answer_draft(d.draft_id, +1 if k else -1, edited_text=None if k else "no lesion")
        while gen.step().did_work:
            pass
        gen.save_checkpoint()
    gen.close()
    return p


@pytest.fixture
def boxes(monkeypatch):
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda parent, title, text, *a: seen.append((title, text)) or 16384
    )  # QMessageBox.Yes
    monkeypatch.setattr(
        QMessageBox, "warning", lambda parent, title, text, *a: seen.append((title, text)) or 1024
    )
    return seen


def test_the_drafting_models_checkpoints_roll_back(qtbot, project, boxes):
    from mmrl_desktop.gui.main_window import MainWindow

    w = MainWindow(project, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    try:
        dlg = open_checkpoints(w)
        (panel,) = dlg.generate_panels
        assert [r["step"] for r in panel.rows] == [4, 2] and not panel.rollback_button.isEnabled()
        if os.environ.get("MMRL_SCREENSHOT"):  # a look at the dialog (not a check)
            dlg.resize(900, 560)
            qtbot.wait(100)
            dlg.grab().save(os.environ["MMRL_SCREENSHOT"])
        panel.table.selectRow(1)  # the older one
        panel.rollback_button.click()
        assert boxes[-1][0] == "Roll back" and "step 2" in boxes[-1][1]
        with project.open_store() as s:
            action, detail = s.audit_log()[-1][1:]
        assert action == "rollback" and detail["task"] == "finding"
        newest = panel.rows[0]
        assert newest["step"] == 5 and newest["note"] == "rollback to ckpt-00000002"
        assert newest["policy_version"] > max(r["policy_version"] for r in panel.rows[1:])
        assert "Rolled back" in w.statusBar().currentMessage()
        dlg.close()
    finally:
        w.shutdown()
    from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer

    gen = GenerateTrainer(project, project.generate_task(), "cpu")
    gen.build()  # the trainer resumes from the promoted copy
    assert (
        gen.resumed_from == "ckpt-00000005.safetensors"
        and gen.policy_version == newest["policy_version"]
    )
    gen.close()


def test_export_writes_the_adapters_and_a_merged_model(qtbot, project, tmp_path):
    label_only = Project.create(tmp_path / "labels", tasks=[Task("label", ["a", "b"])])
    plain = ExportDialog(label_only)
    qtbot.addWidget(plain)
    assert GENERATE_NAME not in [plain.format.itemText(i) for i in range(plain.format.count())]
    dlg = ExportDialog(project)
    qtbot.addWidget(dlg)
    dlg.format.setCurrentText(GENERATE_NAME)
    assert dlg.fmt() == "generate" and dlg.path.text().endswith("drafting-model")
    out = tmp_path / "out"
    dlg.path.setText(str(out))
    dlg.start()
    assert not dlg.export_button.isEnabled()  # the GUI thread is free while it runs
    qtbot.waitUntil(lambda: dlg.result.text() != "Exporting…", timeout=240000)
    dlg.task.wait()
    assert "Reloaded with transformers" in dlg.result.text(), dlg.result.text()
    assert (out / "adapters" / "adapter_model.safetensors").is_file()
    assert (out / "merged" / "config.json").is_file()
    info = json.loads((out / "mmrl_export.json").read_text())
    assert info["step"] == 4 and info["task"] == "finding"
    dlg.start()  # again into the same folder: one sentence, nothing overwritten
    qtbot.waitUntil(lambda: dlg.result.text() != "Exporting…", timeout=240000)
    dlg.task.wait()
    assert (
        dlg.result.text().startswith("Nothing was exported:") and "not empty" in dlg.result.text()
    )
