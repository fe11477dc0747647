"""Vowpal Wabbit ``--cb_explore_adf`` reference on the bench's digits protocol (BENCHMARKS.md §1).

Same split (``core.tools.bench.stratified_split``), same stream order and the same simulated expert
(``core.tools.simulate.SimulatedExpert``) as ``mmrl-desktop bench``; VW sees the 64 raw pixels (/255) as
shared features and the label as the action feature (``-q sa``), learns online in one pass
(cost = −reward: 👍 −1, 👎 +1), a correction adds a fully-observed example of the true label.
Held-out accuracy = the label VW would exploit (highest probability in its PMF).

    pip install vowpalwabbit
    python benchmarks/prototype_vw.py --seeds 0,1,2,3,4 [--corrections 0.5] [--noise 0.1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout


def _shared(x: np.ndarray) -> str:
    return "shared |s " + " ".join(f"p{j}:{v:.4f}" for j, v in enumerate(x) if v > 0)


def _example(x: np.ndarray, k: int, label: tuple[int, float, float] | None = None) -> list[str]:
    lines = [_shared(x)]
    for a in range(k):
        prefix = ""
        if label is not None and label[0] == a:
            prefix = f"0:{label[1]}:{label[2]} "
        lines.append(f"{prefix}|a l{a}")
    return lines


def run(seed: int, points, corrections: float, noise: float, args: str) -> dict:
    from sklearn.datasets import load_digits
    from vowpalwabbit import Workspace

    from mmrl_desktop.core.tools.bench import stratified_split
    from mmrl_desktop.core.tools.simulate import SimulatedExpert

    d = load_digits()
    pix = np.clip(d.images * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
    X = pix.reshape(len(pix), -1) / 255.0
    y = d.target
    k = 10
    stream, test = stratified_split([str(v) for v in y], 0.3, seed)
    vw = Workspace(f"--cb_explore_adf -q sa --quiet --random_seed {seed} {args}")
    expert = SimulatedExpert(corrections, noise, seed)
    rng = np.random.default_rng(seed + 3)
    curve, ups, t0 = [], 0, time.time()
    for t in range(1, max(points) + 1):
        i = stream[(t - 1) % len(stream)]
        pmf = np.asarray(vw.predict(_example(X[i], k)), dtype=float)
        pmf = pmf / pmf.sum()
        a = int(rng.choice(k, p=pmf))
        ans = expert.answer(str(a), str(y[i]))
        ups += ans.reward > 0
        vw.learn(_example(X[i], k, (a, float(-ans.reward), float(pmf[a]))))
        if ans.corrected is not None:
            vw.learn(_example(X[i], k, (int(ans.corrected), -1.0, 1.0)))
        if t in points:
            pred = np.array([int(np.argmax(vw.predict(_example(X[j], k)))) for j in test])
            curve.append(
                {
                    "feedback": t,
                    "accuracy": round(float((pred == y[test]).mean()), 4),
                    "thumbs_up_rate": round(ups / t, 4),
                }
            )
    vw.finish()
    return {
        "algorithm": f"vw {args}".strip(),
        "seed": seed,
        "corrections": corrections,
        "noise": noise,
        "curve": curve,
        "seconds": round(time.time() - t0, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--feedback", default="100,300,1000")
    ap.add_argument("--corrections", type=float, default=0.0)
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--vw-args", default="--squarecb", help="exploration etc., e.g. --epsilon 0.1")
    a = ap.parse_args()
    points = tuple(int(p) for p in a.feedback.split(","))
    for s in (int(v) for v in a.seeds.split(",")):
        print(json.dumps(run(s, points, a.corrections, a.noise, a.vw_args)), flush=True)


if __name__ == "__main__":
    main()
