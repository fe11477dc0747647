"""Modality dropout (``[model] modality_dropout``): while training, an item with several
modalities sometimes keeps only one; predictions and single-modality items are never touched."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.fusion import MaskedMeanFusion


def _masks(n: int, text_present: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"image": torch.ones(n, dtype=torch.bool), "text": text_present}


def test_dropped_items_keep_exactly_one_of_their_modalities():
    torch.manual_seed(0)
    fusion = MaskedMeanFusion(["image", "text"], 4, modality_dropout=0.5)
    n = 4000
    text = torch.arange(n) % 4 != 0  # a quarter of the items have the picture only
    out = fusion.drop_modalities(_masks(n, text), ["image", "text"])
    kept = out["image"].long() + out["text"].long()
    assert bool((kept >= 1).all())
    assert not bool((out["text"] & ~text).any())  # nothing absent becomes present
    assert bool(out["image"][~text].all())  # a single modality is never dropped
    both = text
    dropped = (kept[both] == 1).float().mean().item()
    assert abs(dropped - 0.5) < 0.04
    # of the dropped items, each modality is the one kept about half the time
    only_text = (out["text"] & ~out["image"])[both].float().sum() / (kept[both] == 1).sum()
    assert abs(only_text.item() - 0.5) < 0.05


def test_predictions_and_no_grad_forwards_fuse_every_modality():
    torch.manual_seed(1)
    fusion = MaskedMeanFusion(["image", "text"], 4, modality_dropout=0.9)
    parts = {"image": torch.randn(64, 4), "text": torch.randn(64, 4)}
    masks = _masks(64, torch.ones(64, dtype=torch.bool))
    plain = MaskedMeanFusion(["image", "text"], 4)
    plain.load_state_dict(fusion.state_dict())
    want = plain(parts, masks)
    fusion.eval()
    assert torch.equal(fusion(parts, masks), want)
    fusion.train()
    with torch.no_grad():
        assert torch.equal(fusion(parts, masks), want)
    assert not torch.allclose(fusion(parts, masks), want)  # training: some items drop one


def test_the_setting_is_checked():
    assert ModelConfig().modality_dropout == 0.0
    with pytest.raises(UserError, match=r"modality_dropout must be in \[0, 1\)"):
        ModelConfig.from_dict({"modality_dropout": 1.0})
