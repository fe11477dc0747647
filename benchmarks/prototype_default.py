"""Fast in-memory mirror of ``mmrl-desktop bench --data digits`` for tuning algorithms.

Same split (``core.tools.bench.stratified_split``), stream order, simulated expert, model
(``build_policy`` for 8×8 grey), replay buffer, generators and algorithm classes as the real bench;
it skips the PNG import, the FeedbackStore and the Trainer, so a seed runs ~2× faster. Numbers are
close to, not identical with, the CLI's (the CLI is the reference). ``qacc`` is the accuracy of
the default algorithm's graph posterior on the pool, ``share`` the chosen raw-image share.

    python benchmarks/prototype_default.py --algorithm default --seeds 0,1 \\
        [--corrections 0.5] [--noise 0.1] [--upe 8] [--options '{"optimism": 2}']
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


class _Features:
    def __init__(self, x: np.ndarray):
        self.x = x

    def batch(self, ids):
        img = torch.from_numpy(self.x[[int(i) for i in ids]])
        return {"image": img, "image_mask": torch.ones(len(ids), dtype=torch.bool)}


def run(algorithm, seed, points=(100, 300, 1000), corrections=0.0, noise=0.0, upe=8, options=None):
    from sklearn.datasets import load_digits

    from mmrl_desktop.core.config import ModelConfig, TrainConfig
    from mmrl_desktop.core.learning.algorithms import ALGORITHMS
    from mmrl_desktop.core.learning.model.policy import build_policy
    from mmrl_desktop.core.learning.replay import ReplayBuffer, Row
    from mmrl_desktop.core.tools.bench import stratified_split
    from mmrl_desktop.core.tools.simulate import SimulatedExpert

    torch.set_num_threads(1)
    d = load_digits()
    pix = np.clip(d.images * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
    x = (pix / 255.0).astype(np.float32)[:, None]
    y = d.target
    stream, test = stratified_split([str(v) for v in y], 0.3, seed)
    config = TrainConfig(
        algorithm=algorithm, seed=seed, updates_per_event=upe, options=dict(options or {})
    )
    torch.manual_seed(seed)
    policy = build_policy(
        ModelConfig(image_size=8, image_channels=1, modalities="image"), {"label": 10}
    )
    algo = ALGORITHMS[algorithm](policy, {"label": 10}, config)
    feat = _Features(x)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    if hasattr(algo, "attach_pool"):
        algo.attach_pool([str(i) for i in stream], feat.batch)
    sample_gen = torch.Generator().manual_seed(seed + 1)
    act_gen = torch.Generator().manual_seed(seed + 2)
    expert = SimulatedExpert(corrections, noise, seed, always_correct=algorithm == "supervised")
    x_test, y_test = feat.batch([str(i) for i in test]), y[test]
    curve, ups, t0, update_s = [], 0, time.time(), []
    for t in range(1, max(points) + 1):
        i = stream[(t - 1) % len(stream)]
        a = algo.act(feat.batch([str(i)]), act_gen)["label"]
        shown = int(a.labels[0])
        ans = expert.answer(str(shown), str(y[i]))
        ups += ans.reward > 0
        corr = -1 if ans.corrected is None else int(ans.corrected)
        buf.add(Row(t, str(i), "label", shown, ans.reward, float(a.propensity[0]), corr))
        algo.refresh(buf)
        for _ in range(upe):
            u0 = time.perf_counter()
            algo.update(buf.sample(config.batch_size, sample_gen))
            update_s.append(time.perf_counter() - u0)
        if t in points:
            pred = algo.greedy(x_test)["label"].argmax(1).numpy()
            row = {"feedback": t, "accuracy": round(float((pred == y_test).mean()), 4)}
            row["thumbs_up_rate"] = round(ups / t, 4)
            if getattr(algo, "q", None):
                ids = np.array([int(v) for v in algo.pool_ids])
                row["qacc"] = round(float((algo.q["label"].argmax(1) == y[ids]).mean()), 4)
                row["share"] = algo.share
            curve.append(row)
    return {
        "algorithm": algorithm,
        "seed": seed,
        "corrections": corrections,
        "noise": noise,
        "updates_per_event": upe,
        "options": options or {},
        "curve": curve,
        "update_ms_median": round(1000 * float(np.median(update_s)), 2),
        "seconds": round(time.time() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algorithm", default="default")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--feedback", default="100,300,1000")
    ap.add_argument("--corrections", type=float, default=0.0)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--upe", type=int, default=8)
    ap.add_argument("--options", default="{}", help="the algorithm's options, as JSON")
    a = ap.parse_args()
    points = tuple(int(p) for p in a.feedback.split(","))
    for s in (int(v) for v in a.seeds.split(",")):
        r = run(a.algorithm, s, points, a.corrections, a.noise, a.upe, json.loads(a.options))
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
