"""The default algorithm's pool inputs: kept compact (images and volumes as uint8), expanded when
a batch is drawn, concatenated across chunks of different text widths."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def compact(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Images and volumes as uint8 (the featurizer's own precision: x = uint8 / 255), the rest
    as is."""
    out = dict(inputs)
    for key in ("image", "volume"):  # a 32³ volume: 32 KB in the pool, not 128
        if key in out:
            out[key] = (out[key] * 255.0).round().clamp(0, 255).to(torch.uint8)
    return out


def expand(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = dict(inputs)
    for key in ("image", "volume"):
        if key in out and out[key].dtype == torch.uint8:
            out[key] = out[key].float().div_(255.0)
    return out


def cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate along the batch, right-padding hashed text ids to a common width."""
    if tensors[0].dim() == 2 and tensors[0].dtype == torch.long:
        width = max(t.shape[1] for t in tensors)
        tensors = [F.pad(t, (0, width - t.shape[1])) for t in tensors]
    return torch.cat(tensors)
