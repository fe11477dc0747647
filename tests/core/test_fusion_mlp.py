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
