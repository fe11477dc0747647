"""One classification head per task on the shared embedding (multi-task learning)."""

from __future__ import annotations

import torch
from torch import nn


class TaskHeads(nn.Module):
    def __init__(self, dim: int, num_labels: dict[str, int]):
        super().__init__()
        self.num_labels = dict(num_labels)
        self.heads = nn.ModuleDict({t: nn.Linear(dim, k) for t, k in self.num_labels.items()})

    def forward(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        return {t: head(z) for t, head in self.heads.items()}
