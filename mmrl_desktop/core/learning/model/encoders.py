"""One encoder per modality, each mapping its input to a ``[N, embed_dim]`` embedding.

- image: a small CNN that trains from scratch in seconds (``SmallCNN``), or a torchvision backbone built with
  ``weights=None`` and, optionally, the user's own weights from a local file (safetensors, or a
  torch file read with ``weights_only=True`` — a malicious pickle is refused, no code runs);
- audio: log-mel spectrogram (torchaudio) → the image CNN (global pooling over time);
- text: hashed word/character n-gram ids → ``nn.EmbeddingBag`` (no tokenizer, no download).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
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


STEM_TARGET = 8  # tiny inputs (≤ TINY px) wider than this are first brought down to it
TINY = 8  # up to this side an image keeps the 8×8-digits design (flattened 4×4 map)
WORK_SIDE = 32  # larger inputs are brought to this side by fixed 2×2 means (the stem)
WIDTHS = (32, 64, 128, 128)  # channels of the four 3×3 conv blocks after the stem


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def standardize(x: torch.Tensor) -> torch.Tensor:
    """Per-image standardisation: each image minus its mean, over its standard deviation (all
    channels together, so relative colour survives)."""
    flat = x.flatten(1)
    mean = flat.mean(1).view(-1, 1, 1, 1)
    std = flat.std(1, unbiased=False).clamp_min(1.0 / 255).view(-1, 1, 1, 1)
    return (x - mean) / std


class SmallCNN(nn.Module):
    """A from-scratch CNN for one image size, cheap enough to retrain between clicks on a CPU.

    Above ``TINY`` px (photos, drawings: 32 or 64 px from ``resolve_model_config``, any side set
    in project.toml): 2×2 means down to 32×32 (one at 64 px, two at 128), then per-image
    standardisation; four 3×3 conv blocks (BatchNorm, ReLU) with 2× max-pooling between them
    (32 → 16 → 8 → 4);
    global average and max pooling; a linear projection. Translation-equivariant, sees shape and
    texture, and the global pooling makes it indifferent to where the object is. A 32-image
    update costs the same at 64 px as at 32 px (≤ 40 ms on one idle CPU thread). BatchNorm, not GroupNorm: on 64 rotated
    circles and squares with augmentation it reached .99 in 120 updates where GroupNorm stayed at
    chance (the maps are ≥ 4×4, so even a one-image training batch normalises). The way down to
    32 px is fixed, not learned: with a learned stride-2 convolution at 64 px the trainer's
    streamed learning (8 updates after each answer, each from the last answer's weights) fit the
    pixel noise of the first answers and `supervised` stayed at .41 on the own-folder shapes after
    300 answers; on 2×2-averaged pixels the same network reached .83 (the same network trained
    once on the 300 answers: .85 either way; docs/benchmarks.md §5c). Not an antialiasing filter
    either (PIL's bilinear halving, [1, 3, 3, 1] / 8): on unseen seeds it taught `supervised` the
    thin-stroked letters +.022 / +.033 at 30 / 60 answers and cost the shapes .034 and the
    textures .028 at 60, whose detail it blurs (§5zz45).

    Up to ``TINY`` px (8×8 digits): the original design, a stem down to 8×8, conv blocks down to
    4×4, the 4×4 map flattened (position matters at that size); ``tiny`` forces one design or
    the other whatever the size. Not above 8 px: on 16 px letters the tiny design stayed at
    chance with every true label (`supervised` .10–.17 after 300 answers) where this one, on the
    letters upsampled to 32 px, reached .73–.77 (docs/benchmarks.md §5j)."""

    def __init__(
        self, in_channels: int, size: int, dim: int, width: int = 32, tiny: bool | None = None
    ):
        super().__init__()
        self.tiny = size <= TINY if tiny is None else tiny
        if self.tiny:
            self._build_tiny(in_channels, size, dim, width)
            return
        stem: list[nn.Module] = []  # parameter-free: a 64 px model holds the 32 px model's weights
        s = size
        while s > WORK_SIDE:
            stem.append(nn.AvgPool2d(2, ceil_mode=True))
            s = math.ceil(s / 2)
        self.stem = nn.Sequential(*stem)
        layers: list[nn.Module] = []
        c = in_channels
        for i, out in enumerate(WIDTHS):
            layers.append(_conv(c, out))
            c = out
            if i < len(WIDTHS) - 1 and s > 4:
                layers.append(nn.MaxPool2d(2))
                s = math.ceil(s / 2)
        self.features = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.Linear(2 * c, dim), nn.ReLU())
        self.to(memory_format=torch.channels_last)  # see forward

    def _build_tiny(self, in_channels: int, size: int, dim: int, width: int) -> None:
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
        if self.tiny:
            return self.proj(self.pool(self.features(x)))
        # channels-last maps (and conv weights, set in __init__): a 32-image update of the
        # 32 px model ran in 33-35 ms instead of 44-52 ms on one CPU thread (oneDNN's native
        # layout; max-pooling vectorises over channels) — docs/benchmarks.md §2g, ADR 0023
        x = standardize(self.stem(x)).contiguous(memory_format=torch.channels_last)
        f = self.features(x)
        return self.proj(torch.cat([f.mean((2, 3)), f.amax((2, 3))], 1))


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
    """Waveform [N, T] → log-mel spectrogram (32 mel rows × 64 frames) → the image CNN → [N, dim].

    The spectrogram is standardised per clip and read by ``SmallCNN``'s BatchNorm blocks with
    global average and max pooling, so where in the clip a word is spoken does not matter. The
    earlier model (the 8×8 stem, its 4×4 map flattened: position mattered) reached .36 on the
    own-folder spoken words after 300 labelled answers, the log-mel CNN anchor .90; streamed as the
    trainer does, this one reached .58 after 60 where the old one had .20 (docs/benchmarks.md
    §5c)."""

    def __init__(self, sample_rate: int, n_mels: int, dim: int):
        super().__init__()
        import torchaudio

        n_fft = 1 << max(8, int(math.log2(sample_rate * 0.025)) + 1)
        self.mel = torchaudio.transforms.MelSpectrogram(
            sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 2, n_mels=n_mels
        )
        self.cnn = SmallCNN(1, WORK_SIDE, dim, tiny=False)
        self.size = (WORK_SIDE, 2 * WORK_SIDE)  # mel rows, frames

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        spec = torch.log(self.mel(wave.float()) + 1e-6)  # [N, n_mels, frames]
        spec = nn.functional.interpolate(
            spec[:, None], size=self.size, mode="bilinear", align_corners=False
        )
        return self.cnn(spec)  # standardised per clip by the CNN


class SmallStartBag(nn.EmbeddingBag):
    """An ``EmbeddingBag`` whose rows start as fastText's input vectors do, uniform in ±1/dim
    (padding row zero) — at construction and at every renewal (``renew.shrink_perturb`` calls
    ``reset_parameters`` of the module that owns the weights)."""

    @torch.no_grad()
    def reset_parameters(self) -> None:
        nn.init.uniform_(self.weight, -1.0 / self.embedding_dim, 1.0 / self.embedding_dim)
        if self.padding_idx is not None:
            self.weight[self.padding_idx].zero_()


# "idf-mean"'s weight is idf²: on dev seeds 41–46 `supervised` gained +.020 / +.026 at 30 / 60
# answers with it against +.010 / +.014 with idf itself (docs/benchmarks.md §5zz6, ADR 0037).
IDF_POWER = 2.0


class TextEncoder(nn.Module):
    """Hashed n-gram ids [N, L] (0 = padding) → mean of embeddings → [N, dim].

    ``design`` "mean" (ADR 0036): the mean itself, the embeddings starting small
    (``SmallStartBag``), so the little each answer teaches them is not lost under a large random
    start; "idf-mean" (ADR 0037, the default): the same mean weighted by the square of each
    n-gram's inverse document frequency over the project's texts (``idf``, a buffer of the
    weights: saved with the model, kept through renewals; ``fit_idf``), as tf-idf weighs a word
    that every text has less than a rare one; "mean-proj": embeddings drawn N(0, 1), the mean
    through LayerNorm, Linear and ReLU (the design of models saved before)."""

    def __init__(self, buckets: int, dim: int, design: str = "idf-mean"):
        super().__init__()
        self.design = design
        if design == "mean-proj":
            self.bag = nn.EmbeddingBag(buckets, dim, mode="mean", padding_idx=0)
            self.proj: nn.Module = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, dim), nn.ReLU())
        else:
            mode = "sum" if design == "idf-mean" else "mean"  # the weighted sum, then ÷ Σ weights
            self.bag = SmallStartBag(buckets, dim, mode=mode, padding_idx=0)
            self.proj = nn.Identity()
        if design == "idf-mean":  # 1 everywhere (the plain mean) until ``fit_idf``
            self.register_buffer("idf", torch.ones(buckets))

    @torch.no_grad()
    def fit_idf(self, doc_freq: np.ndarray, docs: int) -> None:
        """The weights of "idf-mean" from ``doc_freq[b]``, the number of the ``docs`` texts
        holding n-gram id ``b``: scikit-learn's smoothed idf, ln((1 + n) / (1 + df)) + 1, to the
        power ``IDF_POWER`` (an n-gram no text had, e.g. one of a text added later, weighs as
        the rarest)."""
        if self.design != "idf-mean":
            return
        df = torch.as_tensor(np.asarray(doc_freq), dtype=torch.float32)
        self.idf.copy_((torch.log((1.0 + docs) / (1.0 + df)) + 1.0) ** IDF_POWER)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        if self.design == "idf-mean":
            w = self.idf[ids] * (ids > 0)
            return self.bag(ids, per_sample_weights=w) / w.sum(1, keepdim=True).clamp_min(1e-6)
        return self.proj(self.bag(ids))
