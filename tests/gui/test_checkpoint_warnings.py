"""Issue 18.9 in the app: the trainer says which checkpoints it skipped (one sentence each)."""

from __future__ import annotations

from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.gui.trainer_worker import TrainerController
from tests.core.enginefixtures import answer, digits_project


def test_app_trainer_reports_unreadable_checkpoints(qtbot, tmp_path):
    project = digits_project(tmp_path, n=20)
    answer(project, 2)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()
    t.close()
    for w in project.checkpoints_dir.glob("*.safetensors"):
        w.write_bytes(b"\x80\x04\x95 a pickle under a checkpoint's name")
    tr = TrainerController(str(project.root), device="cpu", in_process=False)
    said: list[str] = []
    tr.warned.connect(said.append)
    tr.start()
    try:
        qtbot.waitUntil(lambda: bool(said), timeout=60000)
        qtbot.waitUntil(lambda: tr.state in ("idle", "running"), timeout=60000)
    finally:
        assert tr.stop()
    assert said[0].startswith("1 checkpoint could not be read (ckpt-")
    assert said[0].endswith("; using the starting model.")
