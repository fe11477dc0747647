# ruff: noqa: B023  (each lambda is called at once by run())
"""Issue 17 diagnosis (an experiment, not a test): the app's Policy trained with the image anchor's
loop (500 Adam steps on the first N answered items at once) against the trainer's procedure
(one answer at a time, 8 AdamW updates after each, uniform replay, the app's augmentation).

    SET=shapes SEED=0 N=300 python -m benchmarks.own_folders.stream_vs_fresh \
        anchor pol64-anchorloop pol64-stream-of pol32-stream-of

Names: ``anchor`` (the anchor's CNN, 32 px); ``pol<side>-anchorloop`` / ``pol<side>-stream``,
with ``-of`` (flips/turns), ``-augA`` (the anchor's augmentation), ``-lr<x>``, ``-per<n>``,
``-wd<x>`` (AdamW weight decay), ``-sp<λ>`` (shrink-perturb when the answers double from 32),
``-spfrom<n>`` (… from n instead), ``-steps<n>`` (the anchor loop's steps), ``-burst<b>`` (at
each renewal at t answers, b·t updates at once, repaid by skipping the next answers' updates: the
same total), ``-full<n>`` (renewals up to n answers are full resets with the burst, later ones λ
without it), ``-grow<x>`` (renew when the answers grew × x, not 2), ``-ema<d>`` (the weights'
moving average, decay d, restarted at each renewal, is the model evaluated), ``-refit<n>`` (a
full reset's burst is n updates, not b·t), ``-recent<f>`` (a share f of each batch from the
newest eighth of the answers), ``-norepay`` (the burst is extra, not repaid), ``-bal`` (the least
replayed answers first), ``-big`` (the large-image design even at ≤ 16 px); ``pol<side>`` takes
any side (``pol8``: the tiny digits design; ``pol16``: digits upsampled to 16 px).
Seed 0, shapes, 300: anchor .78; the policy with the anchor's loop .85 (64 px) / .92 (32 px);
streamed: .83 (2×2-mean stem, now the default) against .41/.37 with the old learned stride-2
stem (docs/benchmarks.md §5c). Eleventh session, streamed at 300 answers, seeds 0/1/3/4: .784 /
.412 / .431 / – without renewal, .797 / .863 / .484 / .810 with ``-sp0.5`` (λ .3: seeds 1/3 .876 /
.863; λ .7: .608 / .438); ADR 0020."""

import copy
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.own_folders import anchors, datasets, protocol
from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.learning.augment import Augmenter
from mmrl_desktop.core.learning.model import encoders
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.optim import AdamW

torch.set_num_threads(1)
SET = os.environ.get("SET", "shapes")
SEED = int(os.environ.get("SEED", "0"))
N = int(os.environ.get("N", "300"))
ds = datasets.SETS[SET]
folder, _ = datasets.ensure(SET)
entries = protocol.folder_items(folder, "image")
stream, test = protocol.stratified_split([e.label for e in entries], 0.3, SEED)
labels = sorted({e.label for e in entries})
y = np.array([labels.index(e.label) for e in entries])
tr = protocol.answered(stream, N)
K = len(labels)


def load(size, grey=False):
    x = anchors.load_images([str(e.path) for e in entries], size)
    if grey:
        x = (x * np.array([0.299, 0.587, 0.114], np.float32)[:, None, None]).sum(1, keepdims=True)
    return torch.from_numpy(x)


def policy(size, ch, big=False, **kw):
    """The app's Policy; ``big``: the large-image design even at a tiny side."""
    cfg = ModelConfig(modalities="image", image_size=size, image_channels=ch, **kw)
    tiny = encoders.TINY
    encoders.TINY = 4 if big else tiny
    try:
        return build_policy(cfg, {"label": K})
    finally:
        encoders.TINY = tiny


def acc(model, x, logits_of):
    model.eval()
    with torch.no_grad():
        p = torch.cat(
            [logits_of(model, x[test][i : i + 256]).argmax(1) for i in range(0, len(test), 256)]
        )
    return float((p.numpy() == y[test]).mean())


