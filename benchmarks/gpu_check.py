"""The GPU path in one run, for a lent GPU machine (or ``--device cpu`` here, as a check of the
script): every part that moves tensors to the accelerator, each timed, into one JSON object.

    python -m benchmarks.gpu_check --device cuda --out gpu_check.json [--skip-05b]

1. ``bench --data digits --device D --json`` (the default algorithm, thumbs only) and
   ``--algorithm supervised``: the learning curve and the bench's own timing;
2. the label trainer on a digits project (``Trainer(device=D)``): updates/s over 200 updates
   after 30 answers, the weights on D, a checkpoint written on D and read back on the CPU;
3. a pretrained image encoder (a tiny ViT from a config) with no ``lora`` key: on CUDA a new
   model gets LoRA adapters (ADR 0014), here it does not; updates/s;
4. ``train --project P --steps 50 --device D`` (the headless command);
5. the generate task's trainer (a tiny Llama): drafts ahead, answers, KTO updates on D;
6. ``bench --task generate --device D`` (the bench's own tiny LM, 60 answers);
7. ``benchmarks/generate/gpu_step.py`` on a ~0.5 B-parameter model (bf16, LoRA rank 16; skipped
   with ``--skip-05b``; on a CPU ``--small`` runs instead);
8. a ViT-Base (random weights, 224 px): embeddings/s through the app's cache filler, and one
   LoRA update (rank 8, batch 8);
9. ``train`` under ``torchrun --nproc_per_node=1`` (NCCL on a GPU).

``--parts a,b`` runs only those.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cli(args: list[str], timeout: int) -> dict:
    t0 = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{os.environ.get('PYTHONPATH', '')}"}
    p = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, timeout=timeout, env=env
    )
    out = {"rc": p.returncode, "seconds": round(time.perf_counter() - t0, 1)}
    text = p.stdout.strip()
    for candidate in (
        text,
        text.splitlines()[-1] if text else "",
    ):  # a JSON print, or its last line
        try:
            out["json"] = json.loads(candidate)
            break
        except ValueError:
            continue
    else:
        out["stdout_tail"] = p.stdout[-1500:]
    if p.returncode:
        out["stderr_tail"] = p.stderr[-1500:]
    return out


def _updates(trainer, n: int) -> float:
    import torch

    done, t0 = 0, time.perf_counter()
    while done < n:
        trainer.pending_updates = max(trainer.pending_updates, 1)
        done += bool(trainer.step().did_update)
    if str(trainer.device).startswith("cuda"):
        torch.cuda.synchronize()
    return round(n / (time.perf_counter() - t0), 1)


def label_trainer(tmp: Path, device: str) -> dict:
    from mmrl_desktop.core.learning.checkpoints import load_checkpoint
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import answer, digits_project

    project = digits_project(tmp / "digits", n=100)
    answer(project, 30)
    tr = Trainer(project, device=device, write_metrics=False)
    tr.step()
    where = {str(p.device) for p in tr.algorithm.policy.parameters()}
    ups = _updates(tr, 200)
    path = tr.save_checkpoint("gpu check")
    tr.close(checkpoint=False)
    back = load_checkpoint(Path(path)) if path else None
    cpu = {str(v.device) for v in back.state["policy"].values()} if back else set()
    return {"weights_on": sorted(where), "updates_per_s": ups, "checkpoint_read_on": sorted(cpu)}


def pretrained_trainer(tmp: Path, device: str) -> dict:
    from mmrl_desktop.core.data.project import Project
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import answer, digits_project
    from tests.core.tinyhf import tiny_model

    vit = tiny_model(tmp / "vit", "vit")
    project = digits_project(tmp / "vitproj", n=40, algorithm={"algorithm": "supervised"})
    project.encoders = {"image": str(vit)}  # no lora key: the device decides (ADR 0014)
    project.save()
    project = Project.open(project.root)
    answer(project, 12)
    tr = Trainer(project, device=device, write_metrics=False)
    tr.step()
    ups = _updates(tr, 50)
    keys = list(tr.algorithm.policy.state_dict())
    adapters = sum(".adapters." in k or "lora_" in k for k in keys)
    where = {str(p.device) for p in tr.algorithm.policy.parameters()}
    tr.close(checkpoint=False)
    return {"lora_tensors": adapters, "weights_on": sorted(where), "updates_per_s": ups}


def generate_trainer(tmp: Path, device: str) -> dict:
    import torch

    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import Project, Task
    from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm
    from mmrl_desktop.core.learning.generate_trainer import GenerateTrainer
    from tests.core.test_generate_task import _task
    from tests.core.tinylm import WORDS

    lm = build_tiny_lm(tmp / "lm", WORDS, hidden=16, layers=1)
    task = _task(model=str(lm), temperature=1.0, updates_per_answer=4, draft_ahead=2)
    p = Project.create(tmp / "gen", tasks=[Task("label", ["a", "b"])], generate_tasks=[task])
    with p.open_store() as s:
        s.add_items([Item(f"i{k}", text_inline=f"case {k}", labels={"label": "ab"[k % 2]})
                     for k in range(8)])  # fmt: skip
    gen = GenerateTrainer(p, p.generate_task(), device)
    gen.set_queue([f"i{k}" for k in range(8)])
    t0 = time.perf_counter()
    drafts = gen.step().drafts
    first = time.perf_counter() - t0
    with p.open_store() as s:
        for k, d in enumerate(drafts):
            s.answer_draft(d.draft_id, +1 if k % 2 else -1)
    gen.set_queue([f"i{k}" for k in range(3, 8)])
    seen: dict = {}
    t0 = time.perf_counter()
    steps = 0
    while True:
        seen.update(gen.step().metrics)
        steps += 1
        if not gen.pending_updates or steps > 50:
            break
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    where = {str(q.device) for q in gen.policy.model.parameters()}
    out = {
        "first_drafts": len(drafts), "first_step_s": round(first, 3), "updates": gen.updates,
        "update_s": round(time.perf_counter() - t0, 3), "weights_on": sorted(where),
        "dtype": str(next(gen.policy.model.parameters()).dtype),
        "metrics": {k: round(v, 4) for k, v in seen.items() if "drafts" in k},
    }  # fmt: skip
    gen.close()
    return out


def embed_vit_base(tmp: Path, device: str, n: int = 600) -> dict:
    """Embedding throughput of a ViT-Base (ViTConfig defaults, random weights, 224 px) through
    the cache filler the app uses (decode, image processor, forward), ``n`` digits PNGs."""
    from benchmarks.lora_step import _vit_base
    from mmrl_desktop.core.learning.pretrained import inspect_encoder
    from mmrl_desktop.core.learning.pretrained.fill import fill_cache
    from tests.core.enginefixtures import digits_project

    info = inspect_encoder(_vit_base(tmp / "vit-base"), "image")
    project = digits_project(tmp / "embedproj", n=n)
    with project.open_store() as store:
        items = store.items()
    out = {}
    for batch in (16, 64):
        cache = project.root / "embeddings"
        shutil.rmtree(cache, ignore_errors=True)  # each batch size embeds every image
        r = fill_cache(project.root, items, info, device=device, batch_size=batch)
        out[f"batch_{batch}"] = {"computed": r.computed, "seconds": round(r.seconds, 2),
                                 "images_per_s": round(r.items_per_s, 1)}  # fmt: skip
    return out


def lora_vit_base(tmp: Path, device: str, steps: int = 5) -> dict:
    """One supervised update on a ViT-Base: the head on the frozen embedding, and LoRA rank 8 on
    the query/value projections + head (``benchmarks/lora_step.py``, on ``device``)."""
    import statistics

    import torch

    from benchmarks.lora_step import _algorithm, _batch, _vit_base
    from mmrl_desktop.core.learning.pretrained import inspect_encoder
    from mmrl_desktop.core.learning.pretrained.features import spec_of

    info = inspect_encoder(_vit_base(tmp / "vit-lora"), "image")
    adapted = _algorithm({"image": {**spec_of(info), "lora": {"rank": 8, "alpha": 16.0}}}, device)
    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (8, 3, 224, 224), generator=gen).to(torch.uint8)
    batch = _batch("image_lora", pixels)
    times = []
    for _ in range(steps + 1):
        t0 = time.perf_counter()
        adapted.update(batch)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return {"lora_update_s_median": round(statistics.median(times[1:]), 4), "batch": 8,
            "all": [round(x, 4) for x in times]}  # fmt: skip


def torchrun_one(tmp: Path, device: str) -> dict:
    """``train`` under torchrun with one process per GPU (here one): NCCL on a GPU."""
    cmd = ["torch.distributed.run", "--nproc_per_node=1", "--master_port=29533", "-m",
           "mmrl_desktop", "train", "--project", str(tmp / "digits" / "project"), "--steps", "20",
           "--device", device]  # fmt: skip
    return _cli(cmd, 120)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", default=None)
    ap.add_argument("--skip-05b", action="store_true")
    ap.add_argument("--feedback", default="100,300")
    ap.add_argument("--parts", default=None, help="comma-separated: only these parts")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import torch

    dev = args.device
    res: dict = {"device": dev, "torch": torch.__version__}
    if dev.startswith("cuda"):
        res["gpu"] = torch.cuda.get_device_name(0)
    with tempfile.TemporaryDirectory(prefix="mmrl-gpu-check-") as tmp:
        t = Path(tmp)
        bench = ["mmrl_desktop", "bench", "--data", "digits", "--feedback", args.feedback]
        parts: dict = {}
        if not args.skip_05b:  # issue 16's GPU figures first: the largest part
            step = ["benchmarks.generate.gpu_step", "--device", dev, "--steps", "5"]
            parts["gpu_step_05b"] = lambda: _cli(step if dev != "cpu" else [*step, "--small"], 240)
        parts.update({
            "bench_default": lambda: _cli([*bench, "--device", dev, "--json"], 150),
            "label_trainer": lambda: label_trainer(t, dev),
            "pretrained_trainer": lambda: pretrained_trainer(t, dev),
            "train_cli": lambda: _cli(
                ["mmrl_desktop", "train", "--project", str(t / "digits" / "project"),
                 "--steps", "50", "--device", dev], 120),
            "generate_trainer": lambda: generate_trainer(t, dev),
            "bench_generate": lambda: _gen_bench(t, dev),
            "bench_supervised": lambda: _cli(
                [*bench, "--algorithm", "supervised", "--device", dev, "--json"], 120),
            "embed_vit_base": lambda: embed_vit_base(t, dev),
            "lora_vit_base": lambda: lora_vit_base(t, dev),
            "torchrun_one": lambda: torchrun_one(t, dev),
        })  # fmt: skip
        if args.parts:
            want = args.parts.split(",")
            if "torchrun_one" in want and "label_trainer" not in want:
                want.insert(0, "label_trainer")  # its project
            parts = {k: v for k, v in parts.items() if k in want}
        for name, run in parts.items():
            t0 = time.perf_counter()
            try:
                res[name] = run()
            except Exception as err:  # a check's failure is a result, the others still run
                res[name] = {"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()[-1500:]}  # fmt: skip
            res[name + "_s"] = round(time.perf_counter() - t0, 1)
            print(name, json.dumps(res[name])[:600], flush=True)
            if args.out:
                Path(args.out).write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    return 0


def _gen_bench(tmp: Path, dev: str) -> dict:
    from benchmarks.own_folders.texts import write_texts

    write_texts(tmp / "texts", per_class=40, seed=0)
    cmd = ["mmrl_desktop", "bench", "--task", "generate", "--data", str(tmp / "texts")]
    return _cli([*cmd, "--feedback", "60", "--device", dev, "--json"], 120)


if __name__ == "__main__":
    sys.exit(main())
