"""How long an answer waits to reach the model shown while refits run (ADR 0029), counted in
trainer updates, so the figure does not depend on the machine's speed or load.

    python benchmarks/refit_lag.py [--every 24] [--answers 80] [--refit-updates 300]

A trainer at a fixed speed, one update per tick, while the expert answers once every
``--every`` ticks (24: one answer each 3 s at the demo's ~8 updates/s; the bench instead waits
for every update before the next answer, so it never sees two refits overlap). Digits as PNGs
(the 8×8 design; the count of updates is the same on any design), the default algorithm with
refits up to 64 answers. For each answer: the ticks from the answer until a model version that
includes it is shown (``Trainer.trained_event_id``). Prints one JSON object: p50 / p95 / max of
that lag over the answers, the ticks until the last refit's model is shown, the updates run.
Run it once per commit (``PYTHONPATH=CLONE``) to compare two.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
from pathlib import Path

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.tools.bench import write_digits


def project_on_digits(root: Path, refit_updates: int) -> tuple[Project, list[Item]]:
    src = write_digits(root / "src")
    items = [
        Item(f"{d.name}/{f.stem}", image=str(f), labels={"label": d.name})
        for d in sorted(src.iterdir())
        for f in sorted(d.iterdir())
    ]
    algorithm = {"refit_until": 64, "refit_updates": refit_updates, "eval_every": 0}
    project = Project.create(
        root / "digits", tasks=[Task("label", [str(i) for i in range(10)])], algorithm=algorithm
    )
    with project.open_store() as store:
        store.add_items(items)
    return project, items


def run(every: int, answers: int, refit_updates: int, seed: int = 0) -> dict:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        project, items = project_on_digits(Path(tmp), refit_updates)
        rng.shuffle(items)
        trainer = Trainer(project, device="cpu", checkpoints=False)
        labels = project.tasks[0].labels
        arrived: dict[int, int] = {}  # event id → tick
        lag: dict[int, int] = {}
        tick, given = 0, 0
        with project.open_store() as store:
            while given < answers or len(lag) < len(arrived):
                if given < answers and tick % every == 0:
                    it = items[given]
                    shown = rng.choice(labels)
                    reward = 1 if shown == it.labels["label"] else -1
                    eid = store.record_feedback(it.item_id, "label", shown, 0.1, reward)
                    arrived[eid] = tick
                    given += 1
                trainer.step()  # one update at most: one tick
                for eid, t in arrived.items():
                    if eid not in lag and trainer.trained_event_id >= eid:
                        lag[eid] = tick + 1 - t
                tick += 1
        trainer.close(checkpoint=False)
    lags = [lag[e] for e in sorted(lag)]
    q = statistics.quantiles(lags, n=20)
    return {
        "every": every,
        "answers": answers,
        "refit_updates": refit_updates,
        "lag_ticks_p50": statistics.median(lags),
        "lag_ticks_p95": round(q[18], 1),
        "lag_ticks_max": max(lags),
        "ticks_until_all_shown": tick,
        "updates": trainer.updates,
        "lag_ticks_per_answer": lags,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--every", type=int, default=24, help="ticks (updates) between answers")
    ap.add_argument("--answers", type=int, default=80)
    ap.add_argument("--refit-updates", type=int, default=300)
    args = ap.parse_args()
    print(json.dumps(run(args.every, args.answers, args.refit_updates)))


if __name__ == "__main__":
    main()
