"""Tiny generated data sets for the learning-engine tests (PNG, WAV, TXT, multimodal manifest)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project, Task

TINY_MODEL = {
    "embed_dim": 16,
    "image_size": 8,
    "n_mels": 16,
    "audio_seconds": 0.25,
    "audio_sample_rate": 8000,
    "text_buckets": 256,
}


def make_pngs(root: Path, per_class: int = 6) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, name in enumerate(["dark", "light"]):
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pix = np.clip(rng.normal(60 + 120 * c, 20, (10, 12)), 0, 255).astype(np.uint8)
            Image.fromarray(pix, mode="L").save(d / f"img{i}.png")
    return root


def make_wavs(root: Path, per_class: int = 6) -> Path:
    import soundfile as sf

    sr = 8000
    t = np.arange(int(sr * 0.2)) / sr
    for name, f in [("low", 220.0), ("high", 1760.0)]:
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            sf.write(
                d / f"snd{i}.wav",
                (0.3 * np.sin(2 * np.pi * f * t * (1 + 0.01 * i))).astype(np.float32),
                sr,
            )
    return root


def make_texts(root: Path, per_class: int = 6) -> Path:
    words = {"pos": "great lovely excellent fine", "neg": "awful broken terrible bad"}
    for name, vocab in words.items():
        d = root / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            (d / f"t{i}.txt").write_text(f"{vocab} number {i}", encoding="utf-8")
    return root


def make_manifest(root: Path, per_class: int = 6) -> Path:
    """Multimodal manifest: image + audio + inline text, some modalities missing."""
    root.mkdir(parents=True, exist_ok=True)
    make_pngs(root / "img", per_class)
    make_wavs(root / "snd", per_class)
    rows = []
    for c, (lab, img, snd) in enumerate([("a", "dark", "low"), ("b", "light", "high")]):
        for i in range(per_class):
            rows.append(
                {
                    "id": f"{lab}{i}",
                    "image": f"img/{img}/img{i}.png" if i % 3 != 1 else "",
                    "audio": f"snd/{snd}/snd{i}.wav" if i % 3 != 2 else "",
                    "text": "calm quiet" if c == 0 else "loud bright",
                    "label": lab,
                }
            )
    with (root / "items.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["id", "image", "audio", "text", "label"])
        w.writeheader()
        w.writerows(rows)
    return root / "items.csv"


def digits_project(root: Path, n: int = 60, algorithm: dict | None = None) -> Project:
    """A project of ``n`` sklearn digits written as PNGs, with a few held-out items."""
    from mmrl_desktop.core.tools.bench import write_digits

    src = write_digits(root / "src")
    items = []
    for d in sorted(src.iterdir()):
        for f in sorted(d.iterdir())[: max(1, n // 10)]:
            items.append(Item(f"{d.name}/{f.stem}", image=str(f), labels={DEFAULT_TASK: d.name}))
    algo = {"batch_size": 8, "updates_per_event": 2, "eval_every": 0, **(algorithm or {})}
    TrainConfig.from_dict(algo)
    project = Project.create(
        root / "project",
        tasks=[Task(DEFAULT_TASK, [str(i) for i in range(10)])],
        algorithm=algo,
        model={"embed_dim": 16},
    )
    with project.open_store() as store:
        store.add_items(items)
        store.set_split([it.item_id for it in items[::7]], "holdout")
    return project


def text_export_project(root: Path, answers: int = 3) -> Project:
    """A task ``t`` (a, b), four text items, ``answers`` answers, a training metric and a fresh
    tiny model: every export format has something to write."""
    project = Project.create(root, tasks=[Task("t", ["a", "b"])], model=TINY_MODEL)
    with project.open_store() as store:
        store.add_items([Item(f"i{i}", text_inline=f"word {i}") for i in range(4)])
        for i in range(answers):
            store.record_feedback(f"i{i}", "t", "a", 0.5, 1, annotator="dr")
        store.add_metrics("run1", 1, {"loss/total": 0.5})
    return project


def answer(project: Project, n: int, seed: int = 0) -> list[int]:
    """Record ``n`` simulated answers (random shown labels) on pool items; returns event ids."""
    rng = np.random.default_rng(seed)
    ids = []
    with project.open_store() as store:
        pool = store.items(split="pool")
        labels = project.tasks[0].labels
        for k in range(n):
            it = pool[k % len(pool)]
            shown = labels[int(rng.integers(len(labels)))]
            truth = it.labels[DEFAULT_TASK]
            ids.append(
                store.record_feedback(
                    it.item_id,
                    DEFAULT_TASK,
                    shown,
                    0.1,
                    1 if shown == truth else -1,
                    corrected_label=truth if k % 4 == 0 else None,
                )
            )
    return ids
