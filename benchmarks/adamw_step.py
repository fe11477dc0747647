"""Time of one step of the trainer's AdamW on the demo project's model (ADR 0006).

    OMP_NUM_THREADS=1 python benchmarks/adamw_step.py [--steps 300] [--compare OLD_OPTIM.py]

Builds the demo project's policy with the trainer (``--project demo``, CPU), gives every
trainable parameter a fixed gradient and times ``optimizer.step()`` alone. ``--compare`` loads
another ``optim.py`` (e.g. ``git show <commit>:mmrl_desktop/core/learning/optim.py > old.py``) and
times its ``AdamW`` on a copy of the same parameters, the two interleaved step by step so a busy
machine slows both alike. Prints the median milliseconds per step, then one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import statistics
import time

import torch


def _load_adamw(path: str):
    spec = importlib.util.spec_from_file_location("optim_compared", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.AdamW


def _setup(policy, adamw_cls, lr: float, wd: float):
    net = copy.deepcopy(policy)
    gen = torch.Generator().manual_seed(0)
    for p in net.parameters():
        if p.requires_grad:
            p.grad = torch.randn(p.shape, generator=gen) * 1e-3
    return adamw_cls(net.parameters(), lr=lr, weight_decay=wd)


def _time(opt) -> float:
    t0 = time.perf_counter()
    opt.step()
    return (time.perf_counter() - t0) * 1000.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--compare", default=None, help="another optim.py whose AdamW to time too")
    args = ap.parse_args()
    from mmrl_desktop.core.data.demo import resolve_project
    from mmrl_desktop.core.learning.optim import AdamW
    from mmrl_desktop.core.learning.trainer import Trainer

    trainer = Trainer(
        resolve_project("demo"), "cpu", checkpoints=False, write_metrics=False, queue_size=0
    )
    trainer.info()
    policy, cfg = trainer.algorithm.policy, trainer.config
    trainable = [p for p in policy.parameters() if p.requires_grad]
    opts = {"current": _setup(policy, AdamW, cfg.lr, cfg.weight_decay)}
    if args.compare:
        opts["compared"] = _setup(policy, _load_adamw(args.compare), cfg.lr, cfg.weight_decay)
    times: dict[str, list[float]] = {k: [] for k in opts}
    for i in range(args.steps + 20):  # 20 warm-up steps
        for name, opt in opts.items():
            ms = _time(opt)
            if i >= 20:
                times[name].append(ms)
    trainer.close(checkpoint=False)
    out = {
        "tensors": len(trainable),
        "parameters": sum(p.numel() for p in trainable),
        "threads": torch.get_num_threads(),
        "median_ms": {k: round(statistics.median(v), 3) for k, v in times.items()},
    }
    for k, v in out["median_ms"].items():
        print(f"{k}: {v:.3f} ms per step")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
