"""Our AdamW: torch.optim.AdamW's update and state layout, without importing torch._dynamo."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import torch

from mmrl_desktop.core.learning.optim import AdamW


def _nets():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3))
    return net, copy.deepcopy(net)


def _train(net, opt, steps: int, seed: int = 1) -> None:
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randn(16, 5, generator=gen)
        opt.zero_grad(set_to_none=True)
        net(x).pow(2).mean().backward()
        opt.step()


def test_same_update_as_torch_adamw():
    ours_net, torch_net = _nets()
    ours = AdamW(ours_net.parameters(), lr=1e-2, weight_decay=0.05)
    ref = torch.optim.AdamW(torch_net.parameters(), lr=1e-2, weight_decay=0.05)
    _train(ours_net, ours, 40)
    _train(torch_net, ref, 40)
    for a, b in zip(ours_net.parameters(), torch_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("direction", ["ours→torch", "torch→ours"])
def test_state_dict_is_interchangeable_with_torch(direction):
    a_net, b_net = _nets()
    if direction == "ours→torch":
        src, dst = AdamW(a_net.parameters(), lr=1e-2), torch.optim.AdamW(b_net.parameters(), lr=1)
    else:
        src, dst = torch.optim.AdamW(a_net.parameters(), lr=1e-2), AdamW(b_net.parameters(), lr=1)
    _train(a_net, src, 5)
    b_net.load_state_dict(a_net.state_dict())
    dst.load_state_dict(copy.deepcopy(src.state_dict()))  # as through a checkpoint file
    assert dst.param_groups[0]["lr"] == pytest.approx(1e-2)
    _train(a_net, src, 5, seed=2)
    _train(b_net, dst, 5, seed=2)  # the moments carried over: both continue identically
    for a, b in zip(a_net.parameters(), b_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_step_pre_hook_runs_before_the_update_and_can_be_removed():
    net, _ = _nets()
    opt = AdamW(net.parameters())
    seen = []
    handle = opt.register_step_pre_hook(lambda o, args, kwargs: seen.append(o is opt))
    _train(net, opt, 2)
    handle.remove()
    _train(net, opt, 1)
    assert seen == [True, True]


def test_mismatched_state_is_refused():
    net, other = _nets()
    opt = AdamW(net.parameters())
    small = AdamW(list(other.parameters())[:2])
    with pytest.raises(ValueError):
        opt.load_state_dict(small.state_dict())


def test_training_never_imports_dynamo():
    """torch.optim's first call imports torch._dynamo (+114 MB RSS): the trainer must not."""
    code = (
        "import sys, torch\n"
        "from mmrl_desktop.core.learning.optim import AdamW\n"
        "net = torch.nn.Linear(3, 2)\n"
        "opt = AdamW(net.parameters())\n"
        "net(torch.randn(4, 3)).sum().backward()\n"
        "torch.nn.utils.clip_grad_norm_(list(net.parameters()), 1.0)\n"
        "opt.step(); opt.load_state_dict(opt.state_dict())\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
