"""Issue 17 experiment (not a test): would a view learnt without answers beat the fixed ones?
SimCLR (NT-Xent, two augmented views per item, temperature 0.2, a 2-layer projection) trains the
app's own image encoder on the unlabelled pool; printed: the leave-one-out 1-NN / 5-NN accuracy
of its embedding with every true label (``view_ceiling``'s measure) as it trains, beside the
fixed views'. Images only.

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.own_folders.ssl_ceiling SET STEPS CROP INVERT

CROP: the smallest side kept by a random resized crop (1 = no crop); INVERT 1: half the views
have their intensities inverted. Glyphs, seed 0 (docs/benchmarks.md §5e): hog .671; SimCLR at
1000 / 2000 steps .660 / – (crop .6) and .749 / .757 (crop .6, inverted).
"""

import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch
import torch.nn as nn
import torch.nn.functional as F

from benchmarks.own_folders.view_ceiling import knn_acc, pool_of
from mmrl_desktop.core.learning import views
from mmrl_desktop.core.learning.augment import Augmenter


def crop_resize(x, g, lo=0.6):
    B, C, S, _ = x.shape
    out = torch.empty_like(x)
    sc = lo + (1 - lo) * torch.rand(B, generator=g)
    for i in range(B):
        s = max(4, int(S * float(sc[i])))
        a = int(torch.randint(0, S - s + 1, (1,), generator=g))
        b = int(torch.randint(0, S - s + 1, (1,), generator=g))
        out[i] = F.interpolate(
            x[i : i + 1, :, a : a + s, b : b + s], size=(S, S), mode="bilinear", align_corners=False
        )[0]
    return out


def main(name, steps, lo, invert, seed=0):
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    tr, alg, y = pool_of(name, seed)
    pol = alg.policy
    aug = Augmenter(orientation_free=bool(getattr(tr.config, "orientation_free", False)))
    g = torch.Generator().manual_seed(seed)
    allin = {k: v for k, v in alg._pool_batch(torch.arange(len(alg.pool_ids))).items()}

    def emb():
        z = torch.cat([alg._embed(c)[0] for c in alg._chunks()])
        return views.unit_rows(z.double().numpy())

    one, five = knn_acc(emb(), y)
    print(f"{name} step 0 1-NN {one:.3f} 5-NN {five:.3f}", flush=True)
    fixed, _ = views.fixed_views(alg._chunks(), alg._sample_rate())
    for v, x in fixed.items():
        print(f"  fixed {v} 1-NN {knn_acc(x, y)[0]:.3f}", flush=True)
    D = pol.embed({k: v[:2] for k, v in allin.items()}).shape[1]
    proj = nn.Sequential(nn.Linear(D, 128), nn.ReLU(), nn.Linear(128, 64))
    opt = torch.optim.Adam(list(pol.parameters()) + list(proj.parameters()), lr=1e-3)
    n = len(alg.pool_ids)
    B = 64
    t0 = time.time()
    for step in range(1, steps + 1):
        idx = torch.randint(n, (B,), generator=g)
        x = allin["image"][idx]
        if x.dtype != torch.float32:
            x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        vs = []
        for _ in range(2):
            v = crop_resize(x, g, lo) if lo < 1 else x
            v = aug.image(v, g)
            if invert:
                m = torch.rand(B, generator=g) < 0.5
                v = torch.where(m[:, None, None, None], 1 - v, v)
            vs.append(v)
        pol.train()
        z = torch.cat([pol.embed({"image": vs[0]}), pol.embed({"image": vs[1]})])
        h = F.normalize(proj(z), dim=1)
        sim = h @ h.T / 0.2
        sim.fill_diagonal_(-1e9)
        tgt = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)])
        loss = F.cross_entropy(sim, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step in (100, 300, 600, 1000, 2000, 4000):
            one, five = knn_acc(emb(), y)
            took = time.time() - t0
            print(f"{name} step {step} loss {loss.item():.3f} 1-NN {one:.3f} 5-NN {five:.3f} "
                  f"({took:.0f}s)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1")
