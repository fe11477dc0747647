"""Issue 17, goal 1 (an experiment, not a test): which part of the app's refit loop costs the
letters at 30 answers (docs/benchmarks.md §5zt: the app's own refit on all 30 answers is below
the app's network in the anchor's loop on eight of eight seeds, −.065)? Trains the app's
``Policy`` on the distinct items of the first N asks with a loop that is the anchor's
(``anchors.train_cnn``) or the app's trainer's in each of its parts, and scores it on the
held-out items, ``--repeats`` times.

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.loop_parts glyphs 41 30 anchor,app,app-opt

A variant is a name: ``anchor`` (Adam 2e-3, no weight decay, no clip, 32 draws with
replacement, the anchor's augmentation after which each image is standardised, 500 steps, the
live weights evaluated) or ``app`` (the trainer's: AdamW 2e-3 with the config's weight decay,
the gradient clipped at the config's norm, every answer once per update in a random order when
they are at most a batch, the app's own augmentation, ``refit_updates`` updates, the weights'
moving average evaluated), or one of them with parts swapped: ``anchor+opt`` / ``app-opt``
(AdamW, weight decay, clip), ``+draw`` / ``-draw``, ``+aug`` / ``-aug``, ``+steps`` / ``-steps``,
``+avg`` / ``-avg``, joined as ``app-opt-draw``.
"""

from __future__ import annotations

import copy
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.own_folders import anchors
from benchmarks.own_folders.same_loop import _app_inputs, _AppNet, parser, scored, split_for
from mmrl_desktop.core.config import TrainConfig

PARTS = ("opt", "draw", "aug", "steps", "avg")


def parts_of(variant: str) -> set[str]:
    """The parts of ``variant`` that are the app's (``app-opt``: all but the optimiser)."""
    base, *rest = variant.replace("-", " -").replace("+", " +").split()
    have = set(PARTS) if base == "app" else set()
    for r in rest:
        (have.add if r[0] == "+" else have.discard)(r[1:])
    return have


def train(x_tr, y_tr, x_te, make, app: set[str], own_aug, anchor_aug, seed: int, cfg: TrainConfig):
    """The loop with the app's ``app`` parts, the anchor's otherwise; predicted labels of x_te."""
    from mmrl_desktop.core.learning.optim import AdamW

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = make()
    if "opt" in app:
        opt = AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    avg = copy.deepcopy(model).eval() if "avg" in app else None
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(np.asarray(y_tr, dtype=np.int64))
    n = len(xt)
    steps = cfg.refit_updates if "steps" in app else anchors.CNN_STEPS
    model.train()
    for k in range(steps):
        if "draw" in app:
            idx = (torch.randperm(n, generator=gen) if n <= cfg.batch_size
                   else torch.randint(n, (cfg.batch_size,), generator=gen))  # fmt: skip
        else:
            idx = torch.randint(0, n, (min(anchors.CNN_BATCH, n),), generator=gen)
        xb = (
            own_aug(xt[idx], gen)
            if "aug" in app
            else anchors._standardise(anchor_aug(xt[idx], gen))
        )
        loss = torch.nn.functional.cross_entropy(model(xb), yt[idx])
        opt.zero_grad()
        loss.backward()
        if "opt" in app:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        if avg is not None:  # as Algorithm.average_step
            d = min(cfg.weight_average, (2 + k) / (11 + k))
            with torch.no_grad():
                for a, m in zip(
                    avg.state_dict().values(), model.state_dict().values(), strict=True
                ):
                    a.copy_(torch.lerp(a, m, 1.0 - d) if a.dtype.is_floating_point else m)
    net = avg if avg is not None else model.eval()
    net.eval()
    with torch.no_grad():
        xe = torch.from_numpy(x_te)
        xe = xe if "aug" in app else anchors._standardise(xe)
        return np.concatenate(
            [net(xe[i : i + 256]).argmax(1).numpy() for i in range(0, len(xe), 256)]
        )


def run(name: str, seed: int, n: int, variants: list[str], repeats: int) -> list[dict]:
    from mmrl_desktop.core.learning.augment import Augmenter

    ds, entries, labels, y, tr, test = split_for(name, seed, n)
    x, config = _app_inputs(entries, ds.modality, None)
    cfg = TrainConfig(orientation_free=ds.orientation_free)
    own = Augmenter.from_config(cfg)
    own_aug = lambda xb, g: own({ds.modality: xb}, g)[ds.modality]  # noqa: E731
    anchor_aug = lambda xb, g: anchors.augment_image(xb, g, ds.orientation_free)  # noqa: E731
    make = lambda: _AppNet(config, len(labels), ds.modality)  # noqa: E731
    out = []
    for variant in variants:

        def fit(rep, app=parts_of(variant)):
            seed_ = seed * 100003 + n + rep
            return train(x[tr], y[tr], x[test], make, app, own_aug, anchor_aug, seed_, cfg)

        key = {"set": name, "seed": seed, "answers": n, "variant": variant}
        out.append(scored(key, repeats, y[test], fit))
    return out


def main(argv: list[str] | None = None) -> None:
    a = parser(__doc__).parse_args(argv)
    torch.set_num_threads(1)
    run(a.set, a.seed, a.answers, a.variants.split(","), a.repeats)


if __name__ == "__main__":
    main()
