"""Rollback: promoting a checkpoint makes the trainer resume from it, monotonic steps/versions,
an index row and an audit row; later checkpoints stay on disk."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.checkpoints import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
)
from mmrl_desktop.core.learning.rollback import promote_checkpoint
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project


def test_promote_then_resume(tmp_path):
    project = digits_project(tmp_path, n=30)
    trainer = Trainer(project, device="cpu")
    answer(project, 2)
    trainer.train_pending()
    first = trainer.save_checkpoint("first")
    answer(project, 3, seed=1)
    trainer.train_pending()
    trainer.close()  # saves the newest one "on close"
    paths = list_checkpoints(project.checkpoints_dir)
    assert len(paths) == 2
    old, newest = load_checkpoint(first), load_checkpoint(paths[-1])

    with project.open_store() as store:
        dest = promote_checkpoint(project, "checkpoints/" + paths[0].name, store)
        audit = store.audit_log()
        index = store.checkpoints()
    assert audit[-1][1] == "rollback"
    assert audit[-1][2]["checkpoint"] == "checkpoints/" + paths[0].name
    assert index[-1].path == str(dest.relative_to(project.root))
    latest = latest_checkpoint(project.checkpoints_dir)
    assert latest.path == dest
    assert latest.meta["step"] == newest.meta["step"] + 1
    assert latest.meta["model_version"] == newest.meta["model_version"] + 1
    assert latest.meta["last_event_id"] == old.meta["last_event_id"]
    assert len(list_checkpoints(project.checkpoints_dir)) == 3  # nothing deleted

    resumed = Trainer(project, device="cpu")
    resumed.info()
    for key, value in old.state["policy"].items():
        assert torch.equal(resumed.algorithm.state_dict()["policy"][key], value)
    assert resumed.updates == latest.meta["step"]
    resumed.close(checkpoint=False)


def test_missing_checkpoint_is_a_sentence(tmp_path):
    project = digits_project(tmp_path, n=10)
    with project.open_store() as store, pytest.raises(UserError, match="no longer on disk"):
        promote_checkpoint(project, "checkpoints/ckpt-00000001.safetensors", store)


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:200]), "truncated"),
        (lambda p: p.write_bytes(pickle.dumps({"policy": [1, 2, 3]})), "not a safetensors"),
        (lambda p: p.with_suffix(".json").write_text("{oops"), "not valid JSON"),
    ],
)
def test_unreadable_target_is_refused_before_any_write_or_audit(tmp_path, damage, reason):
    """Issue 18.9: a rollback to an unreadable (or pickle) checkpoint used to be audited as done
    and then ignored by the trainer."""
    project = digits_project(tmp_path, n=10)
    answer(project, 2)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    first = trainer.save_checkpoint("first")
    answer(project, 2, seed=1)
    trainer.train_pending()
    trainer.close()
    damage(Path(first))
    before = sorted(p.name for p in project.checkpoints_dir.iterdir())
    with project.open_store() as store:
        audits = len(store.audit_log())
        with pytest.raises(UserError, match=f"cannot roll back to ckpt-.*{reason}"):
            promote_checkpoint(project, first, store)
        assert len(store.audit_log()) == audits
    assert sorted(p.name for p in project.checkpoints_dir.iterdir()) == before


def test_unreadable_other_checkpoint_does_not_block_rollback(tmp_path):
    project = digits_project(tmp_path, n=10)
    answer(project, 2)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    first = trainer.save_checkpoint("first")
    trainer.close()
    (project.checkpoints_dir / "ckpt-99999999.safetensors").write_bytes(b"garbage")
    (project.checkpoints_dir / "ckpt-99999999.json").write_text("{oops")
    with project.open_store() as store:
        dest = promote_checkpoint(project, first, store)
    assert latest_checkpoint(project.checkpoints_dir).path == dest
