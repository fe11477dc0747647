"""Fusion of per-modality embeddings that works when an item lacks some modalities.

Each present modality's embedding gets a learned modality embedding added; the fused vector is the
masked mean over the modalities the item has, followed by a small MLP (none for pictures and
sounds of many labels, ADR 0042; or a residual branch beside the mean, ``[model]
fusion_residual``). With several modalities each one's embedding first goes through its own
LayerNorm (ADR 0038). An item with no modality at all (should not happen) fuses to the MLP of
zeros.
"""

from __future__ import annotations

import torch
from torch import nn

from mmrl_desktop.core.learning.model.encoders import TINY


class ModalityEmbeddings(nn.ParameterDict):
    """One learned vector per modality, zeros at first; ``reset_parameters`` zeros them again, so
    a renewal (``renew.shrink_perturb``: a refit starts from new weights) renews them too — a
    ``ParameterDict`` has none, and they were carried over from before the refit."""

    @torch.no_grad()
    def reset_parameters(self) -> None:
        for p in self.values():
            p.zero_()


MANY_LABELS = 8  # "auto" leaves the MLP out from this many labels in a task (ADR 0042)


def fusion_mlp_on(config, num_labels: dict[str, int]) -> bool:
    """Whether ``config``'s model has the fusion's MLP (``[model] fusion_mlp``). "auto" leaves
    it out when every modality is a picture above 8 px or a sound, each read by the built-in
    encoder (the small CNNs), and a task has ``MANY_LABELS`` labels or more; it keeps it for
    fewer labels, texts, volumes, 8 px digits, pretrained encoders and mixes with them (ADR
    0042, docs/benchmarks.md §5zz23–§5zz25)."""
    if config.fusion_mlp != "auto":
        return config.fusion_mlp == "on"
    return not many_labels_from_scratch(config, num_labels)


def from_scratch(config) -> bool:
    """Every modality of ``config`` is a picture above 8 px or a sound, each read by the
    built-in encoder (the small CNNs): no texts, volumes, 8 px digits or pretrained encoders."""
    mods = config.modality_list()
    built_in = {"audio"} | ({"image"} if config.image_encoder == "small-cnn" else set())
    return (
        bool(mods)
        and all(m in built_in and m not in config.pretrained for m in mods)
        and ("image" not in mods or config.image_size > TINY)
    )


def many_labels_from_scratch(config, num_labels: dict[str, int]) -> bool:
    """``from_scratch`` and a task has ``MANY_LABELS`` labels or more: the projects where "auto"
    leaves the fusion's MLP out (ADR 0042) and thumbs only's pseudo-labels stop at 8 answers
    per label (ADR 0043)."""
    return from_scratch(config) and max(num_labels.values(), default=0) >= MANY_LABELS


def resolve_fusion_mlp(config, num_labels: dict[str, int]):
    """``config`` with "auto" resolved to what is built, so a checkpoint keeps it whatever the
    labels or the default become."""
    if config.fusion_mlp != "auto":
        return config
    return config.replace(fusion_mlp="on" if fusion_mlp_on(config, num_labels) else "off")


class ResidualBranch(nn.Module):
    """``z + W2·relu(W1·z)`` (``[model] fusion_residual``): the heads read the fused mean plus
    what the branch learns. ``W2`` and its bias are zero in a new model, so it starts as the
    mean itself; a renewal (``renew.shrink_perturb``) draws both layers anew, as it does every
    ``Linear`` (docs/benchmarks.md §5zz24 measured it so)."""

    def __init__(self, dim: int):
        super().__init__()
        self.inner = nn.Linear(dim, dim)
        self.outer = nn.Linear(dim, dim)
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.outer(torch.relu(self.inner(z)))


