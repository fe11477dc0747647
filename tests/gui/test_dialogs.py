"""The dialogs, driven offscreen: new-project wizard (with a bad file), import, settings,
checkpoints rollback, export, evaluation, open/recent projects, and the background runner."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.gui.background import BackgroundTask
from mmrl_desktop.gui.dialogs.checkpoints import CheckpointsDialog, rollback
from mmrl_desktop.gui.dialogs.evaluation import EvaluationDialog
from mmrl_desktop.gui.dialogs.export_dialog import ExportDialog
from mmrl_desktop.gui.dialogs.import_dialog import ImportDialog
from mmrl_desktop.gui.dialogs.new_project import NewProjectWizard, guess_labels, parse_tasks
from mmrl_desktop.gui.dialogs.settings import SettingsDialog
from mmrl_desktop.gui.main_window import MainWindow


@pytest.fixture
def boxes(monkeypatch):
    """Message boxes answer at once and are recorded (title, text)."""
    seen: list[tuple[str, str]] = []

    def box(answer):
        def show(parent, title, text, *a, **k):
            seen.append((title, text))
            return answer

        return show

    monkeypatch.setattr(QMessageBox, "warning", box(QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "information", box(QMessageBox.Ok))
    monkeypatch.setattr(QMessageBox, "question", box(QMessageBox.Yes))
    return seen


def make_source(root, per_class: int = 3, bad: bool = True):
    rng = np.random.default_rng(0)
    for c, name in enumerate(["cat", "dog"]):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pix = (rng.random((12, 12)) * 60 + 120 * c).astype(np.uint8)
            Image.fromarray(pix).save(d / f"{name}{i}.png")
    if bad:
        (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small digits project with feedback, two checkpoints and a hold-out set (built once)."""
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import answer, digits_project

    project = digits_project(tmp_path_factory.mktemp("trained"), n=40)
    trainer = Trainer(project, device="cpu")
    answer(project, 6)
    trainer.train_pending()
    trainer.save_checkpoint("early")
    answer(project, 6, seed=1)
    trainer.train_pending()
    trainer.close()
    return project


@pytest.fixture
def trained_copy(trained, tmp_path):
    shutil.copytree(trained.root, tmp_path / "p")
    return Project.open(tmp_path / "p")


def _wait_task(qtbot, task: BackgroundTask, timeout: int = 60000):
    qtbot.waitUntil(
        lambda: not task.is_running() and (task.result is not None or bool(task.error)),
        timeout=timeout,
    )
    task.wait()


# ------------------------------------------------------------------ background
def test_background_task_progress_result_failure_and_cancel(qtbot):
    seen = []

    def work(state):
        for k in range(3):
            state.progress(k + 1, 3)
        return "done"

    task = BackgroundTask(work, "t")
    task.progress.connect(lambda d, t: seen.append((d, t)))
    with qtbot.waitSignal(task.ended, timeout=5000):
        task.start()
    assert task.result == "done" and seen[-1] == (3, 3)

    def broken(state):
        raise UserError("the file is gone")

    bad = BackgroundTask(broken, "bad")
    with qtbot.waitSignal(bad.failed, timeout=5000) as blocker:
        bad.start()
    assert blocker.args == ["The file is gone."]

    def forever(state):
        while True:
            state.check()  # raises Cancelled once cancel() is called

    slow = BackgroundTask(forever, "slow")
    slow.start()
    assert slow.shutdown(5000) and slow.cancelled
    for t in (task, bad, slow):
        t.wait()


# ------------------------------------------------------------------ new project
def test_guess_labels_and_parse_tasks(tmp_path):
    src = make_source(tmp_path / "src", bad=False)
    assert guess_labels(src) == ["cat", "dog"]
    (tmp_path / "items.csv").write_text("id,image,label\n1,a.png,yes\n2,b.png,no\n3,c.png,\n")
    assert guess_labels(tmp_path / "items.csv") == ["no", "yes"]
    assert [t.labels for t in parse_tasks([("label", "a, b"), ("", "")])] == [["a", "b"]]
    with pytest.raises(UserError, match="at least two labels"):
        parse_tasks([("label", "only")])


