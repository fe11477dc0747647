"""A linear text model against the app's (issue 17, an experiment): ``run_bench`` in process on
the own-folder texts set, seeds 0–4, with the policy's text path replaced for the run.

Variants (``VARIANT[:STD]``):
* ``app``: the app's model (mean of n-gram embeddings → LayerNorm → Linear → ReLU → fusion MLP);
* ``linear:STD``: the sum of n-gram embeddings over √(n-grams), initial weights N(0, STD²), no
  LayerNorm, no projection, no fusion MLP: a logistic regression on L2-normalised n-gram counts,
  factorised through the embedding width;
* ``linear-mlp:STD``: the same encoder with the fusion MLP kept;
* ``linear-res:STD``: the same encoder, the fusion MLP as a residual (z + mlp(z)).

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.text_model_runs linear:0.1 \\
        --algorithm supervised --points 30,60,150 [--options '{"kl_beta": 0}'] [--corrections 0.5]

docs/benchmarks.md §5g has the results.
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np
import torch
from torch import nn

from benchmarks.own_folders import datasets


class LinearText(nn.Module):
    def __init__(self, buckets: int, dim: int, std: float):
        super().__init__()
        self.embedding = nn.Embedding(buckets, dim, padding_idx=0)
        nn.init.normal_(self.embedding.weight, std=std)
        with torch.no_grad():
            self.embedding.weight[0].zero_()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.long()
        keep = (ids != 0).to(self.embedding.weight.dtype)
        weight = keep / keep.sum(1, keepdim=True).clamp_min(1.0).sqrt()
        return (self.embedding(ids) * weight[:, :, None]).sum(1)


class Residual(nn.Module):
    def __init__(self, inner: nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.inner(z)


def patch(variant: str) -> None:
    """Make ``build_policy`` build the variant's text path."""
    from mmrl_desktop.core.learning.model import policy as policy_mod

    if variant == "app":
        return
    kind, std = variant.split(":")
    own_init = policy_mod.Policy.__init__

    def init(self, config, num_labels, root="."):
        own_init(self, config, num_labels, root)
        self.encoders["text"] = LinearText(config.text_buckets, config.embed_dim, float(std))
        if kind == "linear":
            self.fusion.mlp = nn.Sequential(nn.Dropout(config.dropout))
        elif kind == "linear-res":
            self.fusion.mlp = Residual(self.fusion.mlp)

    policy_mod.Policy.__init__ = init


def main() -> None:
    from mmrl_desktop.core.tools.bench import run_bench

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variant")
    ap.add_argument("--algorithm", default="default")
    ap.add_argument("--points", default="30,60,150")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--options", default="{}", help="algorithm settings, JSON")
    ap.add_argument("--corrections", type=float, default=0.0)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    patch(args.variant)
    folder, _ = datasets.ensure("texts")
    points = [int(p) for p in args.points.split(",")]
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        r = run_bench(str(folder), args.algorithm, points, seed=seed, holdout=0.3, device="cpu",
                      algorithm_settings=json.loads(args.options),
                      corrections=args.corrections)  # fmt: skip
        rows.append([c["accuracy"] for c in r["curve"]])
        print(seed, rows[-1], flush=True)
    mean = np.mean(rows, axis=0)
    print(args.variant, args.algorithm, " / ".join(f"{a:.3f}" for a in mean), flush=True)


if __name__ == "__main__":
    main()
