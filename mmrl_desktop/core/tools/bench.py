"""Learning-from-thumbs benchmark (CONTRACT.md ``bench``), on the app's own machinery.

The data is imported into a temporary project; a ``SimulatedExpert`` answers through a
``FeedbackStore`` connection, exactly as the GUI writes answers; the same ``Trainer`` (same model
for that data, same algorithm, same replay) learns between answers, running ``updates_per_event``
updates after each one. At each point of ``feedback`` the greedy policy is scored on the held-out
split: accuracy, macro-F1, and the thumbs-up rate of the answers so far.

``order`` (issue 19, ADR 0013): which item the expert answers next. ``shuffle`` is the stream in
its random order; the others let the learner pick from the unanswered stream items on fresh
predictions every ``PICK_EVERY`` answers (``Asker``), after the first ``warm_up`` answers in
the stream's order (10 per class by default). The held-out split stays the random one
either way, and the JSON names the order: the thumbs-up rate of an actively ordered run is the
rate on the items it chose (hard ones, for ``uncertain``), not on a random sample.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmrl_desktop.core.data.items import Item, modality_of_suffix
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.device import choose_device
from mmrl_desktop.core.learning.next_item import (
    GATED,
    Readiness,
    check_order,
    choose,
    handed_back,
    pool_candidates,
    uncertainty,
    warm_up_answers,
)
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.metrics import confusion_matrix, macro_f1
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


POSITIVE_FRACTIONS = (0.1, 0.25, 0.5)  # positives_found after these fractions of the stream
PICK_EVERY = 10  # an active order picks this many items on each fresh prediction of the pool
AGAIN_AFTER = 3  # ask_again: a 👎'd item comes back after this many other answers
AGAIN_MAX = 3  # and is asked at most this many times in all


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
    order: str = "shuffle",
    positive: str | None = None,
    random_fraction: float = 0.1,
    warm_up: int | None = None,
    encoders: dict[str, str] | None = None,
    embed_progress: Callable[[int, int, str], None] | None = None,
    ask_again: float = 0.0,
) -> dict:
    """Run the benchmark; returns the contract's JSON object. ``order``: which item the expert
    answers next (``core/learning/next_item.py``); ``positive``: report the fraction of that
    label's items found after 10/25/50 % of the stream (the run goes on to 50 %).
    ``encoders``: modality → a pretrained model folder (issue 14): every item is embedded once
    (``embed_progress(done, total, modality)``), then the same protocol runs on the embeddings.
    ``ask_again`` (an experiment, 0 = off; docs/benchmarks.md §6p): a 👎'd item comes back after
    ``AGAIN_AFTER`` other answers if the belief its label is drawn from then gives some label at
    least this probability (up to ``AGAIN_MAX`` asks), as Prodigy's binary loop may show one
    text again with another label."""
    from mmrl_desktop.core.learning.pretrained.settings import check_encoders, embed_for_bench

    check_order(order, positive)
    infos = check_encoders(".", encoders)  # a refused folder: one sentence, nothing run
    t_start = time.perf_counter()
    points = sorted(set(int(p) for p in feedback))
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-bench-"))
    try:
        settings = {"algorithm": algorithm, "seed": seed, "device": choose_device(device).type}
        project = _project(tmp, data, settings | dict(algorithm_settings or {}), model_settings)
        pretrained = embed_for_bench(project, infos, settings["device"], embed_progress)
        writer = project.open_store()  # the expert's connection, as the GUI's
        stream, test, classes = _split(writer, data, holdout, seed)
        trainer = Trainer(project, queue_size=0, checkpoints=False, resume=False)
        info = trainer.info()
        check_order(order, positive, trainer.labels[DEFAULT_TASK])
        wu = warm_up_answers(len(classes)) if warm_up is None else warm_up
        asker = Asker(order, stream, trainer, seed, random_fraction, positive, algorithm, wu)
        asker.ask_again = ask_again
        expert = SimulatedExpert(corrections, noise, seed, always_correct=algorithm == "supervised")
        curve, found = _answer(trainer, writer, expert, asker, test, points, progress)
        trainer.close(checkpoint=False)
        writer.close()
        out = {
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
            "modalities_used": trainer.info()["modalities_used"],
            **asker.describe(),  # order, random_fraction, pick_every, warm_up
            **pretrained,  # with --encoder: encoders, embedding
        }
        if positive:
            out.update(positive=positive, positives_found=found)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _project(tmp: Path, data: str, settings: dict, model_settings: dict | None) -> Project:
    """A temporary project with SOURCE (or the digits) imported."""
    source = write_digits(tmp / "digits") if data == "digits" else Path(data).expanduser()
    project = Project.create(
        tmp / "project", name="bench", algorithm=settings, model=dict(model_settings or {})
    )
    return _import(source, project)


def _split(writer, data: str, holdout: float, seed: int) -> tuple[list[Item], list[Item], list]:
    """The feedback stream (in the split's random order) and the random held-out items."""
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
    return [split[i] for i in stream_idx], [split[i] for i in test_idx], classes


class Asker:
    """Which stream item the simulated expert answers next. ``shuffle``: the stream in its order
    (cycling), as the bench always did. The others: after ``warm_up`` answers in the stream's
    order, every ``PICK_EVERY`` answers the trainer's
    current model predicts the unanswered items afresh and ``next_item.choose`` picks the next
    ``PICK_EVERY`` of them; when every item has an answer a new round starts (the stream cycles).
    ``uncertain``/``diverse`` also wait for ``next_item.Readiness``: their scores of the items
    asked in the stream's order must have predicted the thumbs first (``ready_at`` in the JSON)."""

    def __init__(self, order, stream, trainer, seed, random_fraction, positive, algorithm, warm_up):
        self.order, self.stream, self.trainer = order, list(stream), trainer
        self.rng = np.random.default_rng([seed, 19])  # its own stream: the expert's is unchanged
        self.random_fraction, self.positive = random_fraction, positive
        self.measure = "margin" if algorithm == "supervised" else "thumb"
        self.unanswered: list[Item] = list(stream)
        self.queue: list[Item] = []
        self.asked = 0
        self.warm_up = warm_up  # the first answers in the stream's order (warm_up_answers)
        self.readiness = Readiness()  # uncertain/diverse: once their uncertainty means something
        self.ready_at: int | None = None  # the answers before the learner's first own pick
        self.handed_back_at: int | None = None  # the answers when it handed back (handed_back)
        self.ask_again = 0.0  # > 0: a 👎'd item comes back when its belief's top is this sure
        self.again: list[tuple[int, Item]] = []  # (due after this many answers, item)
        self.asks: dict[str, int] = {}
        self.again_asked = 0
        self.taken = 0  # the stream's items taken (shuffle)
        self.gen = None

    def describe(self) -> dict:
        """The order's keys of the bench JSON."""
        active = self.order != "shuffle"
        return {
            "order": self.order,
            "random_fraction": self.random_fraction if active else 0.0,
            "pick_every": PICK_EVERY if active else 1,
            "warm_up": self.warm_up if active else 0,
            "ready_at": self.ready_at,  # None: it never chose (shuffle, or never ready)
            "handed_back_at": self.handed_back_at,  # None: it did not hand back to the stream
            "ask_again": self.ask_again,
            "asked_again": self.again_asked,
        }

    def next(self) -> Item:
        self.asked += 1
        item = self._again()
        if item is not None:
            return item
        if self.order == "shuffle":
            self.taken += 1
            return self.stream[(self.taken - 1) % len(self.stream)]
        if not self.unanswered:
            self.unanswered = list(self.stream)
        if not self.queue:
            self.queue = self._pick()
        item = self.queue.pop(0)
        self.unanswered.remove(item)
        return item

    def _pick(self) -> list[Item]:
        cands = pool_candidates(
            self.trainer, self.unanswered, DEFAULT_TASK, embedding=self.order == "diverse"
        )
        picks = choose(
            self.order if self._chooses(cands) else "shuffle",
            cands,
            PICK_EVERY,
            self.rng,
            self.random_fraction,
            self.positive,
            self.measure,
        )
        by_id = {it.item_id: it for it in self.unanswered}
        return [by_id[p.item_id] for p in picks]

    def answered(self, item: Item, up: bool) -> None:
        """The simulated expert's thumb on the item just asked (``Readiness``'s evidence)."""
        self.readiness.answered(item.item_id, up, self.asked)
        self.asks[item.item_id] = self.asks.get(item.item_id, 0) + 1
        if self.ask_again > 0 and not up and self.asks[item.item_id] < AGAIN_MAX:
            self.again.append((self.asked + AGAIN_AFTER, item))

    def _again(self) -> Item | None:
        """A 👎'd item due again whose belief (after the answers since) is sure enough."""
        import torch

        while self.again and self.again[0][0] < self.asked:
            _, item = self.again.pop(0)
            if self.gen is None:
                self.gen = torch.Generator().manual_seed(int(self.rng.integers(2**31)))
            belief = self.trainer.acting_beliefs([item.item_id], self.gen)[DEFAULT_TASK][0]
            if belief.max() >= self.ask_again:
                self.again_asked += 1
                return item
        return None

    def _chooses(self, cands) -> bool:
        """Past the warm-up and, for uncertain/diverse, ready (after noting the fresh scores) and
        not yet handed back."""
        if self.handed_back_at is not None:
            return False
        if handed_back(self.order, self.asked - 1, len(self.stream)):
            self.handed_back_at = self.asked - 1
            return False
        if self.order in GATED:
            self.readiness.scored(cands.ids, uncertainty(cands.probs, self.measure))
            self.readiness.check(self.asked - 1, cands.probs.shape[1])
        active = self.asked > self.warm_up and (self.order not in GATED or self.readiness.ready)
        if active and self.ready_at is None:
            self.ready_at = self.asked - 1
        return active


def _answer(trainer, writer, expert, asker: Asker, test, points, progress):
    """The expert answers the items the asker picks, the trainer learns after each answer; the
    held-out figures at each point of ``points``; and, with a positive label, the positives
    found after each fraction of ``POSITIVE_FRACTIONS`` of the stream."""
    label_ids = {lab: i for i, lab in enumerate(trainer.labels[DEFAULT_TASK])}
    y_test = np.array([label_ids[it.labels[DEFAULT_TASK]] for it in test])
    stream = asker.stream
    marks = {max(1, math.ceil(f * len(stream))): f for f in POSITIVE_FRACTIONS}
    positives = {it.item_id for it in stream if it.labels[DEFAULT_TASK] == asker.positive}
    last = max(points[-1], max(marks) if asker.positive else 0)
    curve, found, seen, ups = [], [], set(), 0
    for t in range(1, last + 1):
        item = asker.next()
        seen.add(item.item_id)
        pred = trainer.predict_items([item.item_id])[item.item_id][DEFAULT_TASK]
        ans = expert.answer(pred.shown_label, item.labels[DEFAULT_TASK])
        ups += ans.reward > 0
        asker.answered(item, ans.reward > 0)
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
                "macro_f1": round(macro_f1(confusion_matrix(y_test, y_pred, len(label_ids))), 4),
                "thumbs_up_rate": round(ups / t, 4),
            }
            if trainer.algorithm.votes_for_new_items:  # what an export of the network gets
                y_net = trainer.greedy_labels(test, network=True)[DEFAULT_TASK]
                row["network_accuracy"] = round(float((y_net == y_test).mean()), 4)
            curve.append(row)
            if progress is not None:
                progress(row)
        if asker.positive and t in marks:
            share = len(seen & positives) / max(1, len(positives))
            found.append({"fraction": marks[t], "answers": t, "found": round(share, 4)})
    return curve, found
