"""Volumes for the model: a fixed cubic grid (``volume_grid``) and two encoders from scratch.

``volume_grid`` reads a ``Volume`` slice by slice (never the whole series in float), averages each
slice down to ``size × size``, resamples along the slices to ``size``, and turns the result to the
patient's axes (inferior → superior, anterior → posterior, right → left: the same for a DICOM
series and a NIfTI file of the same body). Values: CT (or HU-like data, minimum ≤ -900) clipped
to [-1000, 1000] HU; anything else between its 1st and 99th percentiles; stored as uint8 (a 32³
grid is 32 KB in the featurizer's cache).

Encoders (``ModelConfig.volume_encoder``, ADR 0015 for the measurements behind the default):

- ``3d-cnn`` — ``SmallCNN3D``: per-volume standardisation, a stride-2 3×3×3 stem down to 16³ (8
  channels), three 3×3×3 conv blocks (16, 32, 64 channels; BatchNorm, ReLU) with 2× max-pooling
  between them (16³ → 8³ → 4³), global average and max pooling, a linear projection. The stem
  keeps an update cheap: without it (blocks at 32³) one 32-volume update took 1.7 s on one CPU
  thread, with it 0.26 s.
- ``2.5d`` — ``SlabEncoder``: the grid cut into ``SLABS`` (4) slabs along the body axis; the
  maximum intensity projection of each, twice: as stored and in a lung window (the grid's
  [-1000, 1000] HU clipped at ``LUNG_WINDOW_TOP`` 100 HU, so a soft-tissue nodule is as bright as
  anything in the lung's MIP and bone no longer dominates the standardisation), 8 channels; a
  2×2 max (not mean: a small bright spot survives it) while the side is above 32; then the 2-D
  ``SmallCNN`` at its 32 px working side. For MR (percentile-scaled grids) the windowed channels
  are the upper half clipped; the plain ones keep everything. Offline, on 200 of the benchmark's
  phantoms (600 Adam steps, 90 held out, 2 seeds): 3 slabs of max+mean at 24³ .76/.59; 4 slabs,
  windowed MIP at 32³ .84/.86; at 48³ with the CNN's 2×2 mean .76/.74, with a 2×2 max .82/.84.

Both encoders' BatchNorm layers keep, as running statistics, those of the latest training batch
(``BN_MOMENTUM`` = 1, not torch's 0.1, which averages the last ~10 batches). The trainer's
streamed learning (8 updates an answer, Adam at 2e-3) moves the weights faster than a 0.1 average
follows: the statistics the evaluated network used were those of older weights, and on the
volumes benchmark (a nodule is one or two voxels, so the features that see it have little spread
and a small error in their mean flips the prediction) the network in eval mode fell to chance on
its own training answers (.56) while the same weights with fresh statistics held out .89;
supervised accuracy went up and down by .2–.3 between 25-answer points. With the latest batch's
statistics, streamed supervised training on the cached grids (seeds 0–2) rose .70/.68/.72 at 50
answers, .81/.78/.83 at 100, .88/.83/.93 at 200 (GroupNorm instead: stayed at chance on one seed
of three; a learning rate of 5e-4: still fell .69 → .50 once). 2-D images keep torch's default.

Input: float ``[B, 1, S, S, S]`` in [0, 1] (``Featurizer.collate``'s ``"volume"``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from mmrl_desktop.core.learning.model.encoders import SmallCNN

HU_RANGE = (-1000.0, 1000.0)
WIDTHS_3D = (16, 32, 64)
STEM_SIDE = 16  # a learned stride-2 stem brings larger grids down to this side first
SLABS = 4
LUNG_WINDOW_TOP = 0.55  # on the grid's [0, 1] = [-1000, 1000] HU: 100 HU
WORK_SIDE_2D = 32
BN_MOMENTUM = 1.0  # BatchNorm's running statistics: the latest training batch's (module docstring)


# ------------------------------------------------------------------ the grid
def _resample_slices(vol, size: int) -> torch.Tensor:
    """``[K, size, size]`` float32: each storage slice (HU) averaged down (or stretched) in plane."""
    k_count = vol.shape[0]
    out = torch.empty((k_count, size, size), dtype=torch.float32)
    for k in range(k_count):
        hu = torch.from_numpy(np.array(vol.to_hu(np.asarray(vol.voxels[k])), dtype=np.float32))
        x = hu[None, None]
        if x.shape[-2] >= size and x.shape[-1] >= size:
            x = F.adaptive_avg_pool2d(x, (size, size))
        else:
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        out[k] = x[0, 0]
    return out


def volume_grid(vol, size: int) -> np.ndarray:
    """A ``Volume`` as a ``size³`` uint8 grid in patient order (see the module's docstring)."""
    stack = _resample_slices(vol, size)[None, None]  # [1, 1, K, S, S]
    if stack.shape[2] >= size:
        grid = F.adaptive_avg_pool3d(stack, (size, size, size))
    else:
        grid = F.interpolate(stack, size=(size, size, size), mode="trilinear", align_corners=False)
    grid = grid[0, 0]
    amap = vol.axis_map()  # per patient axis x, y, z: (voxel axis, sign)
    order = [amap[2][0], amap[1][0], amap[0][0]]  # z, y, x
    grid = grid.permute(*order)
    flips = [d for d, p in enumerate((2, 1, 0)) if amap[p][1] < 0]
    if flips:
        grid = grid.flip(flips)
    arr = grid.numpy()
    if vol.tags.get("modality") == "CT" or float(arr.min()) <= -900.0:
        lo, hi = HU_RANGE
    else:
        lo, hi = (float(v) for v in np.percentile(arr, [1.0, 99.0]))
        hi = max(hi, lo + 1e-6)
    scaled = (np.clip(arr, lo, hi) - lo) / (hi - lo) * 255.0 + 0.5
    return np.ascontiguousarray(scaled.astype(np.uint8))


# ------------------------------------------------------------------ encoders
def fresh_statistics(module: nn.Module) -> nn.Module:
    """Every BatchNorm layer of ``module`` keeps the latest training batch's statistics."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = BN_MOMENTUM
    return module


def _standardize(x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(1)
    mean = flat.mean(1).view(-1, *([1] * (x.dim() - 1)))
    std = flat.std(1, unbiased=False).clamp_min(1.0 / 255).view(-1, *([1] * (x.dim() - 1)))
    return (x - mean) / std


def _conv3d(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm3d(cout),
        nn.ReLU(inplace=True),
    )


class SmallCNN3D(nn.Module):
    """A from-scratch 3-D CNN: [B, 1, S, S, S] → [B, dim] (see the module's docstring)."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        layers: list[nn.Module] = []
        c, s = 1, size
        while s > STEM_SIDE:
            layers.append(_conv3d(c, 8, stride=2))
            c, s = 8, (s + 1) // 2
        for n, out in enumerate(WIDTHS_3D):
            layers.append(_conv3d(c, out))
            c = out
            if n < len(WIDTHS_3D) - 1 and s > 4:
                layers.append(nn.MaxPool3d(2))
                s = (s + 1) // 2
        self.features = fresh_statistics(nn.Sequential(*layers))
        self.proj = nn.Sequential(nn.Linear(2 * c, dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.features(_standardize(x))
        return self.proj(torch.cat([f.mean((2, 3, 4)), f.amax((2, 3, 4))], 1))


class SlabEncoder(nn.Module):
    """2.5-D: plain and lung-windowed MIPs of ``SLABS`` slabs along the body axis → 2-D CNN."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.cnn = fresh_statistics(SmallCNN(2 * SLABS, min(size, WORK_SIDE_2D), dim))

    @staticmethod
    def projections(x: torch.Tensor) -> torch.Tensor:
        """``[B, 2·SLABS, s, s]`` (s ≤ 32): the plain MIPs, then the lung-windowed ones."""
        v = x[:, 0]  # [B, Z, Y, X]
        mips = torch.stack([s.amax(1) for s in torch.tensor_split(v, SLABS, dim=1)], 1)
        p = torch.cat([mips, (mips / LUNG_WINDOW_TOP).clamp(max=1.0)], 1)
        while p.shape[-1] > WORK_SIDE_2D:
            p = F.max_pool2d(p, 2, ceil_mode=True)
        return p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.projections(x))


def build_volume_encoder(kind: str, size: int, dim: int) -> nn.Module:
    if kind == "2.5d":
        return SlabEncoder(size, dim)
    return SmallCNN3D(size, dim)
