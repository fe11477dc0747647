"""Issue 17 check (an experiment, not a test): scikit-learn's digits upscaled to 32 px (the kind
of the demo project's digit PNGs: images over 8 px, so ``large_first`` applies), thumbs only,
the default (``edges`` first) against ``large_first = ""`` (the pixels first) or against
``aligned_overlap = 0.3`` (the pixels first when they see the neighbourhoods the edges see,
docs/benchmarks.md §5zc). One JSON line per run on stdout.

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.digits32_first_view SEED default|pixels|aligned
"""

from __future__ import annotations

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from benchmarks.own_folders import datasets, images
from mmrl_desktop.core.tools.bench import run_bench


def folder():
    root = datasets.default_cache() / "digits32"
    if not (root / ".made").exists():
        images.write_digits(root, size=32)
        (root / ".made").write_text("")
    return root


def main() -> None:
    torch.set_num_threads(1)
    seed, arm = int(sys.argv[1]), sys.argv[2]
    arms = {"default": {}, "pixels": {"large_first": ""}, "aligned": {"aligned_overlap": 0.3}}
    opts = {"options": arms[arm]} if arms[arm] else {}
    t = time.time()
    r = run_bench(str(folder()), "default", [60, 150, 300], seed=seed, holdout=0.3,
                  device="cpu", algorithm_settings=opts)  # fmt: skip
    acc = [c["accuracy"] for c in r["curve"]]
    print(json.dumps({"seed": seed, "arm": arm, "acc": acc, "s": round(time.time() - t)}))


if __name__ == "__main__":
    main()
