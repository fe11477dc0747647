"""The fusion's LayerNorm per modality (``[model] fusion = "norm-mean"``, ADR 0038): only with
several modalities, each one's embedding brought to one scale before the mean; models saved
before the field are rebuilt with the plain mean."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.fusion import MaskedMeanFusion
from mmrl_desktop.core.learning.model.policy import build_policy


def test_norm_mean_brings_each_modality_to_one_scale():
    fusion = MaskedMeanFusion(["image", "text"], 8, norm=True)
    big, small = torch.randn(4, 8) * 100, torch.randn(4, 8) / 1000
    masks = {"image": torch.ones(4, dtype=torch.bool), "text": torch.ones(4, dtype=torch.bool)}
    ln = torch.nn.functional.layer_norm
    want = fusion.mlp((ln(big, (8,)) + ln(small, (8,), eps=1e-5)) / 2)
    got = fusion({"image": big, "text": small}, masks)
    assert torch.allclose(got, want, atol=1e-5)
    plain = MaskedMeanFusion(["image", "text"], 8)
    assert plain.norms is None
    plain.load_state_dict({k: v for k, v in fusion.state_dict().items() if "norms" not in k})
    assert torch.allclose(plain({"image": big, "text": small}, masks), plain.mlp((big + small) / 2))


def test_one_modality_has_no_norm_and_the_same_weights():
    cfg = {"modalities": "text", "text_buckets": 64, "embed_dim": 16}
    one = build_policy(ModelConfig.from_dict(cfg), {"t": 2})
    assert one.fusion.norms is None
    plain = build_policy(ModelConfig.from_dict({**cfg, "fusion": "mean"}), {"t": 2})
    assert set(one.state_dict()) == set(plain.state_dict())


def test_norm_mean_is_the_default_and_saved_models_keep_the_plain_mean():
    assert ModelConfig().fusion == "norm-mean"  # ADR 0038
    saved = {k: v for k, v in ModelConfig().to_dict().items() if k != "fusion"}
    assert ModelConfig.saved(saved).fusion == "mean"
    with pytest.raises(UserError, match="unknown fusion 'sum'; choose one of mean, norm-mean"):
        ModelConfig.from_dict({"fusion": "sum"})
