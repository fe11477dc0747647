"""New-project wizard (issue 12.1 and 12.14): the hold-out field reaches the import, the last page
offers no Cancel once the project exists, and a truncated PNG gets the command line's reason."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from PySide6.QtWidgets import QWizard

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.gui.dialogs.new_project import NewProjectWizard


def _source(root, per_class: int = 10, prefix: str = ""):
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pix = (rng.random((12, 12)) * 60 + 120 * c).astype(np.uint8)
            Image.fromarray(pix).save(root / name / f"{prefix}{name}{i}.png")
    whole = (root / "dog" / f"{prefix}dog0.png").read_bytes()
    (root / "dog" / "cut.png").write_bytes(whole[:40])  # cut just after the IHDR chunk
    return root


def test_wizard_holdout_field_no_cancel_on_last_page_and_one_reason(qtbot, tmp_path, capsys):
    src = _source(tmp_path / "src")
    wiz = NewProjectWizard()
    qtbot.addWidget(wiz)
    wiz.show()
    cancel = wiz.button(QWizard.CancelButton)
    wiz.source_page.source.setText(str(src))
    wiz.next()
    wiz.project_page.name.setText("Pets")
    wiz.project_page.location.setText(str(tmp_path / "projects"))
    wiz.next()
    page = wiz.tasks_page
    assert wiz.currentPage() is page and page.holdout.value() == 20
    assert "never asked about" in page.holdout_note.text() and page.holdout_note.isVisible()
    assert cancel.isVisible()  # before the project exists the wizard can still be cancelled
    page.holdout.setValue(30)
    wiz.grab().save("/tmp/wizard_holdout.png")
    wiz.next()
    wiz.next()
    with qtbot.waitSignal(wiz.import_page.panel.done, timeout=30000) as blocker:
        pass
    summary = blocker.args[0]
    assert summary["imported"] == 20 and summary["holdout"] == {"cat": 3, "dog": 3}
    assert "6 items are kept out of the questions" in wiz.import_page.panel.status.text()
    assert not cancel.isVisible()  # the project exists: only "Open the project" is left
    assert wiz.button(QWizard.FinishButton).isVisible()
    with Project.open(tmp_path / "projects" / "Pets").open_store() as store:
        assert sum(it.split == "holdout" for it in store.items()) == 6
    wizard_reason = dict(summary["skipped"])["dog/cut.png"]
    assert main(["import", str(src), "--project", str(tmp_path / "cli"), "--json"]) == 0
    cli = {s["path"]: s["reason"] for s in json.loads(capsys.readouterr().out)["skipped"]}
    assert wizard_reason == cli["dog/cut.png"] == "image is truncated"
    wiz.accept()


def test_import_dialog_holdout_field(qtbot, tmp_path):
    from mmrl_desktop.core.data.project import Task
    from mmrl_desktop.gui.dialogs.import_dialog import ImportDialog

    project = Project.create(tmp_path / "p", tasks=[Task("label", ["cat", "dog"])])
    dlg = ImportDialog(project)
    qtbot.addWidget(dlg)
    assert dlg.holdout.value() == 20
    dlg.holdout.setValue(0)
    dlg.source.setText(str(_source(tmp_path / "src")))
    with qtbot.waitSignal(dlg.panel.done, timeout=30000) as blocker:
        dlg.start()
    dlg.panel.task.wait()
    assert blocker.args[0]["holdout"] == {"cat": 0, "dog": 0}
    dlg.holdout.setValue(50)
    dlg.source.setText(str(_source(tmp_path / "more", per_class=4, prefix="new")))
    with qtbot.waitSignal(dlg.panel.done, timeout=30000) as blocker:
        dlg.start()
    dlg.panel.task.wait()
    with project.open_store() as store:
        held = {it.item_id for it in store.items() if it.split == "holdout"}
    # 14 items a label now, 7 the target: only the 4 new ones may go, the 10 there stay put
    assert held == {f"{c}/new{c}{i}" for c in ("cat", "dog") for i in range(4)}
    assert blocker.args[0]["holdout"] == {"cat": 4, "dog": 4}