class MaskedMeanFusion(nn.Module):
    """``norm`` (``[model] fusion = "norm-mean"``, the default, ADR 0038): with two modalities
    or more, each modality's embedding first goes through its own LayerNorm, so that one whose
    embedding starts small (a text's, ADR 0036) is not drowned by another's in the mean; a model
    of one modality has none (it is the same as without).

    ``modality_dropout`` (``[model] modality_dropout``): while training (grad on), each item
    that has two modalities or more keeps only one of them, drawn uniformly, with this
    probability — so every modality learns to predict alone and one that fits the few answers
    fast (a picture's network memorising them) does not leave the other untrained (ModDrop,
    Neverova et al. 2016). Predictions always fuse every modality the item has.

    ``used`` (a buffer, one flag per modality, all on at first): in eval mode only the flagged
    modalities an item has are fused — one with none of them fuses all it has.
    ``core/learning/modality_choice.py`` sets it from the answers (``[model] modality_choice``,
    ADR 0039); training always fuses every modality."""

    def __init__(
        self,
        modalities: list[str],
        dim: int,
        dropout: float = 0.0,
        norm: bool = False,
        modality_dropout: float = 0.0,
        mlp: bool = True,
        residual: bool = False,
    ):
        super().__init__()
        self.modalities = list(modalities)
        self.modality_dropout = float(modality_dropout)
        self.modality_embedding = ModalityEmbeddings(
            {m: nn.Parameter(torch.zeros(dim)) for m in self.modalities}
        )
        self.norms = (
            nn.ModuleDict({m: nn.LayerNorm(dim) for m in self.modalities})
            if norm and len(self.modalities) > 1
            else None
        )
        # ``mlp`` off (``[model] fusion_mlp``, ``fusion_mlp_on``): only the dropout before the heads;
        # ``residual`` (with ``mlp`` on): the MLP as a branch beside the mean
        if not mlp:
            hidden: list[nn.Module] = []
        elif residual:
            hidden = [ResidualBranch(dim)]
        else:
            hidden = [nn.Linear(dim, dim), nn.ReLU()]
        self.mlp = nn.Sequential(*hidden, nn.Dropout(dropout))
        self.register_buffer("used", torch.ones(len(self.modalities), dtype=torch.bool))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # models saved before ``used`` existed fused every modality
        state_dict.setdefault(prefix + "used", torch.ones_like(self.used))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(
        self, parts: dict[str, torch.Tensor], masks: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        total = None
        count = None
        if self.modality_dropout > 0 and self.training and torch.is_grad_enabled():
            masks = self.drop_modalities(masks, [m for m in self.modalities if m in parts])
        elif not self.training and len(self.modalities) > 1:
            masks = self.chosen(masks, [m for m in self.modalities if m in parts])
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

    def drop_modalities(
        self, masks: dict[str, torch.Tensor], present: list[str]
    ) -> dict[str, torch.Tensor]:
        """The masks with, for each item of two modalities or more and with probability
        ``modality_dropout``, all but one of its modalities (drawn uniformly) masked out."""
        if len(present) < 2:
            return masks
        have = torch.stack([masks[m].bool() for m in present], dim=1)  # [B, k]
        several = have.sum(1) >= 2
        drop = several & (torch.rand(have.shape[0], device=have.device) < self.modality_dropout)
        if not bool(drop.any()):
            return masks
        keep = (torch.rand(have.shape, device=have.device) * have).argmax(1)  # a present one
        only = torch.nn.functional.one_hot(keep, len(present)).bool()
        have = torch.where(drop[:, None], only, have)
        return {**masks, **{m: have[:, i].to(masks[m].dtype) for i, m in enumerate(present)}}

    def chosen(self, masks: dict[str, torch.Tensor], present: list[str]) -> dict[str, torch.Tensor]:
        """The masks of the modalities ``used`` flags; an item with none of them keeps its own
        (traced as it is by the exports, so they predict as the model shown does)."""
        if not present:
            return masks
        # in float arithmetic: ONNX Runtime has no Where on booleans
        have = {m: masks[m].float() for m in present}
        kept = {m: have[m] * self.used[self.modalities.index(m)].float() for m in present}
        some = (torch.stack([kept[m] for m in present], 1).sum(1) > 0).float()
        return {**masks, **{m: kept[m] * some + have[m] * (1 - some) for m in present}}
