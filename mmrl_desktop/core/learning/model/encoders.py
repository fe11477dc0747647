"""One encoder per modality, each mapping its input to a ``[N, embed_dim]`` embedding.

- image: a small CNN that trains from scratch in seconds, or a torchvision backbone built with
  ``weights=None`` and, optionally, the user's own weights from a local file (safetensors, or a
  torch file read with ``weights_only=True`` — a malicious pickle is refused, no code runs);
- audio: log-mel spectrogram (torchaudio) → small CNN;
- text: hashed word/character n-gram ids → ``nn.EmbeddingBag`` (no tokenizer, no download).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from mmrl_desktop.core.errors import UserError


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.GroupNorm(min(8, cout), cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.ReLU(inplace=True),
    )


STEM_TARGET = 8  # inputs wider than this are first brought down to it by strided convolutions


class SmallCNN(nn.Module):
    """A strided stem down to 8×8 (for larger inputs), then conv blocks with 2× pooling until the
    map is ≤ 4 pixels wide, then a linear projection.

    The stem keeps the cost nearly flat in the input size: at 32×32 it is ~1.4 M multiply-adds
    per sample instead of ~45 M for full-resolution blocks, so the trainer sustains its updates per
    answer on a laptop CPU (the policy is retrained continuously between clicks). For more
    capacity, pick a torchvision backbone."""

    def __init__(self, in_channels: int, size: int, dim: int, width: int = 32):
        super().__init__()
        layers: list[nn.Module] = []
        c, s = in_channels, size
        while s > STEM_TARGET:
            stem = max(8, width // 2)
            layers += [nn.Conv2d(c, stem, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
            c, s = stem, math.ceil(s / 2)
        for i in range(6):
            out = width * min(2**i, 4)
            layers.append(_block(c, out))
            c = out
            if s <= 4:
                break
            layers.append(nn.MaxPool2d(2))
            s = math.ceil(s / 2)
            if s <= 4:
                layers.append(_block(c, c))
                break
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(min(4, s))
        self.proj = nn.Sequential(nn.Flatten(), nn.Linear(c * min(4, s) ** 2, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.pool(self.features(x)))


_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from a local file, read safely (no pickle code ever runs): ``safe_load``."""
    from mmrl_desktop.core.data.safe_load import load_weights

    return load_weights(path)


class TorchvisionEncoder(nn.Module):
    """A torchvision classification backbone (built offline) with its classifier removed."""

    def __init__(self, arch: str, in_channels: int, dim: int, weights_path: str | Path | None):
        super().__init__()
        import torchvision

        builder = getattr(torchvision.models, arch, None)
        if builder is None:
            raise UserError(f"torchvision has no model named {arch!r}.")
        net = builder(weights=None)
        if weights_path:
            state = load_weights_file(weights_path)
            own = net.state_dict()
            usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
            if not usable:
                raise UserError(f"{Path(weights_path).name} holds no weights for {arch}.")
            net.load_state_dict(usable, strict=False)
        feat = _strip_classifier(net)
        self.net = net
        self.in_channels = in_channels
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        self.proj = nn.Sequential(nn.Linear(feat, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-1] < 32:  # torchvision backbones downsample 32×
            x = nn.functional.interpolate(x, size=32, mode="bilinear", align_corners=False)
        return self.proj(self.net((x - self.mean) / self.std))


def _strip_classifier(net: nn.Module) -> int:
    """Replace the final classifier by Identity; return the feature width."""
    for attr in ("fc", "classifier", "head", "heads"):
        head = getattr(net, attr, None)
        if head is None:
            continue
        linears = (
            [m for m in head.modules() if isinstance(m, nn.Linear)]
            if not isinstance(head, nn.Linear)
            else [head]
        )
        if linears:
            setattr(net, attr, nn.Identity())
            return linears[0].in_features
    raise UserError("this torchvision model has no classifier layer to replace.")


class AudioEncoder(nn.Module):
    """Waveform [N, T] → log-mel spectrogram → small CNN → [N, dim]."""

    def __init__(self, sample_rate: int, n_mels: int, dim: int):
        super().__init__()
        import torchaudio

        n_fft = 1 << max(8, int(math.log2(sample_rate * 0.025)) + 1)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 2, n_mels=n_mels
        )
        self.cnn = SmallCNN(1, 32, dim)
        self.size = 32

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.log(self.mel(wave.float()) + 1e-6)  # [N, n_mels, frames]
        spec = (spec - spec.mean(dim=(1, 2), keepdim=True)) / (
            spec.std(dim=(1, 2), keepdim=True) + 1e-5
        )
        spec = nn.functional.interpolate(
            spec[:, None], size=(self.size, self.size), mode="bilinear", align_corners=False
        )
        return self.cnn(spec)


class TextEncoder(nn.Module):
    """Hashed n-gram ids [N, L] (0 = padding) → mean of embeddings → [N, dim]."""

    def __init__(self, buckets: int, dim: int):
        super().__init__()
        self.bag = nn.EmbeddingBag(buckets, dim, mode="mean", padding_idx=0)
        self.proj = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.ReLU())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.bag(ids.long()))
