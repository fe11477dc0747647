"""``same_loop``'s ``app:FIELD=V`` variants: the app's network with ModelConfig fields set."""

from __future__ import annotations

import pytest
import torch

from benchmarks.own_folders.same_loop import _AppNet, model_overrides
from mmrl_desktop.core.config import ModelConfig


def test_overrides_are_typed_model_config_fields():
    assert model_overrides("app:embed_dim=64;dropout=0.25") == {"embed_dim": 64, "dropout": 0.25}
    assert model_overrides("app") == {} and model_overrides("app@1.0") == {}
    assert model_overrides("app:fusion=mean;dropout=0") == {"fusion": "mean", "dropout": 0.0}
    with pytest.raises(SystemExit, match=r"unknown \[model\] setting"):
        model_overrides("app:widths=3")
    with pytest.raises(SystemExit, match="must be a whole number"):
        model_overrides("app:embed_dim=wide")


def test_the_network_takes_the_override():
    over = model_overrides("app:embed_dim=48")
    config = ModelConfig(modalities="image", image_size=32, image_channels=1, **over)
    net = _AppNet(config, 10, "image")
    heads = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert heads[-1].in_features == 48 and heads[-1].out_features == 10
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
