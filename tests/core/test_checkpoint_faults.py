"""Issue 18.7 (checkpoints part), 18.9 and 18.11 ([model] part): checkpoint faults are one
sentence — unreadable checkpoints are named, an unwritable checkpoints folder stops training before
it starts, a failed save mid-run keeps the model, and project.toml's [model] is never silently
ignored."""

from __future__ import annotations

import argparse
import os
import shutil
import sys

import pytest

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.checkpoints import list_checkpoints
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project


def _trained(tmp_path, **algorithm) -> Project:
    project = digits_project(tmp_path, n=20, algorithm={"checkpoint_every": 2, **algorithm})
    answer(project, 2)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()  # 4 updates: checkpoints at 2 and 4
    t.close()
    return project


def _swap_for_a_file(folder):
    """The checkpoints folder becomes a plain file: nothing can be written there (even as root)."""
    aside = folder.with_name("checkpoints-aside")
    folder.rename(aside)
    folder.write_text("not a folder")
    return aside


def test_every_checkpoint_unreadable_is_said_by_evaluate(tmp_path, capsys):
    from mmrl_desktop.commands import evaluate as evaluate_cmd

    project = _trained(tmp_path)
    for w in list_checkpoints(project.checkpoints_dir):
        w.write_bytes(w.read_bytes()[:300])  # both truncated
    args = argparse.Namespace(project=str(project.root), checkpoint=None, json=True)
    assert evaluate_cmd.run(args) == 0
    out, err = capsys.readouterr()
    import json

    result = json.loads(out)
    (text,) = result["checkpoint_warnings"]
    assert text.startswith("2 checkpoints could not be read (ckpt-00000002: the weights file is")
    assert text.endswith("using the starting model.")
    assert f"warning: {text}" in err
    assert result["models"][0]["source"] == "starting model (no usable checkpoint)"


def test_a_warning_without_any_checkpoint_on_disk_is_not_called_an_unusable_checkpoint(tmp_path):
    from mmrl_desktop.core.evaluation.evaluate import current_source

    project = digits_project(tmp_path, n=20)
    t = Trainer(project, device="cpu", queue_size=0)
    t.checkpoint_warnings.append("the neighbour graph's view stays on the frozen embedding.")
    assert current_source(t) == "starting model (no checkpoint yet)"
    t.close()


def test_train_names_skipped_checkpoint_and_prints_a_path_that_exists(tmp_path, capsys):
    from mmrl_desktop.commands import train as train_cmd

    project = _trained(tmp_path, keep_checkpoints=1)
    (project.checkpoints_dir / "ckpt-99999999.safetensors").write_bytes(b"\x80\x04garbage")
    (project.checkpoints_dir / "ckpt-99999999.json").write_text('{"step": 99999999}')
    args = argparse.Namespace(project=str(project.root), steps=2, device="cpu", max_catch_up=0)
    assert train_cmd.run(args) == 0
    out, err = capsys.readouterr()
    assert "warning: 1 checkpoint could not be read (ckpt-99999999: the weights file" in err
    assert "using ckpt-00000004" in err
    path = out.strip().rsplit("checkpoint ", 1)[-1]
    assert path.endswith("ckpt-00000006.safetensors") and os.path.exists(path)
    assert (project.checkpoints_dir / "ckpt-99999999.json").exists()  # never pruned


def test_unwritable_checkpoints_stop_training_before_it_starts(tmp_path):
    project = _trained(tmp_path)
    aside = _swap_for_a_file(project.checkpoints_dir)
    t = Trainer(project, device="cpu", queue_size=0)
    with pytest.raises(
        UserError, match="cannot write checkpoints to .*checkpoints .*does not start"
    ):
        t.info()
    shutil.rmtree(aside)


def test_trainer_process_loop_reports_unwritable_checkpoints_in_one_sentence(tmp_path):
    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Failed, State

    project = _trained(tmp_path)
    _swap_for_a_file(project.checkpoints_dir)
    seen = []
    build = lambda: Trainer(project, device="cpu", queue_size=0)  # noqa: E731
    run_loop(build, LoopControl(), seen.append)
    errors = [e.text for e in seen if isinstance(e, Failed)]
    assert len(errors) == 1 and errors[0].startswith("Training stopped: cannot write checkpoints")
    assert seen[-1] == State("error")


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root writes into read-only folders"
)
def test_train_command_read_only_checkpoints_exit_2(tmp_path, capsys):
    from mmrl_desktop.cli import main

    project = _trained(tmp_path)
    project.checkpoints_dir.chmod(0o555)
    try:
        assert main(["train", "--project", str(project.root), "--steps", "2"]) == 2
    finally:
        project.checkpoints_dir.chmod(0o755)
    err = capsys.readouterr().err
    assert "cannot write checkpoints to" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_failed_save_mid_run_keeps_the_model_and_retries(tmp_path):
    project = _trained(tmp_path)
    answer(project, 2, seed=1)
    t = Trainer(project, device="cpu", queue_size=0)
    t.info()
    aside = _swap_for_a_file(project.checkpoints_dir)
    failed = {}
    while True:
        r = t.step()
        failed.update(r.metrics)
        if not r.did_update:
            break
    assert t.updates == 8 and failed.get("train/checkpoint_failed") == 1.0
    assert "could not save a checkpoint in" in t.save_error
    assert "stays in memory and the next save tries again" in t.save_error
    project.checkpoints_dir.unlink()
    aside.rename(project.checkpoints_dir)  # space freed / folder writable again
    t.add_budget(2)
    t.train_pending()
    assert t.save_error is None
    t.close()
    assert list_checkpoints(project.checkpoints_dir)[-1].stem == "ckpt-00000010"


