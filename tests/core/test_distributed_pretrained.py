"""``train`` under torchrun (2 CPU processes, gloo) on a project with a tiny pretrained encoder
(issue 14): frozen (the heads on cached embeddings) and with LoRA adapters on the encoder."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.learning.checkpoints import load_checkpoint
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project
from tests.core.test_distributed import _torchrun
from tests.core.tinyhf import tiny_model


@pytest.mark.timeout(300)
@pytest.mark.parametrize("lora", [False, True])
def test_torchrun_trains_one_model_on_a_pretrained_encoder(tmp_path, lora):
    vit = tiny_model(tmp_path / "vit", "vit")
    project = digits_project(tmp_path, n=20, algorithm={"algorithm": "supervised"})
    project.encoders = {"image": str(vit), "lora": lora}
    project.save()
    project = Project.open(project.root)
    answer(project, 6)
    start = Trainer(project, device="cpu", checkpoints=False, write_metrics=False)
    start.info()  # embeds what the ranks read (each would, into the same cache)
    start.close(checkpoint=False)

    dump = tmp_path / "dump"
    proc = _torchrun(project.root, 4, {"MMRL_DIST_DUMP_DIR": str(dump)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = [line for line in proc.stdout.splitlines() if line.startswith("trained ")]
    assert len(summary) == 1 and "world size 2 (gloo)" in summary[0], proc.stdout
    rank0 = load_file(str(dump / "rank0.safetensors"))
    rank1 = load_file(str(dump / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys() and all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    adapters = [k for k in rank0 if k.startswith("/policy/") and ".adapters." in k]
    assert bool(adapters) == lora  # the adapters are what the ranks averaged, with the heads

    with project.open_store() as store:
        (record,) = store.checkpoints()
    ckpt = load_checkpoint(project.root / record.path)
    assert ckpt.meta["step"] == 6 * 2 + 4
    assert ("lora" in ckpt.meta["model_config"]["pretrained"]["image"]) == lora
    trainer = Trainer(project, device="cpu", checkpoints=False, write_metrics=False)
    assert trainer.info()["updates"] == ckpt.meta["step"]  # the app resumes the ranks' model
    after = trainer.algorithm.policy.state_dict()
    assert all(torch.equal(after[k], v) for k, v in ckpt.state["policy"].items())
    trainer.close(checkpoint=False)
