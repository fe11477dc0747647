"""Our AdamW: torch.optim.AdamW's update and state layout, without importing torch._dynamo."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mmrl_desktop.core.learning.checkpoints import load_checkpoint
from mmrl_desktop.core.learning.optim import AdamW

OLD_CHECKPOINT = Path(__file__).parent / "data" / "adamw-v1" / "ckpt-00000003.safetensors"


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
    other_opt = AdamW(other.parameters())
    _train(other, other_opt, 1)
    wrong = other_opt.state_dict()
    wrong["state"][0] = {k: v[..., :1] if v.dim() else v for k, v in wrong["state"][0].items()}
    with pytest.raises(ValueError, match="moment of shape"):  # copy_ would have broadcast it
        opt.load_state_dict(wrong)


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


def test_an_optimiser_checkpoint_of_the_per_tensor_loop_resumes_identically():
    """``data/adamw-v1``: a checkpoint written by the per-tensor AdamW loop this module had
    before it called torch's multi-tensor kernels (3 steps of ``_train``, seed 1), with the
    weights that loop reached 2 steps later (seed 2). Loading it continues to the same weights."""
    state = load_checkpoint(OLD_CHECKPOINT).state
    net, _ = _nets()
    net.load_state_dict(state["policy"])
    opt = AdamW(net.parameters(), lr=1)
    opt.load_state_dict(state["optimizer"])
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-2)
    assert set(opt.state_dict()["param_groups"][0]) == set(state["optimizer"]["param_groups"][0])
    _train(net, opt, 2, seed=2)
    for name, value in net.state_dict().items():
        torch.testing.assert_close(value, state["expected_after_2_more"][name], rtol=1e-6, atol=0)


class _CountOps(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func))
        return func(*args, **(kwargs or {}))


def _ops_of_one_step(n_layers: int) -> list[str]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(n_layers)])
    opt = AdamW(net.parameters())
    net(torch.randn(2, 4)).sum().backward()
    opt.step()  # the state exists: the next step is the steady one
    with _CountOps() as counted:
        opt.step()
    return counted.ops


def test_a_step_is_a_fixed_number_of_kernel_calls():
    """On the CPU torch's fused kernel updates every parameter in one call (elsewhere the
    multi-tensor kernels, one call per operation): the tensor kernels dispatched from Python do
    not grow with the number of parameter tensors (only the reads of each tensor's step count
    for its bias correction may, as in torch.optim.AdamW)."""
    few, many = _ops_of_one_step(1), _ops_of_one_step(12)  # 2 and 24 parameter tensors
    kernels = [[op for op in ops if "_local_scalar_dense" not in op] for ops in (few, many)]
    assert kernels[0] == kernels[1] and any("_fused_adamw" in op for op in kernels[1])


def test_the_fused_cpu_step_matches_the_multi_tensor_kernels():
    """The fused kernel (CPU) and the multi-tensor one (what a GPU runs) agree within float
    rounding after many steps, so a model trained on either is the same model."""
    from torch.optim.adamw import adamw

    torch.manual_seed(0)
    shapes = [(32, 3, 3, 3), (32,), (128, 64), (10,)]
    start = [torch.randn(s) for s in shapes]
    ends = []
    for fused in (True, False):
        params = [p.clone() for p in start]
        m, v = [torch.zeros(s) for s in shapes], [torch.zeros(s) for s in shapes]
        steps = [torch.tensor(0.0) for _ in shapes]
        gen = torch.Generator().manual_seed(1)
        for _ in range(100):
            grads = [torch.randn(s, generator=gen) for s in shapes]
            adamw(params, grads, m, v, [], steps, foreach=not fused, fused=fused or None,
                  has_complex=False, amsgrad=False, beta1=0.9, beta2=0.999, lr=1e-3,
                  weight_decay=0.01, eps=1e-8, maximize=False)  # fmt: skip
        ends.append(params)
    for a, b in zip(*ends, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_channels_last_model_resumes_from_a_checkpoint_as_if_never_stopped():
    """The image CNN's conv weights are channels-last (ADR 0023) and a checkpoint stores every
    tensor contiguous. The fused CPU kernel walks a weight and its moments in memory order, so
    moments loaded in the checkpoint's layout would be applied to the wrong weights: they must
    take their parameter's layout, and the resumed run must continue exactly."""
    from mmrl_desktop.core.learning.checkpoints import flatten_state, unflatten_state

    def net():
        torch.manual_seed(0)
        m = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3))
        return m.to(memory_format=torch.channels_last)

    def train(m, opt, steps, seed):
        gen = torch.Generator().manual_seed(seed)
        for _ in range(steps):
            x = torch.randn(4, 3, 9, 9, generator=gen).contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            m(x).pow(2).mean().backward()
            opt.step()

    a = net()
    opt_a = AdamW(a.parameters(), lr=1e-2)
    train(a, opt_a, 3, seed=1)
    tensors, skeleton = flatten_state({"policy": a.state_dict(), "optimizer": opt_a.state_dict()})
    saved = unflatten_state({k: v.clone() for k, v in tensors.items()}, skeleton)  # contiguous
    assert not saved["optimizer"]["state"][2]["exp_avg"].is_contiguous(
        memory_format=torch.channels_last
    )
    b = net()
    b.load_state_dict(saved["policy"])
    opt_b = AdamW(b.parameters(), lr=1)
    opt_b.load_state_dict(saved["optimizer"])
    train(a, opt_a, 3, seed=2)
    train(b, opt_b, 3, seed=2)
    for x, y in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)
