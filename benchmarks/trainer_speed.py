"""Trainer updates per second for the default model, on digits and on the demo project.

    python benchmarks/trainer_speed.py [--device cpu|cuda] [--updates 200] [--repeats 3]

Builds a project (digits as PNGs, or a copy of the demo), records 300 simulated answers, then
times ``Trainer.add_budget(N)`` + ``train_pending()`` — the same step the GUI's trainer thread
runs. Prints one JSON object: median updates/s over the repeats, per data set. The GUI needs at
least the bench's ``updates_per_event`` updates per second so that an expert answering about once
a second gets what the bench measured.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from mmrl_desktop.core.data.demo import create_demo
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.tools.bench import write_digits


def digits_project(root: Path) -> Project:
    src = write_digits(root / "src")
    items = [
        Item(f"{d.name}/{f.stem}", image=str(f), labels={"label": d.name})
        for d in sorted(src.iterdir())
        for f in sorted(d.iterdir())
    ]
    project = Project.create(root / "digits", tasks=[Task("label", [str(i) for i in range(10)])])
    with project.open_store() as store:
        store.add_items(items)
    return project


def answer(project: Project, n: int) -> None:
    rng = random.Random(0)
    task = project.tasks[0]
    with project.open_store() as store:
        pool = store.items(split="pool")
        for k in range(n):
            it = pool[k % len(pool)]
            shown = rng.choice(task.labels)
            truth = it.labels.get(task.name)
            store.record_feedback(it.item_id, task.name, shown, 1 / len(task.labels),
                                  1 if shown == truth else -1)  # fmt: skip


def measure(project: Project, device: str, updates: int, repeats: int) -> dict:
    trainer = Trainer(project, device=device, queue_size=0, checkpoints=False)
    trainer.train_pending()  # the answers' own budget: warm-up
    rates = []
    for _ in range(repeats):
        trainer.add_budget(updates)
        t0 = time.perf_counter()
        trainer.train_pending()
        rates.append(updates / (time.perf_counter() - t0))
    info = trainer.info()
    trainer.close(checkpoint=False)
    return {
        "updates_per_s": round(statistics.median(rates), 1),
        "runs": [round(r, 1) for r in rates],
        "device": info["device"],
        "parameters": info["parameters"],
        "modalities": info["modalities"],
        "updates_per_event": trainer.config.updates_per_event,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--updates", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        digits = digits_project(root)
        answer(digits, 300)
        out["digits"] = measure(digits, args.device, args.updates, args.repeats)
        demo = create_demo(root / "demo")
        answer(demo, 100)
        out["demo"] = measure(demo, args.device, args.updates // 4, args.repeats)
        shutil.rmtree(root / "src", ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
