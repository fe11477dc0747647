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


def test_the_conv_maps_are_channels_last_and_compute_what_the_plain_layout_does():
    """oneDNN's native layout (ADR 0023): the conv weights are channels-last from
    the start, stay so through a checkpoint's contiguous tensors, and the outputs and gradients
    are those of the same weights in the plain layout (within float rounding)."""
    torch.manual_seed(0)
    for channels, side in ((3, 32), (1, 64)):
        model = _policy(side, channels)
        convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
        assert not convs[1].is_contiguous()  # a 3×3 kernel over 32 channels: a real reorder
        plain = _policy(side, channels)
        plain.to(memory_format=torch.contiguous_format)
        plain.load_state_dict({k: v.contiguous() for k, v in model.state_dict().items()})
        model.load_state_dict({k: v.contiguous() for k, v in model.state_dict().items()})
        assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
        x = torch.rand(6, channels, side, side)
        outs = []
        for net in (model, plain):
            net.zero_grad()
            y = net({"image": x})["label"]
            y.pow(2).sum().backward()
            first = next(m for m in net.modules() if isinstance(m, torch.nn.Conv2d))
            outs.append((y.detach(), first.weight.grad.contiguous()))
        torch.testing.assert_close(outs[0][0], outs[1][0], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(outs[0][1], outs[1][1], rtol=1e-4, atol=1e-5)