def test_wizard_creates_project_and_reports_bad_file(qtbot, tmp_path, boxes):
    src = make_source(tmp_path / "src")
    wiz = NewProjectWizard()
    qtbot.addWidget(wiz)
    created = []
    wiz.projectCreated.connect(created.append)
    wiz.show()
    wiz.source_page.source.setText(str(src))
    wiz.next()
    assert wiz.currentPage() is wiz.project_page
    wiz.project_page.name.setText("Pets")
    wiz.project_page.location.setText(str(tmp_path / "projects"))
    wiz.next()
    assert wiz.tasks_page.rows() == [("label", "cat, dog")]
    wiz.next()
    model = wiz.model_page
    model.preset.setCurrentIndex(1)  # ResNet-18: needs a weights file
    assert not model.isComplete()
    model.weights.setText(str(tmp_path / "weights.txt"))
    (tmp_path / "weights.txt").write_text("x")
    assert not model.validatePage() and "not a weights file" in boxes[-1][1]
    model.preset.setCurrentIndex(0)
    wiz.next()
    page = wiz.import_page
    with qtbot.waitSignal(page.panel.done, timeout=30000) as blocker:
        pass
    summary = blocker.args[0]
    assert summary["imported"] == 6
    assert [p for p, _ in summary["skipped"]] == ["dog/broken.png"]
    assert page.panel.table.rowCount() == 1 and page.panel.table.isVisibleTo(wiz)
    assert "6 new items imported" in page.panel.status.text()
    assert page.isComplete()
    wiz.accept()
    root = tmp_path / "projects" / "Pets"
    assert created == [str(root)]
    project = Project.open(root)
    assert project.name == "Pets" and project.tasks[0].labels == ["cat", "dog"]
    assert project.model == {"image_encoder": "small-cnn"}
    with project.open_store() as store:
        assert store.item_count() == 6


# ------------------------------------------------------------------ import
def test_import_dialog_adds_items_then_cancelled_run_adds_nothing(qtbot, tmp_path, boxes):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["cat", "dog"])])
    dlg = ImportDialog(project)
    qtbot.addWidget(dlg)
    dlg.start()  # no source chosen: a sentence, nothing runs
    assert "Choose a folder" in boxes[-1][1] and dlg.panel.task is None
    dlg.source.setText(str(make_source(tmp_path / "src", bad=False)))
    with qtbot.waitSignal(dlg.imported, timeout=30000) as blocker:
        dlg.start()
    assert blocker.args == [str(project.root)]
    dlg.panel.task.wait()
    assert dlg.panel.summary["imported"] == 6
    dlg.source.setText(str(make_source(tmp_path / "more", per_class=40, bad=False)))
    with qtbot.waitSignal(dlg.panel.done, timeout=30000) as blocker:
        dlg.start()
        dlg.panel.cancel()
    dlg.panel.task.wait()
    assert blocker.args[0]["imported"] == 0 and blocker.args[0]["cancelled"]
    assert "cancelled" in dlg.panel.status.text()
    with project.open_store() as store:
        assert store.item_count() == 6


# ------------------------------------------------------------------ settings
def test_settings_validation_and_persistence(qtbot, tmp_path, boxes):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    assert dlg.editors["gamma"].text() == "0" and not dlg.editors["gamma"].isEnabled()
    assert "one-step" in dlg.editors["gamma"].toolTip()
    dlg.editors["lr"].setText("fast")
    dlg.accept()
    assert dlg.result() != dlg.DialogCode.Accepted
    assert dlg.problem.text() == "Learning rate must be a number, not 'fast'."
    dlg.editors["lr"].setText("-1")
    dlg.accept()
    assert dlg.problem.text() == "Learning rate must be positive, not -1.0."
    dlg.editors["lr"].setText("0.01")
    dlg.editors["batch_size"].setText("16")
    dlg.editors["algorithm"].setCurrentText("egreedy-q")
    assert "fresh model" in dlg.algo_note.text()
    dlg.annotator.setText("Dr. Ada")
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert Project.open(project.root).algorithm == {
        "algorithm": "egreedy-q",
        "lr": 0.01,
        "batch_size": 16,
    }
    assert UserSettings.load().annotator == "Dr. Ada"


