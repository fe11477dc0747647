"""AdamW without ``torch.optim.AdamW``: the same update, state layout and step hooks, and no dynamo.

Why: every ``torch.optim.Optimizer`` method is wrapped in ``torch._disable_dynamo``, whose first
call imports ``torch._dynamo`` — and with it sympy and Triton, for a compiler the app never uses
(its memory and time: docs/adr/0006-own-adamw.md). The desktop app's memory budget
(docs/benchmarks.md §2b, ≤ 1 GB with the demo after 1,000 clicks) cannot afford that.

The update is torch's own: ``step`` calls the functional ``torch.optim.adamw.adamw``
(decoupled weight decay, bias-corrected moments, amsgrad off), a plain function that imports
nothing (the dynamo wrapper around it only acts while compiling). On the CPU it runs torch's fused
kernel (``fused=True``: one pass over each parameter and its moments; the demo model's step took
~1 ms instead of 3-4 ms, equal to the multi-tensor kernels within float rounding, 2e-7 after 100
steps); elsewhere the multi-tensor kernels (``foreach=True``: CUDA's fused kernel would want the
step counters on the GPU, which would change the checkpoint layout). ``state_dict()`` has
``torch.optim.AdamW``'s layout, so checkpoints written by either load into the other; loaded
moments take their parameter's memory layout (the fused kernel needs it).
``register_step_pre_hook`` calls ``hook(optimizer, args, kwargs)`` before each step, as torch's
does (``core/learning/distributed.py`` averages gradients there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch.optim.adamw import adamw as functional_adamw  # a plain function: no dynamo wrapper

_GROUP_DEFAULTS = {  # torch.optim.AdamW's own group keys, so its load_state_dict accepts ours
    "amsgrad": False,
    "foreach": None,
    "maximize": False,
    "capturable": False,
    "differentiable": False,
    "fused": None,
    "decoupled_weight_decay": True,
}


class _Handle:
    def __init__(self, hooks: dict[int, Callable], key: int):
        self._hooks, self._key = hooks, key

    def remove(self) -> None:
        self._hooks.pop(self._key, None)


class AdamW:
    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
    ):
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        self.param_groups: list[dict[str, Any]] = [
            {
                "params": params,
                "lr": float(lr),
                "betas": (float(betas[0]), float(betas[1])),
                "eps": float(eps),
                "weight_decay": float(weight_decay),
                **_GROUP_DEFAULTS,
            }
        ]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}
        self._pre_hooks: dict[int, Callable] = {}
        self._next_hook = 0

    # ------------------------------------------------------------------ hooks
    def register_step_pre_hook(self, hook: Callable) -> _Handle:
        key = self._next_hook
        self._next_hook += 1
        self._pre_hooks[key] = hook
        return _Handle(self._pre_hooks, key)

    # ------------------------------------------------------------------ the update
    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self, *args, **kwargs) -> None:
        for hook in list(self._pre_hooks.values()):
            hook(self, args, kwargs)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            states = [self.state.get(p) or self._new_state(p) for p in params]
            beta1, beta2 = group["betas"]
            fused = all(  # the fused kernel needs each moment in its parameter's layout
                p.device.type == "cpu"
                and p.is_floating_point()
                and p.grad.stride()
                == p.stride()
                == s["exp_avg"].stride()
                == s["exp_avg_sq"].stride()
                for p, s in zip(params, states, strict=True)
            )
            functional_adamw(  # torch.optim.AdamW's own kernels, called directly
                params,
                [p.grad for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [],  # max_exp_avg_sqs: no amsgrad
                [s["step"] for s in states],
                foreach=not fused,
                fused=fused or None,
                has_complex=any(torch.is_complex(p) for p in params),
                amsgrad=False,
                beta1=beta1,
                beta2=beta2,
                lr=group["lr"],
                weight_decay=group["weight_decay"],
                eps=group["eps"],
                maximize=False,
            )

    def _new_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        """``torch.optim.AdamW``'s lazy per-parameter state: a CPU float step and two moments."""
        state = self.state[p] = {
            "step": torch.tensor(0.0),
            "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
            "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
        }
        return state

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """``torch.optim.AdamW.state_dict()``'s layout: state by parameter index."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            ids = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            packed["params"] = ids
            groups.append(packed)
        state = {
            index[id(p)]: dict(s)
            for group in self.param_groups
            for p in group["params"]
            if (s := self.state.get(p))
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params: dict[int, torch.Tensor] = {}
        for mine, saved in zip(self.param_groups, groups, strict=True):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    "of optimizer's group"
                )
            params.update(zip(saved["params"], mine["params"], strict=True))
            for key in ("lr", "eps", "weight_decay"):
                if key in saved:
                    mine[key] = float(saved[key])
            if "betas" in saved:
                mine["betas"] = (float(saved["betas"][0]), float(saved["betas"][1]))
        self.state = {}
        for key, value in state_dict["state"].items():
            p = params.get(int(key))
            if p is None:
                continue
            self.state[p] = {
                "step": torch.as_tensor(value["step"], dtype=torch.float32).clone().cpu(),
                "exp_avg": _like(p, value["exp_avg"]),
                "exp_avg_sq": _like(p, value["exp_avg_sq"]),
            }


def _like(p: torch.Tensor, saved: torch.Tensor) -> torch.Tensor:
    """A moment read from a checkpoint (contiguous there) in ``p``'s memory layout: the fused
    CPU kernel walks a parameter and its moments element by element in memory order, so a
    contiguous moment beside a channels-last conv weight would be updated against the wrong
    weights (ADR 0023; ``tests/core/test_optim.py``). Another shape is refused (``copy_`` alone
    would broadcast it)."""
    if saved.shape != p.shape:
        raise ValueError(
            f"loaded state dict has a moment of shape {tuple(saved.shape)} for a parameter of "
            f"shape {tuple(p.shape)}"
        )
    return torch.empty_like(p).copy_(saved)
