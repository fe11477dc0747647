"""Fusion of per-modality embeddings that works when an item lacks some modalities.

Each present modality's embedding gets a learned modality embedding added; the fused vector is the
masked mean over the modalities the item has, followed by a small MLP. With several modalities
each one's embedding first goes through its own LayerNorm (ADR 0038). An item with no modality at
all (should not happen) fuses to the MLP of zeros.
"""

from __future__ import annotations

import torch
from torch import nn


class ModalityEmbeddings(nn.ParameterDict):
    """One learned vector per modality, zeros at first; ``reset_parameters`` zeros them again, so
    a renewal (``renew.shrink_perturb``: a refit starts from new weights) renews them too — a
    ``ParameterDict`` has none, and they were carried over from before the refit."""

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for p in self.values():
            p.zero_()


class MaskedMeanFusion(nn.Module):
    """``norm`` (``[model] fusion = "norm-mean"``, the default, ADR 0038): with two modalities
    or more, each modality's embedding first goes through its own LayerNorm, so that one whose
    embedding starts small (a text's, ADR 0036) is not drowned by another's in the mean; a model
    of one modality has none (it is the same as without)."""

    def __init__(self, modalities: list[str], dim: int, dropout: float = 0.0, norm: bool = False):
        super().__init__()
        self.modalities = list(modalities)
        self.modality_embedding = ModalityEmbeddings(
            {m: nn.Parameter(torch.zeros(dim)) for m in self.modalities}
        )
        self.norms = (
            nn.ModuleDict({m: nn.LayerNorm(dim) for m in self.modalities})
            if norm and len(self.modalities) > 1
            else None
        )
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(), nn.Dropout(dropout))

    def forward(
        self, parts: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        total = None
        count = None
        for m in self.modalities:
            if m not in parts:
                continue
            w = masks[m].to(parts[m].dtype)[:, None]
            part = self.norms[m](parts[m]) if self.norms is not None else parts[m]
            z = (part + self.modality_embedding[m]) * w
            total = z if total is None else total + z
            count = w if count is None else count + w
        assert total is not None and count is not None, "no modality in the batch"
        return self.mlp(total / count.clamp_min(1.0))
