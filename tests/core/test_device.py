"""core/learning/device.py: the one device picker (trainer, bench, self-test) and the one
eval-mode switch for inference passes."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import trainer_build
from mmrl_desktop.core.learning.device import choose_device, evaluating
from mmrl_desktop.core.tools import selftest


def test_auto_takes_the_best_device_present_and_a_missing_gpu_is_one_sentence():
    expected = "cuda" if torch.cuda.is_available() else None
    mps = getattr(torch.backends, "mps", None)
    if expected is None:
        expected = "mps" if mps is not None and mps.is_available() else "cpu"
    assert choose_device("auto") == torch.device(expected)
    assert choose_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU is available"):
            choose_device("cuda")


def test_trainer_and_self_test_use_the_one_picker():
    assert trainer_build.choose_device is choose_device
    assert not hasattr(selftest, "pick_device")  # its own copy is gone
    detail = selftest.check_torch()
    assert f"({choose_device('auto')}" in detail, detail


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))


def test_evaluating_is_eval_mode_without_gradients_and_gives_the_mode_back():
    net = _net().train()
    x = torch.randn(16, 4)
    with evaluating(net) as m:
        assert m is net and not net.training and not net[1].training
        out = net(x)
        again = net(x)
    assert not out.requires_grad
    assert torch.equal(out, again)  # no dropout: the same input gives the same output
    assert net.training and net[1].training
    net.eval()
    with evaluating(net):
        pass
    assert not net.training  # a module in eval mode stays in eval mode


def test_evaluating_gives_the_mode_back_after_an_exception():
    net = _net().train()
    with pytest.raises(RuntimeError), evaluating(net):
        net(torch.randn(3, 5))  # wrong width
    assert net.training and torch.is_grad_enabled()
