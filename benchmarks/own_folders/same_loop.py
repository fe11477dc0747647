"""Issue 17, goal 1 (an experiment, not a test): is a gap between the app's `supervised` and the
anchor its network or its training? Trains the anchor's network and the app's ``Policy`` with the
anchor's loop (``anchors.train_cnn``: Adam 2e-3, batch 32, the anchor's augmentation, a fixed
step budget) on the distinct items of the first N asks of a seed's stream, and scores both on
the held-out items, ``--repeats`` times each (the loop's own randomness is several hundredths
at 30 answers).

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.same_loop words 26 30 anchor,app,app@1.0

Variants: ``anchor`` (the anchor's CNN on its own inputs and augmentation), ``app`` (the app's
network on the inputs as the app reads them: images at the app's side with the anchor's
augmentation, sounds in the app's window with the app's augmentation of waves), and for sounds
``app@S``, the app's network on an S-second window; ``app+own``, the app's network with the app's
own augmentation (``Augmenter.from_config``) instead of the anchor's; ``app:FIELD=V[;FIELD=V]``,
the app's network with those ``ModelConfig`` fields set (e.g. ``app:embed_dim=64``).
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from benchmarks.own_folders import anchors, datasets, protocol
from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.config_fields import build
from mmrl_desktop.core.data.project import DEFAULT_TASK
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.model.featurize import Featurizer, resolve_model_config


class _AppNet(torch.nn.Module):
    """The app's policy for one modality, as the anchor's loop calls a network: x → logits."""

    def __init__(self, config: ModelConfig, classes: int, key: str):
        super().__init__()
        from mmrl_desktop.core.learning.model.policy import build_policy

        self.policy, self.key = build_policy(config, {DEFAULT_TASK: classes}), key

    def forward(self, x):
        return self.policy({self.key: x})[DEFAULT_TASK]


def model_overrides(variant: str) -> dict:
    """``app:embed_dim=64;dropout=0.1`` → {"embed_dim": 64, "dropout": 0.1}: each value read as
    JSON (a bare word as a string) and checked as project.toml's ``[model]`` is
    (``config_fields.build``); {} for any other variant."""
    if not variant.startswith("app:"):
        return {}
    raw = {}
    for pair in variant[4:].split(";"):
        key, _, value = pair.partition("=")
        try:
            raw[key] = json.loads(value)
        except json.JSONDecodeError:
            raw[key] = value
    try:
        built = build(ModelConfig, raw)
    except UserError as e:
        raise SystemExit(str(e)) from None
    return {k: getattr(built, k) for k in raw}


def _app_inputs(
    entries, modality: str, seconds: float | None, over: dict | None = None
) -> tuple[np.ndarray, ModelConfig]:
    """Every item's input as the app's featurizer reads it, and the resolved model config
    (with the ``over`` fields set)."""
    from mmrl_desktop.core.data.items import Item

    items = [Item(e.item_id, **{modality: str(e.path)}) for e in entries]
    asked = ModelConfig(modalities=modality, audio_seconds=seconds or 0.0, **(over or {}))
    config = resolve_model_config(asked, items)
    batch = Featurizer(config).batch(items)
    return batch[modality].float().numpy(), config


def split_for(name: str, seed: int, n: int):
    """The set's data set, its entries and labels, every entry's label index, and the indices of
    the distinct items of the first ``n`` asks of ``seed``'s stream and of the held-out items."""
    ds = datasets.SETS[name]
    folder, _ = datasets.ensure(name)
    entries = protocol.folder_items(folder, ds.modality)
    labels = sorted({e.label for e in entries}, key=str)
    y = np.array([labels.index(e.label) for e in entries])
    stream, test = protocol.stratified_split([e.label for e in entries], 0.3, seed)
    return ds, entries, labels, y, protocol.answered(stream, n), test


def scored(key: dict, repeats: int, y_test: np.ndarray, fit) -> dict:
    """``key`` (set, seed, answers, variant) with the held-out accuracy of ``fit(rep)``'s
    predicted labels for each of ``repeats`` repeats and their mean; printed as it ends."""
    accs = [round(float((fit(rep) == y_test).mean()), 3) for rep in range(repeats)]
    row = {**key, "acc": accs, "mean": round(float(np.mean(accs)), 3)}
    print(row, flush=True)
    return row


def run(name: str, seed: int, n: int, variants: list[str], repeats: int, steps: int) -> list[dict]:
    ds, entries, labels, y, train, test = split_for(name, seed, n)
    loader, _ = anchors.anchors_for(ds.modality, ds.orientation_free, ds.cnn_size)[
        "cnn" if ds.modality == "image" else "cnn-logmel"
    ]
    if ds.modality == "image":
        augment = lambda x, g: anchors.augment_image(x, g, ds.orientation_free)  # noqa: E731
    else:  # waves: the app's own augmentation of sounds (the anchor's works on log-mel maps)
        from mmrl_desktop.core.learning.augment import Augmenter

        augment = lambda x, g: Augmenter()({"audio": x}, g)["audio"]  # noqa: E731
    out = []
    for variant in variants:
        if variant == "anchor":
            x, make, aug = (
                loader([str(e.path) for e in entries]),
                None,
                (augment if ds.modality == "image" else anchors.augment_spec),
            )
        else:
            seconds = float(variant.split("@")[1]) if "@" in variant else None
            x, config = _app_inputs(entries, ds.modality, seconds, model_overrides(variant))
            make = lambda c, k, widths=None, config=config: _AppNet(config, k, ds.modality)  # noqa: E731
            aug = augment
            if variant.startswith("app+own"):  # the app's own augmentation of images too
                from mmrl_desktop.core.config import TrainConfig
                from mmrl_desktop.core.learning.augment import Augmenter

                own = Augmenter.from_config(TrainConfig(orientation_free=ds.orientation_free))
                aug = lambda x, g, own=own: own({ds.modality: x}, g)[ds.modality]  # noqa: E731

        def fit(rep, x=x, make=make, aug=aug):
            original = anchors.small_cnn
            if make is not None:
                anchors.small_cnn = make
            try:
                return anchors.train_cnn(
                    x[train], y[train], x[test], len(labels), aug, seed * 100003 + n + rep, steps
                )
            finally:
                anchors.small_cnn = original

        key = {"set": name, "seed": seed, "answers": n, "variant": variant}
        out.append(scored(key, repeats, y[test], fit))
    return out


def parser(doc: str) -> argparse.ArgumentParser:
    """The arguments this script and ``loop_parts`` share: a set, a seed, the answers, the
    variants (comma-separated) and ``--repeats``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("set")
    ap.add_argument("seed", type=int)
    ap.add_argument("answers", type=int)
    ap.add_argument("variants")
    ap.add_argument("--repeats", type=int, default=3)
    return ap


def main(argv: list[str] | None = None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--steps", type=int, default=anchors.CNN_STEPS)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    run(a.set, a.seed, a.answers, a.variants.split(","), a.repeats, a.steps)


if __name__ == "__main__":
    main()
