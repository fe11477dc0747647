"""The image model's way down from 64 px to its 32 px working side (issue 17).

A learned stride-2 convolution at full resolution let the trainer's streamed learning (8 updates
after each answer, warm-started from the previous answer's weights) fit the pixel noise of the
first answers: on the own-folder shapes set, `supervised` stayed at .41 after 300 answers where
the same network fed 2×2-averaged pixels reached .83 (docs/benchmarks.md §5c). The stem is a
fixed 2×2 mean: a 64 px model is the 32 px model on averaged pixels, with the same weights."""

from __future__ import annotations

import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.learning.model.policy import build_policy


def _policy(side: int, channels: int = 3):
    cfg = ModelConfig.from_dict(
        {"image_size": side, "image_channels": channels, "modalities": "image"}
    )
    return build_policy(cfg, {"label": 3})


def test_a_64px_model_is_the_32px_model_on_averaged_pixels():
    torch.manual_seed(0)
    small, large = _policy(32).eval(), _policy(64).eval()
    large.load_state_dict(small.state_dict())  # strict: no weights of its own
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        a = large({"image": x})["label"]
        b = small({"image": torch.nn.functional.avg_pool2d(x, 2)})["label"]
    assert torch.allclose(a, b, atol=1e-5)


def test_128px_and_odd_sides_come_down_to_the_working_side():
    torch.manual_seed(0)
    for side in (48, 100, 128):
        policy = _policy(side, 1).eval()
        assert sum(p.numel() for p in policy.parameters()) == sum(
            p.numel() for p in _policy(32, 1).parameters()
        )
        with torch.no_grad():
            out = policy({"image": torch.rand(2, 1, side, side)})["label"]
        assert out.shape == (2, 3) and torch.isfinite(out).all()
