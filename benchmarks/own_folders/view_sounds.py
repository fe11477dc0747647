"""Issue 17 measurement (not a test): leave-one-out 1-NN / 5-NN with every true label of the
sound views ``logmel`` and ``cepstra`` on the own-folder words (the set ``cepstra`` was shaped on)
and on spoken numbers made with another data seed (zero … nine, 40 files a number, voices and
noise as the words; a check the view was never tuned on).

    OMP_NUM_THREADS=1 python -m benchmarks.own_folders.view_sounds
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

from benchmarks.own_folders import datasets, sound
from benchmarks.own_folders.view_ceiling import knn_acc, pool_in
from mmrl_desktop.core.learning import views

NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def numbers_folder(per_class: int = 40, seed: int = 1):
    folder = datasets.default_cache() / f"numbers-n{per_class}-s{seed}"
    if not (folder / ".made").is_file():
        words, sound.WORDS = sound.WORDS, NUMBERS
        try:
            sound.write_words(folder, per_class, seed)
        finally:
            sound.WORDS = words
        (folder / ".made").write_text("")
    return folder


def main() -> None:
    torch.set_num_threads(1)
    for name, folder in (("words", datasets.ensure("words")[0]), ("numbers", numbers_folder())):
        _, alg, y = pool_in(folder)
        fixed, _ = views.fixed_views(alg._chunks(), alg._sample_rate())
        for v in ("logmel", "cepstra"):
            one, five = knn_acc(fixed[v], y)
            print(f"{name:8s} n={len(y)} {v:8s} 1-NN {one:.3f}  5-NN {five:.3f}", flush=True)


if __name__ == "__main__":
    main()
