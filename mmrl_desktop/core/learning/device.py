"""Where and how a model runs: the one device picker and the one eval-mode switch of the core.

    device = choose_device("auto")      # cuda, else mps, else cpu; "cuda"/"mps" when absent: UserError
    with evaluating(policy):            # eval mode and no gradients for an inference pass;
        logits = policy(inputs)         # the module's train/eval mode is restored afterwards

``Trainer``, ``bench`` and ``self-test`` pick their device here; every inference pass that switches
a training policy to eval mode does it with ``evaluating`` (dropout and batch norm off, the mode
given back even when the pass raises).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from mmrl_desktop.core.errors import UserError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def choose_device(name: str = "auto") -> torch.device:
    """The torch device for a ``--device`` name: ``auto`` takes CUDA, then Apple's MPS, then the
    CPU; a GPU asked for by name that is not there is one sentence (``UserError``)."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if _mps_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for, but no CUDA GPU is available.")
    if name == "mps" and not _mps_available():
        raise UserError("--device mps was asked for, but Apple's MPS is not available.")
    return torch.device(name)


@contextmanager
def evaluating(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """``module`` in eval mode without gradients for the block; its mode (train or eval) is
    restored on the way out, also after an exception."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield module
    finally:
        module.train(was_training)
