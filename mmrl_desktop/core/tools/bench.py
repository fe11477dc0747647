"""Learning-from-thumbs benchmark (CONTRACT.md ``bench``), on the app's own machinery.

The data is imported into a temporary project; a ``SimulatedExpert`` answers through a
``FeedbackStore`` connection, exactly as the GUI writes answers; the same ``Trainer`` (same model
for that data, same algorithm, same replay) learns between answers, running ``updates_per_event``
updates after each one. At each point of ``feedback`` the greedy policy is scored on the held-out
split: accuracy, macro-F1, and the thumbs-up rate of the answers so far.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmrl_desktop.core.data.items import Item, modality_of_suffix
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.trainer import Trainer, choose_device
from mmrl_desktop.core.learning.trainer_eval import macro_f1
from mmrl_desktop.core.tools.simulate import SimulatedExpert


def write_digits(folder: Path) -> Path:
    """scikit-learn's bundled digits as 8×8 grey PNG files in ``folder/<digit>/``."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (img, y) in enumerate(zip(digits.images, digits.target, strict=True)):
        d = folder / str(int(y))
        d.mkdir(parents=True, exist_ok=True)
        pix = np.clip(img * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
        Image.fromarray(pix, mode="L").save(d / f"digit_{i:04d}.png")
    return folder


def discover_items(source: Path) -> list[Item]:
    """Labelled items of a SOURCE (folder of classes, or items.csv / items.jsonl): a minimal
    adapter for when ``mmrl_desktop.core.data.importer`` is not installed (see ``_import``)."""
    if source.is_file():
        return _manifest_items(source)
    if not source.is_dir():
        raise UserError(f"{source} is neither a folder nor a manifest file.")
    for name in ("items.csv", "items.jsonl"):
        if (source / name).is_file():
            return _manifest_items(source / name)
    items: list[Item] = []
    for cls in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        groups: dict[str, dict[str, str]] = {}
        for f in sorted(cls.iterdir()):
            mod = modality_of_suffix(f.suffix)
            if f.name.startswith(".") or not f.is_file() or mod is None:
                continue
            groups.setdefault(f.stem, {})[mod.value] = str(f.resolve())
        for stem, files in groups.items():
            items.append(Item(f"{cls.name}/{stem}", labels={DEFAULT_TASK: cls.name}, **files))
    return items


def _manifest_items(path: Path) -> list[Item]:
    root = path.parent.resolve()
    if path.suffix == ".jsonl":
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    else:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    items, seen = [], set()
    for r in rows:
        iid, label = str(r.get("id") or ""), str(r.get("label") or "")
        if not iid or not label or iid in seen:
            continue
        seen.add(iid)
        files: dict[str, str | None] = {}
        for key in ("image", "audio"):
            if r.get(key):
                p = (root / r[key]).resolve()
                if p.is_relative_to(root) and p.is_file():
                    files[key] = str(p)
        text = r.get("text") or None
        inline = None
        if text and text.endswith(".txt") and (root / text).resolve().is_file():
            files["text"] = str((root / text).resolve())
        elif text:
            inline = text
        if files or inline:
            items.append(Item(iid, text_inline=inline, labels={DEFAULT_TASK: label}, **files))
    return items


def _import(source: Path, project: Project) -> Project:
    """Import SOURCE into ``project`` with the app's importer (the same code path as
    ``mmrl-desktop import``), or the minimal adapter above when the importer is absent."""
    try:
        from mmrl_desktop.core.data.importer import import_source
    except ImportError:
        import_source = None
    if import_source is not None:
        import_source(source, project, task=DEFAULT_TASK)
        return Project.open(project.root)
    if not source.exists():
        raise UserError(f"{source} does not exist.")
    items = discover_items(source)
    project.set_tasks_from_labels(sorted({it.labels[DEFAULT_TASK] for it in items}))
    project.save()
    with project.open_store() as store:
        store.add_items(items)
    return project


def stratified_split(labels: list[str], holdout: float, seed: int) -> tuple[list[int], list[int]]:
    """(stream indices, test indices): one stratified split by ``seed`` (scikit-learn's)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    counts = {lab: labels.count(lab) for lab in set(labels)}
    strat = labels if min(counts.values()) >= 2 else None
    stream, test = train_test_split(idx, test_size=holdout, random_state=seed, stratify=strat)
    return [int(i) for i in stream], sorted(int(i) for i in test)


def run_bench(
    data: str,
    algorithm: str = "default",
    feedback: list[int] | tuple[int, ...] = (100, 300, 1000),
    corrections: float = 0.0,
    noise: float = 0.0,
    holdout: float = 0.3,
    seed: int = 0,
    device: str = "auto",
    algorithm_settings: dict | None = None,
    model_settings: dict | None = None,
    progress: Callable[[dict], None] | None = None,
) -> dict:
    """Run the benchmark; returns the contract's JSON object."""
    t_start = time.perf_counter()
    points = sorted(set(int(p) for p in feedback))
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-bench-"))
    try:
        source = write_digits(tmp / "digits") if data == "digits" else Path(data).expanduser()
        dev = choose_device(device)
        settings = {"algorithm": algorithm, "seed": seed, "device": str(dev.type)}
        settings.update(algorithm_settings or {})
        project = Project.create(
            tmp / "project", name="bench", algorithm=settings, model=dict(model_settings or {})
        )
        project = _import(source, project)
        writer = project.open_store()  # the expert's connection, as the GUI's
        items = [it for it in writer.items() if it.labels.get(DEFAULT_TASK)]
        classes = sorted({it.labels[DEFAULT_TASK] for it in items})
        if len(items) < 4 or len(classes) < 2:
            raise UserError(f"{data}: the bench needs labelled items of at least two classes.")
        stream_idx, test_idx = stratified_split(
            [it.labels[DEFAULT_TASK] for it in items], holdout, seed
        )
        test_ids = {items[i].item_id for i in test_idx}
        writer.set_split(sorted(test_ids), "holdout")
        writer.set_split(sorted(it.item_id for it in items if it.item_id not in test_ids), "pool")
        split = [
            dataclasses.replace(it, split="holdout" if it.item_id in test_ids else "pool")
            for it in items
        ]
        trainer = Trainer(project, queue_size=0, checkpoints=False, resume=False)
        info = trainer.info()
        stream = [split[i] for i in stream_idx]
        test = [split[i] for i in test_idx]
        label_ids = {lab: i for i, lab in enumerate(trainer.labels[DEFAULT_TASK])}
        y_test = np.array([label_ids[it.labels[DEFAULT_TASK]] for it in test])
        expert = SimulatedExpert(corrections, noise, seed, always_correct=algorithm == "supervised")
        curve, ups = [], 0
        for t in range(1, points[-1] + 1):
            item = stream[(t - 1) % len(stream)]
            pred = trainer.predict_items([item.item_id])[item.item_id][DEFAULT_TASK]
            ans = expert.answer(pred.shown_label, item.labels[DEFAULT_TASK])
            ups += ans.reward > 0
            writer.record_feedback(
                item.item_id,
                DEFAULT_TASK,
                pred.shown_label,
                pred.propensity,
                ans.reward,
                ans.corrected,
                annotator="bench",
                model_version=pred.model_version,
            )
            trainer.train_pending()
            if t in points:
                y_pred = trainer.greedy_labels(test)[DEFAULT_TASK]
                row = {
                    "feedback": t,
                    "accuracy": round(float((y_pred == y_test).mean()), 4),
                    "macro_f1": round(macro_f1(y_test, y_pred, len(label_ids)), 4),
                    "thumbs_up_rate": round(ups / t, 4),
                }
                curve.append(row)
                if progress is not None:
                    progress(row)
        trainer.close(checkpoint=False)
        writer.close()
        return {
            "data": data,
            "algorithm": algorithm,
            "seed": seed,
            "device": info["device"],
            "classes": len(classes),
            "stream_items": len(stream),
            "test_items": len(test),
            "corrections": corrections,
            "noise": noise,
            "curve": curve,
            "seconds": round(time.perf_counter() - t_start, 2),
            "updates_per_event": trainer.config.updates_per_event,
            "modalities": info["modalities"],
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
