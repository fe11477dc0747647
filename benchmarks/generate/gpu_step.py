"""KTO update step time, peak memory and generation tokens/s of the generate task's policy for a
~0.5 B-parameter model (issue 16): random weights from a Llama config of Qwen2.5-0.5B's shape (hidden
896, 24 layers, 14 heads / 2 KV heads, MLP 4864, vocabulary 151 936: ~494 M parameters; a Llama
config because transformers 5 gives a qwen2 folder its Qwen2 tokenizer, not the word tokenizer
saved in it), LoRA rank 16,
bf16 on a GPU (fp32 on a CPU). Nothing is downloaded; the tokenizer is a word tokenizer over
1000 made-up words (the model's vocabulary stays 151 936).

    python -m benchmarks.generate.gpu_step --device cuda --out gpu_step.json
    python -m benchmarks.generate.gpu_step --small   # the same code on a tiny config (a check)

Measured: generation of ``--new`` tokens after a 64-word prompt, batch 1 and 8 (tokens/s over
the batch, sampled at temperature 1); a KTO step (``GenerativePolicy.kto_step``: policy,
reference and KL-pair passes, backward, AdamW) on batches of 8 (64-word prompts, 32-word
completions), median of ``--steps`` after one warm-up, with TRL's mismatched pairs and, as the
app's trainer does by default (``kto_kl = "samples"``), with the reference point's texts sampled
by the policy (``--new`` tokens each) inside the step; peak memory (torch.cuda) over all of it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

QWEN_05B = {
    "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
    "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
    "max_position_embeddings": 4096, "tie_word_embeddings": True,
}  # fmt: skip
SMALL = {**QWEN_05B, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
         "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 2000}  # fmt: skip
WORDS = [f"w{i}" for i in range(1000)]


def build(folder: Path, shape: dict) -> Path:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig

    from mmrl_desktop.core.learning.generate.tiny import word_tokenizer

    tok = word_tokenizer(WORDS)
    config = LlamaConfig(**shape, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def measure(folder: Path, device: str, new: int, steps: int) -> dict:
    import torch

    from mmrl_desktop.core.learning.generate.policy import Example, GenerativePolicy

    rng = random.Random(0)
    words = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))  # noqa: E731
    t = time.perf_counter()
    policy = GenerativePolicy.load(folder, device, lora_rank=16, lr=1e-4)
    out = {"load_s": round(time.perf_counter() - t, 2), "base": policy.info.describe()}
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    for batch in (1, 8):
        prompts = [words(64) for _ in range(batch)]
        policy.generate(prompts, max_new_tokens=4, temperature=1.0)  # warm-up
        _sync(device)
        t = time.perf_counter()
        drafts = policy.generate(prompts, max_new_tokens=new, temperature=1.0)
        _sync(device)
        n_tok = sum(len(d[0].token_ids) for d in drafts)
        out[f"generate_b{batch}_tokens_per_s"] = round(n_tok / (time.perf_counter() - t), 1)
    batch = [Example(words(64), words(32), i % 2 == 0) for i in range(8)]
    times = []
    for _ in range(steps + 1):
        _sync(device)
        t = time.perf_counter()
        stats = policy.kto_step(batch)
        _sync(device)
        times.append(time.perf_counter() - t)
    out["kto_step_s_median"] = round(statistics.median(times[1:]), 4)
    out["kto_step_s_all"] = [round(x, 4) for x in times]
    out["kto_last"] = stats
    times = []  # the app's default update: the reference point from the policy's own samples
    for _ in range(steps + 1):
        _sync(device)
        t = time.perf_counter()
        policy.kto_step(batch, policy.sample_kl_batch(batch, new))
        _sync(device)
        times.append(time.perf_counter() - t)
    out["kto_step_sampled_kl_s_median"] = round(statistics.median(times[1:]), 4)
    if device.startswith("cuda"):
        out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        out["gpu"] = torch.cuda.get_device_name()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--small", action="store_true", help="a tiny config (checks the script)")
    ap.add_argument("--new", type=int, default=64, help="new tokens per draft")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mmrl-gpu-step-") as tmp:
        t = time.perf_counter()
        folder = build(Path(tmp) / "lm", SMALL if args.small else QWEN_05B)
        result = {"build_s": round(time.perf_counter() - t, 1), "device": args.device,
                  "lora_rank": 16, **measure(folder, args.device, args.new, args.steps)}  # fmt: skip
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
