"""An imbalanced two-label folder for screening (issue 19): one digit is ``positive`` (5 % of the
items by default), every other digit is ``other``.

    python benchmarks/imbalanced_digits.py /tmp/imbalanced            # digit 3, 5 % positives
    mmrl-desktop bench --data /tmp/imbalanced --order likely-positive --positive positive

scikit-learn's bundled digits as 8x8 grey PNG files (as ``bench --data digits`` writes them), in
``OUT/positive/`` and ``OUT/other/``: all the other digits' images, and as many images of the
positive digit, drawn by ``--seed``, as make ``--share`` of the whole.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def write_imbalanced(
    out: Path, positive_digit: int = 3, share: float = 0.05, seed: int = 0
) -> dict[str, int]:
    """Write the folder; returns the number of items per label."""
    from PIL import Image
    from sklearn.datasets import load_digits

    if not 0.0 < share < 1.0:
        raise ValueError(f"share must be between 0 and 1, not {share}")
    digits = load_digits()
    pos = np.flatnonzero(digits.target == positive_digit)
    neg = np.flatnonzero(digits.target != positive_digit)
    n_pos = max(1, round(share / (1.0 - share) * len(neg)))
    if n_pos > len(pos):
        raise ValueError(
            f"share {share} needs {n_pos} images of {positive_digit}; there are {len(pos)}"
        )
    keep = np.random.default_rng(seed).choice(pos, n_pos, replace=False)
    counts = {}
    for label, rows in (("positive", sorted(keep)), ("other", neg)):
        folder = out / label
        folder.mkdir(parents=True, exist_ok=True)
        for i in rows:
            pix = np.clip(digits.images[i] * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
            Image.fromarray(pix, mode="L").save(folder / f"digit_{int(i):04d}.png")
        counts[label] = len(rows)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder to write (OUT/positive, OUT/other)")
    ap.add_argument("--positive-digit", type=int, default=3, help="the positive digit (default 3)")
    ap.add_argument("--share", type=float, default=0.05, help="positives' share (default 0.05)")
    ap.add_argument("--seed", type=int, default=0, help="which positive images (default 0)")
    args = ap.parse_args(argv)
    print(json.dumps(write_imbalanced(args.out, args.positive_digit, args.share, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
