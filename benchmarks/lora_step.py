"""Time of one trainer update on a ViT-Base-sized encoder: head on the frozen embedding versus
LoRA adapters + head on 224 px images (issue 14 item 3, docs/adr/0014 amendment).

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/lora_step.py [--batch 8] [--steps 5]

Builds a ViT with ``ViTConfig()`` defaults (86 M parameters, random weights, 224 px, patch 16),
saves it with its image processor to a temporary folder, and builds the app's policy twice with
that folder as its pretrained image encoder: frozen (``EmbeddingProjection`` on a cached
``[B, 768]`` embedding) and with LoRA adapters (``AdaptedEncoder``, rank 8, query and value
projections). One update is what the ``supervised`` algorithm does per replayed minibatch:
forward, cross-entropy, backward, gradient clipping, the app's AdamW step. The two are timed
interleaved (a busy machine slows both alike); wall and CPU seconds, medians. The default
algorithm's update also passes as many pool items as replayed ones (twice the batch).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch


def _vit_base(folder: Path) -> Path:
    import transformers as tf

    transformers_quiet = tf.utils.logging
    transformers_quiet.set_verbosity_error()
    torch.manual_seed(0)
    tf.ViTModel(tf.ViTConfig()).save_pretrained(folder)
    tf.ViTImageProcessor().save_pretrained(folder)
    return folder


def _algorithm(spec: dict, device: str):
    from mmrl_desktop.core.config import ModelConfig, TrainConfig
    from mmrl_desktop.core.learning.algorithms import ALGORITHMS
    from mmrl_desktop.core.learning.model.policy import build_policy

    cfg = ModelConfig(modalities="image", image_size=8, image_channels=3, pretrained=spec)
    torch.manual_seed(0)
    policy = build_policy(cfg, {"label": 10})
    return ALGORITHMS["supervised"](policy, {"label": 10}, TrainConfig(), device)


def _batch(key: str, x: torch.Tensor):
    from mmrl_desktop.core.learning.batch import ReplayBatch, TaskFeedback

    b = x.shape[0]
    labels = torch.arange(b) % 10
    fb = TaskFeedback(labels, torch.ones(b), torch.ones(b), labels)
    return ReplayBatch({key: x, "image_mask": torch.ones(b, dtype=torch.bool)}, {"label": fb})


def _one(algo, batch) -> tuple[float, float]:
    w, c = time.perf_counter(), time.process_time()
    algo.update(batch)
    return time.perf_counter() - w, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5, help="timed updates of each (after 1 warm-up)")
    ap.add_argument("--rank", type=int, default=8)
    args = ap.parse_args()
    from mmrl_desktop.core.learning.pretrained import inspect_encoder
    from mmrl_desktop.core.learning.pretrained.features import spec_of

    with tempfile.TemporaryDirectory() as tmp:
        info = inspect_encoder(_vit_base(Path(tmp) / "vit-base"), "image")
        frozen = _algorithm({"image": spec_of(info)}, "cpu")
        lora = {"rank": args.rank, "alpha": 2.0 * args.rank}
        adapted = _algorithm({"image": {**spec_of(info), "lora": lora}}, "cpu")
        gen = torch.Generator().manual_seed(0)
        pixels = torch.randint(0, 256, (args.batch, 3, 224, 224), generator=gen).to(torch.uint8)
        emb = torch.randn(args.batch, info.embedding_size, generator=gen)
        b_frozen, b_lora = _batch("image_emb", emb), _batch("image_lora", pixels)
        _one(frozen, b_frozen), _one(adapted, b_lora)  # warm-up
        times: dict[str, list[tuple[float, float]]] = {"frozen": [], "lora": []}
        for _ in range(args.steps):
            times["lora"].append(_one(adapted, b_lora))
            for _ in range(10):
                times["frozen"].append(_one(frozen, b_frozen))
        enc = adapted.policy.encoders["image"]
        out = {
            "encoder": info.describe(),
            "batch": args.batch,
            "threads": torch.get_num_threads(),
            "lora_rank": args.rank,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "trainable_parameters": {
                "frozen": sum(p.numel() for p in frozen.policy.parameters()),
                "lora": sum(p.numel() for p in adapted.policy.parameters()),
                "adapters": sum(p.numel() for p in enc.adapters.parameters()),
            },
        }
        for name, ts in times.items():
            out[f"{name}_update_s"] = {
                "wall_median": round(statistics.median(t[0] for t in ts), 5),
                "cpu_median": round(statistics.median(t[1] for t in ts), 5),
                "n": len(ts),
            }
        print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
