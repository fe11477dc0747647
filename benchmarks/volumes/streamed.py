"""Streamed supervised training on the volumes benchmark's cached grids: what the trainer does
(``updates_per_event`` AdamW updates of a replayed minibatch after each answer), without the app
around it, so that one run takes a minute or two. Used to find why the app's supervised accuracy
went up and down between 100 and 200 answers (ADR 0015: stale BatchNorm statistics).

    python -m benchmarks.volumes.streamed --seed 1 [--encoder 2.5d] [--momentum 0.1] [--norm bn]

At every ``--points`` answer count it prints the held-out accuracy of the network in eval mode
(as the app predicts), its accuracy on its own answers in eval mode, and the held-out accuracy
with the BatchNorm statistics recomputed over every answered item ("fresh"). ``--momentum``
overrides the volume encoder's BatchNorm momentum (the app: ``volume_encoder.BN_MOMENTUM``);
``--norm gn`` puts GroupNorm (8 groups) in place of every BatchNorm. The split: a permutation by
the seed, 210 streamed, 90 held out (not the app bench's stratified split).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent


def grids(data: Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every case of the benchmark's data set as a ``size``³ grid in [0, 1], and its label
    (1 nodule); cached next to the data."""
    cache = data / f".grids-{size}.npz"
    if not cache.exists():
        from mmrl_desktop.core.data.volumes.read import read_volume
        from mmrl_desktop.core.learning.model.volume_encoder import volume_grid

        xs, ys = [], []
        for label, cls in ((1, "nodule"), (0, "normal")):
            for p in sorted((data / cls).iterdir()):
                xs.append(volume_grid(read_volume(str(p)), size))
                ys.append(label)
        np.savez(cache, x=np.stack(xs), y=np.array(ys))
    d = np.load(cache)
    return torch.from_numpy(d["x"]).float().div(255.0)[:, None], torch.from_numpy(d["y"]).long()


def _norms(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _to_groupnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.modules.batchnorm._BatchNorm):
            c = child.num_features
            setattr(module, name, nn.GroupNorm(min(8, c), c))
        else:
            _to_groupnorm(child)


@torch.no_grad()
def _accuracy(net, x, y) -> float:
    net.eval()
    return float((net({"volume": x})["label"].argmax(1) == y).float().mean())


@torch.no_grad()
def _fresh(net, x_seen) -> nn.Module:
    """A copy whose BatchNorm statistics are the mean over every answered item."""
    out = copy.deepcopy(net)
    for m in _norms(out):
        m.reset_running_stats()
        m.momentum = None  # a cumulative average
    out.train()
    for s in range(0, len(x_seen), 32):
        out({"volume": x_seen[s : s + 32]})
    return out


def run(args) -> dict:
    from mmrl_desktop.core.config import ModelConfig
    from mmrl_desktop.core.learning.model.policy import Policy
    from mmrl_desktop.core.learning.optim import AdamW

    torch.manual_seed(args.seed)
    x, y = grids(Path(args.data), args.size)
    perm = np.random.default_rng(args.seed).permutation(len(y))
    stream, test = perm[:210], perm[210:]
    cfg = ModelConfig(
        modalities="volume", volume_encoder=args.encoder, volume_size=args.size, embed_dim=128
    )
    net = Policy(cfg, {"label": 2})
    if args.norm == "gn":
        _to_groupnorm(net)
    for m in _norms(net):
        m.momentum = args.momentum if args.momentum is not None else m.momentum
    opt = AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    gen = torch.Generator().manual_seed(args.seed + 1)
    points = {int(p) for p in args.points.split(",")}
    curve, t0 = [], time.perf_counter()
    for t in range(1, max(points) + 1):
        seen = stream[:t]
        for _ in range(args.updates_per_event):
            net.train()
            if t <= args.batch_size:
                idx = seen[torch.randperm(t, generator=gen).numpy()]
            else:
                idx = seen[torch.randint(t, (args.batch_size,), generator=gen).numpy()]
            loss = F.cross_entropy(net({"volume": x[idx]})["label"], y[idx])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
        if t in points:
            fresh = _accuracy(_fresh(net, x[seen]), x[test], y[test]) if _norms(net) else None
            curve.append(
                {
                    "answers": t,
                    "held_out": round(_accuracy(net, x[test], y[test]), 3),
                    "own_answers": round(_accuracy(net, x[seen], y[seen]), 3),
                    "held_out_fresh_statistics": None if fresh is None else round(fresh, 3),
                }
            )
    out = {k: v for k, v in vars(args).items() if k != "data"}
    return out | {"curve": curve, "seconds": round(time.perf_counter() - t0, 1)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(HERE / "data"), help="benchmarks.volumes.run's data")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--encoder", default="2.5d")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--momentum", type=float, default=None, help="BatchNorm momentum override")
    ap.add_argument("--norm", choices=("bn", "gn"), default="bn")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--updates-per-event", type=int, default=8)
    ap.add_argument("--points", default="25,50,75,100,125,150,175,200")
    args = ap.parse_args(argv)
    print(json.dumps(run(args)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
