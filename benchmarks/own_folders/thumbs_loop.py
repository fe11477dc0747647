"""Issue 17, goal 2 (an experiment, not a test): how far does a plain thumbs-only learner written
in the benchmark, outside the app, get on an own-folder set? The anchor's network and loop
(``anchors.train_cnn``'s: Adam 2e-3, batch 32, the anchor's augmentation, 500 steps, trained
afresh) on the answers as candidate sets: a 👍 on label a leaves {a}, a 👎 removes a, and the
loss of an item is −log Σ p(y) over the labels it still may have (the partial-label likelihood).
It acts on its network: the label shown for an item is drawn from the network's softmax over that
item's remaining labels (``sample``) or is its most probable remaining label (``greedy``);
before the first refit it draws uniformly. The network is refit afresh at ``REFITS`` answers
and at every point; between refits it is fixed. The simulated expert answers the app bench's
stream in order (``protocol``), so the held-out items and the asks are the app's.

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.thumbs_loop glyphs 44 sample,greedy \
        --points 30,60,150,300 --out benchmarks/results/thumbs_loop_41.jsonl

``--report LOOP.jsonl --app THUMBS.jsonl,SUPERVISED.jsonl --anchors ANCHORS.json`` prints the
mean per set of each variant beside the app's runs (``setting_runs``' rows, without settings)
and the CNN anchor (``run``'s file) of the same seeds, and each learner's thumbs ÷ full labels.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.own_folders import anchors, protocol
from benchmarks.own_folders.same_loop import split_for

REFITS = (10, 20, 30, 45, 60, 90, 120, 150, 200, 250, 300)


def partial_label_loss(logits, allowed):
    """−log Σ p(y) over each item's allowed labels (``allowed``: bool [batch, K])."""
    kept = logits.masked_fill(~allowed, float("-inf"))
    return (torch.logsumexp(logits, 1) - torch.logsumexp(kept, 1)).mean()


def fit_partial(x, mask, x_all, augment, seed: int, steps: int = anchors.CNN_STEPS):
    """The anchor's CNN trained afresh on items ``x`` whose allowed labels are ``mask`` [n, K]
    (bool); softmax probabilities of ``x_all``."""
    return anchors.cnn_probs(
        x, mask, x_all, mask.shape[1], augment, seed, steps, loss=partial_label_loss
    )


def run(name: str, seed: int, variant: str, points: list[int]) -> dict:
    ds, entries, labels, y, _, test = split_for(name, seed, max(points))
    stream, _ = protocol.stratified_split([e.label for e in entries], 0.3, seed)
    loader, _ = anchors.anchors_for(ds.modality, ds.orientation_free, ds.cnn_size)[
        "cnn" if ds.modality == "image" else "cnn-logmel"
    ]
    x = loader([str(e.path) for e in entries])
    if ds.modality == "image":
        augment = lambda xb, g: anchors.augment_image(xb, g, ds.orientation_free)  # noqa: E731
    else:
        augment = anchors.augment_spec
    k = len(labels)
    mask = np.ones((len(entries), k), dtype=bool)
    asked = np.zeros(len(entries), dtype=bool)
    probs = None  # the last refit's probabilities of every item
    rng = np.random.default_rng(seed * 7919 + 1)
    accs, ups, up = [], [], 0
    t0 = time.time()
    for t in range(1, max(points) + 1):
        i = stream[(t - 1) % len(stream)]
        allowed = mask[i].astype(float)
        p = allowed / allowed.sum() if probs is None else probs[i].numpy() * allowed
        if variant == "greedy" and probs is not None:
            shown = int(np.argmax(p))
        else:
            shown = int(rng.choice(k, p=p / p.sum()))
        asked[i] = True
        if shown == y[i]:
            mask[i] = False
            mask[i, shown] = True
            up += 1
        else:
            mask[i, shown] = False
        if t in REFITS or t in points:
            rows = np.flatnonzero(asked)
            probs = fit_partial(x[rows], mask[rows], x, augment, seed * 100003 + t)
        if t in points:
            accs.append(round(float((probs[test].argmax(1).numpy() == y[test]).mean()), 4))
            ups.append(round(up / t, 4))
    row = {"set": name, "seed": seed, "variant": variant, "points": points, "acc": accs,
           "ups": ups, "s": round(time.time() - t0)}  # fmt: skip
    print(json.dumps(row), flush=True)
    return row


def _means(rows, key) -> dict:
    """{(set, key(row)): the mean curve over the rows' seeds, and the seeds}."""
    groups: dict = {}
    for r in rows:
        groups.setdefault((r["set"], key(r)), []).append(r)
    return {k: (np.mean([r["acc"] for r in v], 0), sorted(r["seed"] for r in v))
            for k, v in groups.items()}  # fmt: skip


def report(loop: str, app: str, anchors_file: str) -> str:
    """The Markdown table of ``--report``: three-seed means, 30 / 60 / … answers."""
    rows = []
    for name in [loop, *app.split(",")]:
        with open(name) as f:
            rows += [json.loads(line) for line in f]
    rows = [r for r in rows if not r.get("settings")]
    curves = _means(rows, lambda r: r.get("variant") or r["algorithm"])
    with open(anchors_file) as f:
        runs = json.load(f)["runs"]
    cnn = [{"set": r["set"], "seed": r["seed"], "acc": [c["accuracy"] for c in r["curve"]]}
           for r in runs if r["learner"] in ("cnn", "cnn-logmel")]  # fmt: skip
    curves.update(_means(cnn, lambda r: "anchor"))
    fmt = lambda c: " / ".join(f"{v:.3f}".lstrip("0") for v in c)  # noqa: E731
    out = [
        "| set | learner | seeds | held-out accuracy | thumbs ÷ full labels |",
        "|---|---|---|---|---|",
    ]
    for (name, who), (c, seeds) in sorted(curves.items()):
        full = curves.get((name, "anchor" if who in ("sample", "greedy") else "supervised"))
        ratio = fmt(c / full[0]) if full is not None and who not in ("anchor", "supervised") else ""
        out.append(f"| {name} | {who} | {','.join(map(str, seeds))} | {fmt(c)} | {ratio} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("set", nargs="?")
    ap.add_argument("seed", type=int, nargs="?")
    ap.add_argument("variants", nargs="?")
    ap.add_argument("--points", default="30,60,150,300")
    ap.add_argument("--out")
    ap.add_argument("--report")
    ap.add_argument("--app")
    ap.add_argument("--anchors")
    a = ap.parse_args(argv)
    if a.report:
        print(report(a.report, a.app, a.anchors))
        return
    torch.set_num_threads(1)
    for variant in a.variants.split(","):
        row = run(a.set, a.seed, variant, [int(p) for p in a.points.split(",")])
        if a.out:
            with open(a.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
