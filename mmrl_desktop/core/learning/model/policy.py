"""The policy: per-modality encoders → masked fusion → one head per task.

    policy = build_policy(model_config, num_labels={"label": 10}, root=project.root)
    z = policy.embed(inputs)        # [B, embed_dim]
    logits = policy(inputs)         # {task: [B, K]}

``inputs`` is ``Featurizer.collate``'s dict:
    "image": float [B, C, S, S] in [0, 1]     "image_mask": bool [B]
    "audio": float [B, T] waveform            "audio_mask": bool [B]
    "text":  long  [B, L] hashed ids, 0 = pad  "text_mask":  bool [B]
    "volume": float [B, 1, V, V, V] in [0, 1]  "volume_mask": bool [B]   (V: volume_size)
Only the modalities the model was built for are read; an item that lacks one has mask False (its
rows are not even encoded).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.encoders import (
    AudioEncoder,
    SmallCNN,
    TextEncoder,
    TorchvisionEncoder,
)
from mmrl_desktop.core.learning.model.fusion import MaskedMeanFusion, fusion_mlp_on
from mmrl_desktop.core.learning.model.heads import TaskHeads


class Policy(nn.Module):
    def __init__(self, config: ModelConfig, num_labels: dict[str, int], root: str | Path = "."):
        super().__init__()
        if not config.resolved:
            raise UserError("the model settings must be resolved against the data first.")
        if not num_labels:
            raise UserError("the project has no task to learn; import labelled data first.")
        self.config = config
        self.modalities = config.modality_list()
        dim = config.embed_dim
        encoders: dict[str, nn.Module] = {}
        if "image" in self.modalities:
            if config.image_encoder == "small-cnn":
                encoders["image"] = SmallCNN(config.image_channels, config.image_size, dim)
            else:
                weights = None
                if config.weights_path:  # a regular weights file inside the project folder
                    from mmrl_desktop.core.data.safe_load import project_weights_path

                    weights = project_weights_path(root, config.weights_path)
                encoders["image"] = TorchvisionEncoder(
                    config.image_encoder, config.image_channels, dim, weights
                )
        if "audio" in self.modalities:
            encoders["audio"] = AudioEncoder(config.audio_sample_rate, config.n_mels, dim)
        if "text" in self.modalities:
            encoders["text"] = TextEncoder(config.text_buckets, dim, config.text_encoder)
        if "volume" in self.modalities:
            from mmrl_desktop.core.learning.model.volume_encoder import build_volume_encoder

            encoders["volume"] = build_volume_encoder(
                config.volume_encoder, config.volume_size, dim
            )
        self.input_keys: dict[str, str] = {}  # a pretrained modality reads its cached embedding
        for m, spec in config.pretrained.items():
            if m in self.modalities:
                from mmrl_desktop.core.learning.pretrained.features import policy_encoder

                # a projection of the cached embedding, or the encoder with LoRA adapters
                encoders[m], self.input_keys[m] = policy_encoder(m, spec, dim)
        self.encoders = nn.ModuleDict(encoders)
        self.fusion = MaskedMeanFusion(
            self.modalities,
            dim,
            config.dropout,
            norm=config.fusion == "norm-mean",
            modality_dropout=config.modality_dropout,
            mlp=fusion_mlp_on(config, num_labels),
            residual=config.fusion_residual,
        )
        self.heads = TaskHeads(dim, num_labels)
        self.num_labels = dict(num_labels)

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Fused embedding [B, D] of a collated batch."""
        parts: dict[str, torch.Tensor] = {}
        masks: dict[str, torch.Tensor] = {}
        batch = None
        for m in self.modalities:
            key = self.input_keys.get(m, m)
            if key in inputs:
                batch = inputs[key].shape[0]
                break
        if batch is None:
            raise ValueError("the batch holds none of the model's modalities")
        for m, enc in self.encoders.items():
            key = self.input_keys.get(m, m)
            if key not in inputs:
                continue
            x = inputs[key]
            mask = inputs.get(f"{m}_mask")
            if mask is None:
                mask = torch.ones(batch, dtype=torch.bool, device=x.device)
            if bool(mask.all()):
                z = enc(x)
            else:
                z = x.new_zeros((batch, self.config.embed_dim), dtype=torch.float32)
                rows = mask.nonzero().squeeze(1)
                if rows.numel():
                    z = z.index_copy(0, rows, enc(x.index_select(0, rows)).float())
            parts[m], masks[m] = z, mask
        return self.fusion(parts, masks)

    def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return self.heads(self.embed(inputs))


def build_policy(config: ModelConfig, num_labels: dict[str, int], root: str | Path = ".") -> Policy:
    """The policy for resolved ``config`` (see ``featurize.resolve_model_config``)."""
    return Policy(config, num_labels, root)
