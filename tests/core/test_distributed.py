"""``train`` single-process and under torchrun (2 CPU processes, gloo): one model, one checkpoint."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from mmrl_desktop.cli import main
from mmrl_desktop.core.learning import distributed
from mmrl_desktop.core.learning.checkpoints import load_checkpoint
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(project_root: Path, steps: int, env_extra: dict[str, str]):
    env = {k: v for k, v in os.environ.items() if k not in distributed.ENV_VARS}
    env.update(
        OMP_NUM_THREADS="1",
        MMRL_DIST_TIMEOUT_S="120",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        **env_extra,
    )
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        f"--master_port={_free_port()}",
        "-m",
        "mmrl_desktop",
        "train",
        "--project",
        str(project_root),
        "--steps",
        str(steps),
        "--device",
        "cpu",
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _policy(state: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.startswith("/policy/")}


def test_torchrun_two_cpu_processes_train_one_model(tmp_path):
    project = digits_project(tmp_path, n=40)
    answer(project, 12)
    start = Trainer(project, device="cpu", checkpoints=False, write_metrics=False)
    start.info()
    before = {k: v.clone() for k, v in start.algorithm.policy.state_dict().items()}
    start.close(checkpoint=False)

    dump = tmp_path / "dump"
    proc = _torchrun(project.root, 20, {"MMRL_DIST_DUMP_DIR": str(dump)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = [line for line in proc.stdout.splitlines() if line.startswith("trained ")]
    assert len(summary) == 1, proc.stdout  # rank 0 only
    assert "world size 2 (gloo)" in summary[0] and "on 12 answers" in summary[0]

    # one checkpoint, written and indexed by rank 0 only
    with project.open_store() as store:
        records = store.checkpoints()
        steps = [row[1] for row in store.metrics("loss/total")]
    assert len(records) == 1 and summary[0].endswith(records[0].path.split("/")[-1])
    assert steps and len(steps) == len(set(steps))  # metrics rows come from one process
    ckpt = load_checkpoint(project.root / records[0].path)
    assert ckpt.meta["step"] == 12 * 2 + 20  # updates owed to the answers + --steps

    # every rank ended with the same state, and it is the checkpoint's
    rank0 = load_file(str(dump / "rank0.safetensors"))
    rank1 = load_file(str(dump / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()  # policy, reference, optimiser moments, extra_state()
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    for name, value in ckpt.state["policy"].items():
        assert torch.equal(value, rank0[f"/policy/{name}"])

    # the desktop app's path: a single-process Trainer resumes from it
    trainer = Trainer(project, device="cpu", checkpoints=False, write_metrics=False)
    info = trainer.info()
    assert info["answers"] == 12 and info["updates"] == ckpt.meta["step"]
    after = trainer.algorithm.policy.state_dict()
    assert all(torch.equal(after[k], v) for k, v in ckpt.state["policy"].items())
    assert any(not torch.equal(before[k], after[k]) for k in before)
    trainer.step()  # refresh + no pending updates: runs without error
    preds = trainer.predict_items([trainer.pool_ids[-1]])
    assert 0 < preds[trainer.pool_ids[-1]]["label"].propensity <= 1
    trainer.close(checkpoint=False)


def test_torchrun_without_feedback_exits_with_one_reason(tmp_path):
    project = digits_project(tmp_path, n=20)
    proc = _torchrun(project.root, 3, {})
    assert proc.returncode != 0  # torchrun reports its workers' exit code 2 as a failure
    reasons = [line for line in proc.stderr.splitlines() if line.startswith("mmrl-desktop:")]
    assert reasons == [
        f"mmrl-desktop: error: {project.root} has no feedback yet; answer some items first."
    ]
    assert "exitcode  : 2" in proc.stderr
    with project.open_store() as store:
        assert store.checkpoints() == []


def test_single_process_train(tmp_path, capsys):
    project = digits_project(tmp_path, n=20)
    args = ["train", "--project", str(project.root), "--steps", "4", "--device", "cpu"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no feedback yet" in err[0]
    assert main(["train", "--project", str(tmp_path / "missing"), "--steps", "4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0]

    answer(project, 3)
    assert main(args) == 0
    out = capsys.readouterr().out
    # 4 asked for + 3 answers × 2 owed: the line says what was done (it used to say 4)
    assert out.startswith("trained 10 updates on 3 answers (cpu); 6 of 6 updates owed")
    with project.open_store() as store:
        (rec,) = store.checkpoints()
    assert rec.step == 3 * 2 + 4 and out.strip().endswith(rec.path.split("/")[-1])


def test_horizon_store_freezes_the_log_and_drops_writes(tmp_path):
    project = digits_project(tmp_path, n=20)
    ids = answer(project, 3)
    with project.open_store() as raw:
        ro = distributed.HorizonStore(raw, ids[1], writable=False)
        assert [e.event_id for e in ro.events_since(0)] == ids[:2]
        assert ro.last_event_id() == ids[1]
        ro.add_metrics("run", 1, {"loss/total": 1.0})
        ro.audit("nothing")
        assert raw.metrics("loss/total") == []
        assert len(ro.items()) == len(raw.items())  # reads pass through
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "x"}
    assert not distributed.requested(env)
    assert distributed.requested({**env, "MASTER_PORT": "1"})
