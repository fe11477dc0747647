"""Why generation is slow on a GPU (a diagnostic, not a test): tokens/s of a ~0.5 B random Llama
(the gpu_step shape) with plain transformers ``generate`` and through ``GenerativePolicy``
(peft LoRA, logits kept), batch 1, 64 new tokens; and the launch overhead of a tiny op.

    python -m benchmarks.generate.gen_speed --device cuda
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def _timed(fn, device: str) -> float:
    import torch

    fn()  # warm-up
    torch.cuda.synchronize() if device.startswith("cuda") else None
    t = time.perf_counter()
    fn()
    torch.cuda.synchronize() if device.startswith("cuda") else None
    return time.perf_counter() - t


def main() -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from benchmarks.generate.gpu_step import QWEN_05B, SMALL, build
    from mmrl_desktop.core.learning.generate.policy import GenerativePolicy

    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--small", action="store_true")
    a = ap.parse_args()
    dev, out = a.device, {}
    x = torch.ones(8, device=dev)
    out["tiny_op_us"] = round(_timed(lambda: [x.add_(1) for _ in range(1000)], dev) * 1000, 1)
    with tempfile.TemporaryDirectory() as tmp:
        folder = build(Path(tmp) / "lm", SMALL if a.small else QWEN_05B)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).to(dev).eval()
        ids = torch.randint(3, 1000, (1, 64), device=dev)
        for cache in (True, False):
            gen = lambda c=cache: model.generate(  # noqa: E731
                input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=64,
                min_new_tokens=64, do_sample=True, top_k=0, use_cache=c, pad_token_id=0)  # fmt: skip
            with torch.no_grad():
                out[f"hf_generate_cache_{cache}_tok_s"] = round(64 / _timed(gen, dev), 1)
        with torch.no_grad():
            out["hf_forward_64_ms"] = round(_timed(lambda: model(ids), dev) * 1000, 2)
        policy = GenerativePolicy.load(folder, dev, lora_rank=16, lr=1e-4)
        prompt = [" ".join(f"w{i}" for i in range(64))]
        t = _timed(lambda: policy.generate(prompt, max_new_tokens=64, temperature=1.0), dev)
        d = policy.generate(prompt, max_new_tokens=64, temperature=1.0)[0][0]
        out["policy_generate_s"], out["policy_tokens"] = round(t, 3), len(d.token_ids)
        out["policy_training_mode"] = bool(policy.model.training)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