def test_settings_edit_the_renewal_lambda_with_a_sentence_for_a_bad_value(qtbot, tmp_path, boxes):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    assert dlg.editors["shrink_perturb"].text() == "0.5"
    assert "shrink and perturb" in dlg.editors["shrink_perturb"].toolTip()
    dlg.editors["shrink_perturb"].setText("2")
    dlg.accept()
    assert dlg.problem.text() == "Renewal λ (1 = off) must be between 0 and 1, not 2.0."
    dlg.editors["shrink_perturb"].setText("1")
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert Project.open(project.root).algorithm == {"shrink_perturb": 1.0}


def test_settings_edit_the_draws_with_replacement(qtbot, tmp_path, boxes):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    dlg = SettingsDialog(project, UserSettings())
    qtbot.addWidget(dlg)
    editor = dlg.editors["draws_with_replacement"]
    assert editor.text() == "-1" and "the algorithm's choice" in editor.toolTip()
    editor.setText("2")
    dlg.accept()
    assert dlg.problem.text() == (
        "Few answers drawn with replacement must be −1 (the algorithm's choice), 0 or 1, not 2."
    )
    editor.setText("1")
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    assert Project.open(project.root).algorithm == {"draws_with_replacement": 1}


# ------------------------------------------------------------------ with a main window
@pytest.fixture
def window(qtbot, trained_copy):
    w = MainWindow(trained_copy, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    yield w
    w.shutdown()


def test_settings_apply_to_running_session(qtbot, window, boxes):
    from mmrl_desktop.gui.dialogs.settings import open_settings

    dlg = open_settings(window)
    dlg.annotator.setText("Dr. Ada")
    dlg.accept()
    assert window.labeling.session.annotator == "Dr. Ada"
    dlg.close()


def test_checkpoints_rollback_and_trainer_resumes(qtbot, window, boxes):
    project = window.project
    dlg = CheckpointsDialog(project, window)
    qtbot.addWidget(dlg)
    assert dlg.table.rowCount() == 2 and dlg.rows[0]["note"] == "on close"
    assert not dlg.rollback_button.isEnabled()
    dlg.rolledBack.connect(lambda path: rollback(window, path))
    dlg.table.selectRow(1)  # the older one ("early")
    assert dlg.rollback_button.isEnabled()
    early = dlg.rows[1]
    dlg.rollback_button.click()
    assert boxes[-1][0] == "Roll back"
    with project.open_store() as store:
        action, detail = store.audit_log()[-1][1:]
    assert action == "rollback" and detail["checkpoint"] == early["path"]
    assert dlg.table.rowCount() == 3 and "rollback" in dlg.rows[0]["note"]
    new_version = dlg.rows[0]["model_version"]
    with qtbot.waitSignal(window.trainer.infoChanged, timeout=30000) as blocker:
        window.trainer.start()
    assert blocker.args[0]["model_version"] == new_version
    assert window.trainer.stop()


def test_rollback_to_an_unreadable_checkpoint_is_refused(qtbot, window, boxes):
    """Issue 18.9: refused with a sentence, the trainer left alone, nothing audited."""
    project = window.project
    dlg = CheckpointsDialog(project, window)
    qtbot.addWidget(dlg)
    early = dlg.rows[1]["path"]
    (project.root / early).write_bytes(b"\x80\x04\x95 a pickle, not weights")
    with project.open_store() as store:
        audits = len(store.audit_log())
    assert rollback(window, early) is False
    assert boxes[-1][0] == "Roll back" and "Cannot roll back to ckpt-" in boxes[-1][1]
    assert "not a safetensors file" in boxes[-1][1]
    with project.open_store() as store:
        assert len(store.audit_log()) == audits
    assert len(list(project.checkpoints_dir.glob("*.json"))) == 2
    dlg.refresh()  # the list says so, and offers no rollback to it
    assert dlg.rows[1]["problem"] == "the weights file is not a safetensors file"
    assert "(cannot be read" in dlg.table.item(1, 6).text()
    dlg.table.selectRow(1)
    assert not dlg.rollback_button.isEnabled()


def test_export_writes_feedback_and_model(qtbot, trained_copy, tmp_path):
    dlg = ExportDialog(trained_copy)
    qtbot.addWidget(dlg)
    dlg.format.setCurrentText("Feedback log, CSV (.csv)")
    assert dlg.path.text().endswith("feedback.csv")
    dlg.path.setText(str(tmp_path / "out" / "fb.csv"))
    dlg.start()
    _wait_task(qtbot, dlg.task)
    assert (tmp_path / "out" / "fb.csv").is_file()
    assert dlg.result.text().startswith("Wrote 12 events (12 answers, 0 skips, 0 undos)")
    dlg.format.setCurrentText("TorchScript model (.pt)")
    dlg.path.setText(str(tmp_path / "out" / "model.pt"))
    dlg.start()
    _wait_task(qtbot, dlg.task, 120000)
    assert (tmp_path / "out" / "model.pt").is_file(), dlg.result.text()
    assert "Re-loaded and checked" in dlg.result.text()
    dlg.format.setCurrentText("Training metrics for TensorBoard (folder)")
    dlg.path.setText(str(tmp_path / "out" / "fb.csv" / "tb"))  # under a file: cannot be made
    dlg.start()
    _wait_task(qtbot, dlg.task)
    assert dlg.result.text().startswith("Nothing was exported:")


def test_evaluation_view_with_checkpoint(qtbot, trained_copy):
    dlg = EvaluationDialog(trained_copy)
    qtbot.addWidget(dlg)
    dlg.checkpoint.setCurrentIndex(2)  # the older checkpoint
    dlg.start()
    _wait_task(qtbot, dlg.task, 120000)
    assert dlg.result is not None, dlg.message.text()
    assert [m["name"] for m in dlg.result["models"]][:2] == ["current", "reference"]
    assert dlg.summary.columnCount() == 3
    labels = [dlg.summary.verticalHeaderItem(r).text() for r in range(dlg.summary.rowCount())]
    assert labels[:3] == ["Accuracy", "Macro-F1", "ECE"]
    # 12 answers: too few for an off-policy number; the row says so (test_evaluation_dialog.py)
    assert "Thumbs-up rate, off-policy" in labels and "Answers not trained on" in labels
    assert dlg.confusion.rowCount() == 10 and dlg.per_class.rowCount() == 10
    assert len(dlg.plot.listDataItems()) >= 3  # diagonal + one curve per model


def test_open_project_replaces_window_and_is_remembered(qtbot, window, tmp_path, boxes):
    assert window.open_project(tmp_path) is None
    assert "is not an mmrl-desktop project" in boxes[-1][1]
    other = Project.create(tmp_path / "other", tasks=[Task("label", ["a", "b"])])
    new = window.open_project(other.root)
    qtbot.addWidget(new)
    assert new is not None and new.project.root == other.root
    assert window.labeling is None  # the old window was shut down
    qtbot.waitSignal(new.ready, timeout=30000).wait()
    settings = UserSettings.load()
    assert settings.last_project == str(other.root)
    new.recent_menu.aboutToShow.emit()
    assert any(str(other.root) in a.text() for a in new.recent_menu.actions())
    new.shutdown()


def test_evaluation_snapshot_writes_png(qtbot, window, tmp_path):
    path = window.evaluation_snapshot(tmp_path / "evaluation.png")
    assert path.is_file() and path.stat().st_size > 10_000