def anchor_loop(model, x, logits_of, aug, steps=500, opt=None, std=False):
    g = torch.Generator().manual_seed(SEED * 100003 + N)
    torch.manual_seed(SEED)
    opt = opt or torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, yt = x[tr], torch.from_numpy(y[tr])
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (min(32, len(xt)),), generator=g)
        xb = aug(xt[idx], g)
        if std:
            xb = anchors._standardise(xb)
        loss = F.cross_entropy(logits_of(model, xb), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def shrink_perturb(model, fresh, lam):
    """Ash & Adams (2020): the weights moved toward a new random initialisation,
    θ ← λθ + (1 − λ)θ_fresh (buffers kept)."""
    with torch.no_grad():
        for p, q in zip(model.parameters(), fresh.parameters(), strict=True):
            p.mul_(lam).add_(q, alpha=1 - lam)


def stream_loop(model, x, logits_of, aug, per=8, lr=2e-3, wd=1e-4, clip=5.0, bs=32, sp=None,
                fresh=None, spfrom=32, burst=0, full=0, bal=False, norepay=False, grow=2.0, ema=0.0, refit=0, recent=0.0):  # fmt: skip
    """The app's procedure: one answer at a time, ``per`` updates after each, uniform replay;
    ``sp``: shrink-perturb by λ = sp each time the answers double from 32 (``fresh()``: a new
    model of the same shape)."""
    g = torch.Generator().manual_seed(SEED)
    opt = AdamW(model.parameters(), lr=lr, weight_decay=wd)
    model.train()
    debt = 0
    seen_count = torch.zeros(len(tr))
    last = spfrom / grow  # the last renewal (none yet)
    avg = None  # ``ema``: an exponential moving average of the weights (and BN statistics)
    for t in range(1, N + 1):
        todo = per
        if sp is not None and t >= spfrom and t >= grow * last - 1e-9:
            last = t
            early = t <= full  # a full reset with its burst; later renewals: λ = sp, no burst
            shrink_perturb(model, fresh(), 0.0 if early else sp)
            opt = AdamW(model.parameters(), lr=lr, weight_decay=wd)
            avg = None
            b = burst * t if early or not full else 0
            if early and refit:
                b = refit  # a fixed number of updates for a full reset, whatever t
            todo += b  # borrowed from the next answers' updates (or, norepay, extra)
            debt += 0 if norepay else b
        elif debt:
            paid = min(debt, per)
            todo, debt = per - paid, debt - paid
        seen = tr[:t]
        for _ in range(todo):
            n = len(seen)
            if n <= bs:
                idx = torch.randperm(n, generator=g)
            elif bal:  # the least replayed answers first (ties at random)
                jitter = torch.rand(n, generator=g)
                idx = torch.argsort(seen_count[:n] + jitter)[:bs]
            elif recent:  # part of the batch from the newest eighth of the answers
                k = round(bs * recent)
                w = max(4, -(-n // 8))
                idx = torch.cat([torch.randint(n, (bs - k,), generator=g),
                                 n - w + torch.randint(w, (k,), generator=g)])  # fmt: skip
            else:
                idx = torch.randint(n, (bs,), generator=g)
            seen_count[idx] += 1
            rows = [seen[i] for i in idx.tolist()]
            xb = aug(x[rows], g)
            loss = F.cross_entropy(logits_of(model, xb), torch.from_numpy(y[rows]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            if ema:
                if avg is None:
                    avg, navg = copy.deepcopy(model), 0
                navg += 1
                d = min(ema, (1 + navg) / (10 + navg))
                with torch.no_grad():
                    for a, m in zip(avg.state_dict().values(), model.state_dict().values(),
                                    strict=True):  # fmt: skip
                        if a.dtype.is_floating_point:
                            a.lerp_(m, 1 - d)
                        else:
                            a.copy_(m)
        if t in (30, 60, 150):
            print(f"   at {t}: {acc(model if avg is None else avg, x, logits_of):.3f}", flush=True)
            model.train()
    return model if avg is None else avg


pol_logits = lambda m, xb: m({"image": xb})["label"]  # noqa: E731
seq_logits = lambda m, xb: m(xb)  # noqa: E731
anc_aug = lambda xb, g: anchors.augment_image(xb, g, ds.orientation_free)  # noqa: E731
app_aug_of = lambda of: lambda xb, g: Augmenter(orientation_free=of).image(xb, g)  # noqa: E731


def run(name, fn):
    t0 = time.perf_counter()
    a = fn()
    print(
        f"{SET} s{SEED} N{N} {name:40s} acc {a:.3f}  {time.perf_counter() - t0:5.0f}s", flush=True
    )


# the numeric parts of a name: prefix -> type (stream_loop's / anchor_loop's keyword)
FLAGS = {"lr": float, "full": int, "burst": int, "steps": int, "per": int, "wd": float,
         "spfrom": int, "sp": float, "grow": float, "ema": float, "refit": int, "recent": float}  # fmt: skip
GREY = SET in ("glyphs", "digits")  # the app reads both as one channel
CH = 1 if GREY else 3
x32, x64 = load(32, GREY), load(64, GREY)
sized = {32: x32, 64: x64}
which = sys.argv[1:] or ["anchor", "pol32-anchorloop", "pol64-anchorloop", "pol64-stream"]
torch.manual_seed(SEED)
for w in which:
    torch.manual_seed(SEED)
    if w == "anchor":
        run(
            w,
            lambda: acc(
                anchor_loop(anchors.small_cnn(CH, K), x32, seq_logits, anc_aug, std=True),
                anchors._standardise(x32),
                seq_logits,
            ),
        )
    elif w.startswith("pol"):
        parts = w.split("-")
        s = int(parts[0][3:])
        if s not in sized:
            sized[s] = load(s, GREY)
        xs = sized[s]
        of = "of" in parts
        big = "big" in parts
        aug = anc_aug if "augA" in parts else app_aug_of(of)
        kw = {}
        for p in parts[1:]:
            name = next((f for f in FLAGS if p.startswith(f) and p[len(f) :][:1].isdigit()), None)
            if name is not None:
                kw[name] = FLAGS[name](p[len(name) :])
        for flag in ("bal", "norepay"):
            if flag in parts:
                kw[flag] = True
        if "sp" in kw:
            kw["fresh"] = lambda: policy(s, CH, big)
        if "anchorloop" in parts:
            run(
                w,
                lambda: acc(
                    anchor_loop(policy(s, CH, big), xs, pol_logits, aug, **kw), xs, pol_logits
                ),
            )
        else:
            run(
                w,
                lambda: acc(
                    stream_loop(policy(s, CH, big), xs, pol_logits, aug, **kw), xs, pol_logits
                ),
            )
    elif w.startswith("anc") and "stream" in w:
        run(
            w,
            lambda: acc(
                stream_loop(
                    anchors.small_cnn(CH, K),
                    x32,
                    seq_logits,
                    lambda xb, g: anchors._standardise(anc_aug(xb, g)),
                ),
                anchors._standardise(x32),
                seq_logits,
            ),
        )
