"""``[model] fusion_mlp``: the Linear and ReLU after the fusion's mean (on), none (off: the heads
read the mean itself), or auto — off for pictures above 8 px and sounds read by the built-in
encoders when a task has 8 labels or more, on otherwise (ADR 0042); a checkpoint keeps what was
built, models saved before the field had it, and true / false read as on / off.
``[model] fusion_residual``: the MLP as a branch beside the mean."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.config_fields import build
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.fusion import (
    MaskedMeanFusion,
    fusion_mlp_on,
    resolve_fusion_mlp,
)
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.resume import model_config_for

IMAGE32 = {"modalities": "image", "image_size": 32, "image_channels": 1, "embed_dim": 16}


def test_without_the_mlp_the_heads_read_the_mean():
    fusion = MaskedMeanFusion(["image", "text"], 8, mlp=False).eval()
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    masks = {"image": torch.ones(4, dtype=torch.bool), "text": torch.tensor([1, 0, 1, 0]).bool()}
    got = fusion({"image": a, "text": b}, masks)
    want = torch.where(masks["text"][:, None], (a + b) / 2, a)  # the modality embeddings are 0
    assert torch.allclose(got, want, atol=1e-6)
    assert not list(fusion.mlp.parameters())


def test_the_policy_without_it_has_one_linear_layer_less():
    with_mlp = build_policy(ModelConfig.from_dict({**IMAGE32, "fusion_mlp": "on"}), {"t": 10})
    without = build_policy(ModelConfig.from_dict({**IMAGE32, "fusion_mlp": "off"}), {"t": 3})
    gone = set(with_mlp.state_dict()) - set(without.state_dict())
    assert gone == {"fusion.mlp.0.weight", "fusion.mlp.0.bias"}
    assert without({"image": torch.randn(2, 1, 32, 32)})["t"].shape == (2, 3)


@pytest.mark.parametrize(
    "model, labels, on",
    [
        ({"modalities": "image", "image_size": 32}, 10, False),
        ({"modalities": "image", "image_size": 64}, 8, False),
        ({"modalities": "image", "image_size": 64}, 7, True),  # few labels: kept
        ({"modalities": "image", "image_size": 32}, 3, True),
        ({"modalities": "audio"}, 8, False),
        ({"modalities": "audio"}, 5, True),
        ({"modalities": "image,audio", "image_size": 32}, 10, False),
        ({"modalities": "image", "image_size": 8}, 10, True),  # digits' tiny design
        ({"modalities": "text"}, 10, True),
        ({"modalities": "image,text", "image_size": 32}, 10, True),
        ({"modalities": "volume"}, 10, True),
        ({"modalities": "image", "image_size": 32, "image_encoder": "resnet18"}, 10, True),
        ({"modalities": "image", "image_size": 32, "fusion_mlp": "on"}, 10, True),
        ({"modalities": "text", "fusion_mlp": "off"}, 3, False),
    ],
)
def test_auto_leaves_it_out_for_many_labels_of_pictures_and_sounds_only(model, labels, on):
    assert fusion_mlp_on(ModelConfig.from_dict(model), {"t": labels}) is on


def test_the_largest_task_counts_and_a_pretrained_encoder_keeps_it():
    assert not fusion_mlp_on(ModelConfig.from_dict(IMAGE32), {"a": 2, "b": 9})
    spec = {"image": {"fingerprint": "f", "embedding_size": 8}}
    assert fusion_mlp_on(ModelConfig.from_dict({**IMAGE32, "pretrained": spec}), {"t": 10})


def test_resolving_writes_what_was_built_and_old_checkpoints_keep_the_mlp():
    resolved = resolve_fusion_mlp(ModelConfig.from_dict(IMAGE32), {"t": 10})
    assert resolved.fusion_mlp == "off"
    assert resolve_fusion_mlp(ModelConfig.from_dict(IMAGE32), {"t": 4}).fusion_mlp == "on"
    kept = resolve_fusion_mlp(resolved, {"t": 4})  # more or fewer labels later: built is built
    assert kept.fusion_mlp == "off"
    assert "fusion.mlp.0.weight" not in build_policy(kept, {"t": 4}).state_dict()
    old = {k: v for k, v in ModelConfig(**IMAGE32).to_dict().items() if k != "fusion_mlp"}
    assert ModelConfig.saved(old).fusion_mlp == "on"
    assert ModelConfig.saved(resolved.to_dict()).fusion_mlp == "off"


def test_true_and_false_read_as_on_and_off_and_a_bad_value_is_one_sentence():
    assert ModelConfig.from_dict({"fusion_mlp": False}).fusion_mlp == "off"
    assert ModelConfig.saved({**ModelConfig().to_dict(), "fusion_mlp": True}).fusion_mlp == "on"
    with pytest.raises(UserError, match="unknown fusion_mlp 'sometimes'; choose"):
        build(ModelConfig, {"fusion_mlp": "sometimes"})
    with pytest.raises(UserError, match="fusion_mlp must be text"):
        build(ModelConfig, {"fusion_mlp": 3})


def test_auto_in_project_toml_is_not_named_as_ignored(tmp_path):
    from mmrl_desktop.core.learning.checkpoints import Checkpoint

    meta = {"model_config": {**IMAGE32, "fusion_mlp": "on"}}
    ckpt = Checkpoint(path=tmp_path / "ckpt-1.safetensors", meta=meta, state={})
    used, sentence = model_config_for({"fusion_mlp": "auto"}, ckpt)
    assert used.fusion_mlp == "on" and sentence == ""
    used, sentence = model_config_for({"fusion_mlp": False}, ckpt)
    assert used.fusion_mlp == "on" and "fusion_mlp = False" in sentence


def test_the_residual_branch_starts_as_the_mean_and_learns_beside_it():
    fusion = MaskedMeanFusion(["image"], 8, mlp=True, residual=True).eval()
    z = torch.randn(5, 8)
    ones = {"image": torch.ones(5, dtype=torch.bool)}
    assert torch.allclose(fusion({"image": z}, ones), z, atol=1e-6)  # W2 = 0 in a new model
    branch = fusion.mlp[0]
    torch.nn.init.normal_(branch.outer.weight)
    got = fusion({"image": z}, ones)
    want = z + branch.outer(torch.relu(branch.inner(z)))
    assert torch.allclose(got, want, atol=1e-5)
    # only with the MLP on: off leaves the heads the mean whatever fusion_residual says
    assert not list(MaskedMeanFusion(["image"], 8, mlp=False, residual=True).mlp.parameters())


def test_a_renewal_draws_the_branch_anew_and_saved_models_keep_it_plain():
    from mmrl_desktop.core.learning import renew

    cfg = {**IMAGE32, "fusion_mlp": "on", "fusion_residual": True}
    policy = build_policy(ModelConfig.from_dict(cfg), {"t": 3})
    outer = policy.fusion.mlp[0].outer
    assert not outer.weight.any()
    renew.shrink_perturb(policy, 0.0, seed=3)  # a refit: every layer drawn anew
    assert outer.weight.abs().sum() > 0
    assert policy({"image": torch.randn(2, 1, 32, 32)})["t"].shape == (2, 3)
    saved = {k: v for k, v in ModelConfig().to_dict().items() if k != "fusion_residual"}
    assert ModelConfig.saved(saved).fusion_residual is False


def _image_project(tmp_path, classes: int):
    from PIL import Image

    from mmrl_desktop.core.data.importer import import_source
    from mmrl_desktop.core.data.project import Project
    from tests.core.enginefixtures import TINY_MODEL

    src = tmp_path / "src"
    for c in range(classes):
        (src / f"c{c}").mkdir(parents=True)
        for i in range(2):
            Image.new("L", (40, 36), 20 * c + i).save(src / f"c{c}" / f"{i}.png")
    model = {**TINY_MODEL, "image_size": 32}
    project = Project.create(tmp_path / "proj", model=model, algorithm={"eval_every": 0})
    import_source(src, project)
    return Project.open(project.root)


@pytest.mark.parametrize("classes, built", [(8, "off"), (3, "on")])
def test_the_trainer_resolves_auto_and_its_checkpoint_keeps_it(tmp_path, classes, built):
    from mmrl_desktop.core.learning.checkpoints import latest_checkpoint
    from mmrl_desktop.core.learning.trainer import Trainer

    project = _image_project(tmp_path, classes)
    t = Trainer(project, device="cpu", queue_size=0)
    t.info()  # builds the model
    assert t.model_config.fusion_mlp == built
    assert ("fusion.mlp.0.weight" in t.algorithm.policy.state_dict()) == (built == "on")
    t.save_checkpoint("test")
    t.close()
    assert latest_checkpoint(project.checkpoints_dir).meta["model_config"]["fusion_mlp"] == built
    again = Trainer(project, device="cpu", queue_size=0, checkpoints=False)
    again.info()
    assert again.model_config.fusion_mlp == built and not again.checkpoint_warnings
    again.close()