def test_invalid_model_setting_is_an_error_even_with_a_checkpoint(tmp_path):
    project = _trained(tmp_path)
    project.model["embed_dim"] = -3
    project.save()
    t = Trainer(Project.open(project.root), device="cpu", queue_size=0)
    with pytest.raises(UserError, match=r"project.toml \[model\]: embed_dim must be at least 4"):
        t.info()
    project.model["embed_dim"] = 16
    project.model["image_encoder"] = "vgg-9000"
    project.save()
    with pytest.raises(UserError, match="unknown image_encoder 'vgg-9000'"):
        Trainer(Project.open(project.root), device="cpu", queue_size=0).info()


def test_model_setting_the_checkpoint_overrides_is_said(tmp_path):
    project = _trained(tmp_path)
    project.model["embed_dim"] = 32  # the checkpoint's model has 16
    project.save()
    t = Trainer(Project.open(project.root), device="cpu", queue_size=0, checkpoints=False)
    info = t.info()
    assert t.model_config.embed_dim == 16
    (text,) = info["checkpoint_warnings"]
    assert text.startswith("project.toml [model] embed_dim = 32 (the checkpoint's: 16) is ignored")
    t.close(checkpoint=False)


def test_trainer_loop_warns_of_skipped_checkpoints_and_failed_saves(tmp_path):
    """The app's trainer (thread or process) says both in one sentence each and keeps going."""
    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Failed, State, Warned

    project = _trained(tmp_path)
    (project.checkpoints_dir / "ckpt-99999999.safetensors").write_bytes(b"junk")
    (project.checkpoints_dir / "ckpt-99999999.json").write_text("{")
    answer(project, 2, seed=1)
    control = LoopControl()
    seen = []

    def build():
        t = Trainer(project, device="cpu", queue_size=0)
        t.info()
        _swap_for_a_file(project.checkpoints_dir)  # full disk / read-only from now on
        return t

    def emit(event):
        seen.append(event)
        if isinstance(event, Warned) and "could not save" in event.text or event == State("idle"):
            control.request_stop()

    run_loop(build, control, emit)
    warnings = [e.text for e in seen if isinstance(e, Warned)]
    assert warnings[0].startswith("1 checkpoint could not be read (ckpt-99999999: its metadata")
    assert warnings[1].startswith("could not save a checkpoint in ")
    assert "stays in memory" in warnings[1]
    assert "the updates since the last checkpoint are lost" in warnings[2]  # the closing save
    assert len(warnings) == 3
    assert not [e for e in seen if isinstance(e, Failed)]


@pytest.mark.parametrize(
    "meta",
    [
        '{"step": 50, "created_at": "yesterday"}',
        '{"step": 50, "labels": 3}',
        '{"step": 50, "labels": {"label": [1, 2]}}',
        '{"step": 50, "train_config": ["default"]}',
        '{"step": "50"}',
        '{"step": 50, "model_version": "v9"}',
        "[50]",
    ],
)
def test_hand_made_metadata_is_skipped_never_a_crash(tmp_path, meta):
    project = _trained(tmp_path)
    good = list_checkpoints(project.checkpoints_dir)[-1]
    shutil.copy(good, project.checkpoints_dir / "ckpt-00000050.safetensors")
    (project.checkpoints_dir / "ckpt-00000050.json").write_text(meta)
    t = Trainer(project, device="cpu", queue_size=0)
    t.info()
    assert t.resumed_from == str(good) and t.updates == 4
    assert "ckpt-00000050: its metadata has an unknown format" in t.checkpoint_warnings[0]
    t.save_checkpoint()
    t.close(checkpoint=False)
    assert (project.checkpoints_dir / "ckpt-00000050.json").exists()  # never pruned


def test_checkpoints_path_that_is_a_file_is_one_sentence_exit_2(tmp_path, capsys):
    from mmrl_desktop.cli import main

    project = _trained(tmp_path)
    _swap_for_a_file(project.checkpoints_dir)
    assert main(["train", "--project", str(project.root), "--steps", "2", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot be the project's checkpoints folder (File exists)" in err[0]


def test_distributed_train_names_skipped_checkpoints(tmp_path, monkeypatch, capsys):
    """``train`` under torchrun (here one process, gloo): rank 0 says it on stderr too."""
    import socket

    from mmrl_desktop.commands import train as train_cmd

    project = _trained(tmp_path)
    (project.checkpoints_dir / "ckpt-99999999.safetensors").write_bytes(b"junk")
    (project.checkpoints_dir / "ckpt-99999999.json").write_text("{")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "LOCAL_WORLD_SIZE": "1"}
    for k, v in {**env, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(k, v)
    args = argparse.Namespace(project=str(project.root), steps=2, device="cpu", max_catch_up=0)
    assert train_cmd.run(args) == 0
    out, err = capsys.readouterr()
    assert "warning: 1 checkpoint could not be read (ckpt-99999999: its metadata" in err
    assert "world size 1" in out


def test_a_full_disk_before_training_says_the_disk_is_full(tmp_path, monkeypatch):
    import errno

    from mmrl_desktop.core.learning import resume

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(resume.os, "fsync", full)
    with pytest.raises(UserError, match="^the disk is full: cannot write checkpoints to .*free"):
        resume.check_writable(tmp_path / "checkpoints")
    assert not list((tmp_path / "checkpoints").iterdir())  # the probe file is gone
