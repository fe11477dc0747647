"""Image + text in one item (a measurement): does a project whose cases have a picture and a
report learn at least what its better modality learns alone?

No set of the suite has two modalities in one item. This one is made from two of them: class
``circle`` of the shapes set with class ``access`` of the texts set, ``square`` with ``billing``,
``triangle`` with ``hardware``; item k of a class is the k-th file of each (the first
``PER_CLASS``), written as ``<class>/card_k.png`` + ``card_k.txt`` (one item: files of one class
folder that share a stem). The same items are also written with their picture only and with
their text only, so the three arms share the items, the split and the order of the asks. The
parts ``sound-both``, ``sound-image`` and ``sound`` pair the shapes with spoken words of the
words set instead (circle–yes, square–no, triangle–stop; 60 per class, all the words set has).

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.cards --out results.jsonl \\
        [--model '{"text_encoder": "mean"}'] both:82:supervised image:82:supervised text:82:supervised
    python -m benchmarks.own_folders.cards --out results.jsonl --table   # the means per arm
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from benchmarks.own_folders import datasets, protocol

PAIRS = {"circle": "access", "square": "billing", "triangle": "hardware"}
PER_CLASS = 100
SOUND_PAIRS = {"circle": "yes", "square": "no", "triangle": "stop"}
SOUND_PER_CLASS = 60
POINTS = [30, 60, 150]
VERSION = 1


def ensure(part: str) -> Path:
    """The folder of arm ``part`` ("both", "image" or "text"; "sound-both", "sound-image" or
    "sound"), made now unless cached."""
    sound = part.startswith("sound")
    other, kind, suffix = ("words", "audio", ".wav") if sound else ("texts", "text", ".txt")
    pairs, per = (SOUND_PAIRS, SOUND_PER_CLASS) if sound else (PAIRS, PER_CLASS)
    shapes, partner = datasets.ensure("shapes")[0], datasets.ensure(other)[0]
    name = f"cards-{part}-n{per}-v{VERSION}"
    folder = datasets.default_cache() / name
    if (folder / ".made").is_file():
        return folder
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    picture = part in ("both", "image", "sound-both", "sound-image")
    partnered = part in ("both", "text", "sound-both", "sound")
    for shape, topic in pairs.items():
        pics = [e.path for e in protocol.folder_items(shapes, "image") if e.label == shape]
        docs = [e.path for e in protocol.folder_items(partner, kind) if e.label == topic]
        (tmp / shape).mkdir(parents=True)
        for k, (pic, doc) in enumerate(zip(pics[:per], docs[:per], strict=True)):
            if picture:
                shutil.copyfile(pic, tmp / shape / f"card_{k:04d}.png")
            if partnered:
                shutil.copyfile(doc, tmp / shape / f"card_{k:04d}{suffix}")
    (tmp / ".made").write_text("", encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def run_one(out: str, part: str, seed: int, algorithm: str, model: dict) -> dict:
    import torch

    from mmrl_desktop.core.tools.bench import run_bench

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    t = time.time()
    alg = {"orientation_free": part not in ("text", "sound")}  # shapes: turns keep the label
    r = run_bench(str(ensure(part)), algorithm, POINTS, seed=seed, holdout=0.3, device="cpu",
                  algorithm_settings=alg, model_settings=model or None)  # fmt: skip
    row = {"set": f"cards-{part}", "seed": seed, "algorithm": algorithm, "model": model,
           "points": [c["feedback"] for c in r["curve"]],
           "acc": [c["accuracy"] for c in r["curve"]], "s": round(time.time() - t)}  # fmt: skip
    print(row, flush=True)
    with open(out, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row) + "\n")
    return row


def table(out: str) -> str:
    """Means per arm (set, learner, model) over its seeds."""
    with open(out, encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    arms: dict[tuple, list] = {}
    for r in rows:
        key = (r["set"], r["algorithm"], json.dumps(r["model"], sort_keys=True))
        arms.setdefault(key, []).append(r)
    lines = ["| arm | learner | model | seeds | " + " / ".join(map(str, POINTS)) + " |",
             "|---|---|---|---|---|"]  # fmt: skip
    for (name, alg, model), rs in sorted(arms.items()):
        means = [sum(r["acc"][i] for r in rs) / len(rs) for i in range(len(POINTS))]
        seeds = ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"]))
        lines.append(f"| {name} | {alg} | {model} | {seeds} | "
                     + " / ".join(f"{m:.3f}" for m in means) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="{}", help="ModelConfig fields as JSON")
    ap.add_argument("--table", action="store_true", help="print the means of --out")
    ap.add_argument("jobs", nargs="*", help="PART:SEED:ALGORITHM (PART: see ensure)")
    a = ap.parse_args()
    if a.table:
        print(table(a.out))
        return
    for job in a.jobs:
        part, seed, algorithm = job.split(":")
        run_one(a.out, part, int(seed), algorithm, json.loads(a.model))


if __name__ == "__main__":
    main()
