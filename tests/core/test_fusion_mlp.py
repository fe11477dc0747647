"""``[model] fusion_mlp``: the Linear and ReLU after the fusion's mean, or none (the heads read
the mean itself); models saved before the field had it."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.config_fields import build
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.fusion import MaskedMeanFusion
from mmrl_desktop.core.learning.model.policy import build_policy


def test_without_the_mlp_the_heads_read_the_mean():
    fusion = MaskedMeanFusion(["image", "text"], 8, mlp=False).eval()
    a, b = torch.randn(4, 8), torch.randn(4, 8)
    masks = {"image": torch.ones(4, dtype=torch.bool), "text": torch.tensor([1, 0, 1, 0]).bool()}
    got = fusion({"image": a, "text": b}, masks)
    want = torch.where(masks["text"][:, None], (a + b) / 2, a)  # the modality embeddings are 0
    assert torch.allclose(got, want, atol=1e-6)
    assert not list(fusion.mlp.parameters())


def test_the_policy_without_it_has_one_linear_layer_less():
    cfg = {"modalities": "image", "image_size": 32, "image_channels": 1, "embed_dim": 16}
    with_mlp = build_policy(ModelConfig.from_dict(cfg), {"t": 3})
    without = build_policy(ModelConfig.from_dict({**cfg, "fusion_mlp": False}), {"t": 3})
    gone = set(with_mlp.state_dict()) - set(without.state_dict())
    assert gone == {"fusion.mlp.0.weight", "fusion.mlp.0.bias"}
    assert without({"image": torch.randn(2, 1, 32, 32)})["t"].shape == (2, 3)


def test_saved_models_keep_the_mlp_and_a_bad_value_is_one_sentence():
    saved = {k: v for k, v in ModelConfig(fusion_mlp=False).to_dict().items() if k != "fusion_mlp"}
    assert ModelConfig.saved(saved).fusion_mlp is True
    assert ModelConfig.saved(ModelConfig(fusion_mlp=False).to_dict()).fusion_mlp is False
    with pytest.raises(UserError, match="fusion_mlp must be a bool"):
        build(ModelConfig, {"fusion_mlp": "sometimes"})


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

    cfg = {"modalities": "image", "image_size": 32, "image_channels": 1, "embed_dim": 16}
    policy = build_policy(ModelConfig.from_dict({**cfg, "fusion_residual": True}), {"t": 3})
    outer = policy.fusion.mlp[0].outer
    assert not outer.weight.any()
    renew.shrink_perturb(policy, 0.0, seed=3)  # a refit: every layer drawn anew
    assert outer.weight.abs().sum() > 0
    assert policy({"image": torch.randn(2, 1, 32, 32)})["t"].shape == (2, 3)
    saved = {k: v for k, v in ModelConfig().to_dict().items() if k != "fusion_residual"}
    assert ModelConfig.saved(saved).fusion_residual is False
