"""The answers in the default algorithm's graph posterior: each pool item's log-likelihood over
labels, and the thumbs its graph neighbours contradict (``algorithms/default.py``, step 3).

A thumb is (pool row, shown label, 👍?): 👍 a says a, 👎 a says not a, a correction c says c,
each trusted with probability 1 − ``noise``."""

from __future__ import annotations

import numpy as np


def answer_loglik(rows, task: str, pool_index: dict[str, int], shape: tuple[int, int],
                  noise: float, suspect: set | None = None) -> np.ndarray:  # fmt: skip
    """[n, K] summed log-likelihood of each pool item's answers for ``task``; the thumbs in
    ``suspect`` (set aside as likely mis-clicks) left out."""
    n, k = shape
    lo, hi = np.log(noise), np.log(1 - noise)
    out = np.zeros((n, k))
    for r in rows:
        if r.task != task:
            continue
        i = pool_index.get(r.item_id)
        if i is None:
            continue
        if suspect and r.corrected < 0 and (i, r.shown, r.reward > 0) in suspect:
            continue
        if r.corrected >= 0:
            v = np.full(k, lo)
            v[r.corrected] = hi
            out[i] += v
        elif r.shown >= 0 and r.reward != 0:
            up = r.reward > 0
            v = np.full(k, lo if up else hi)
            v[r.shown] = hi if up else lo
            out[i] += v
    return out


def contradicted(rows, task: str, pool_index: dict[str, int], vote: np.ndarray,
                 ratio: float) -> set[tuple[int, int, bool]]:  # fmt: skip
    """Thumbs the item's neighbours contradict: ``vote`` = their mean posterior [n, K]; a 👎 on
    their clear first choice, or a 👍 on a label they clearly place below another (by more than
    ``ratio``)."""
    top = vote.argmax(1)
    out = set()
    for r in rows:
        i = pool_index.get(r.item_id)
        if r.task != task or i is None or r.corrected >= 0 or r.shown < 0 or r.reward == 0:
            continue
        v, a = vote[i], r.shown
        if r.reward < 0:  # 👎 on the neighbours' clear first choice
            bad = top[i] == a and v[a] > ratio * np.delete(v, a).max(initial=0.0)
        else:  # 👍 on a label the neighbours clearly place below another
            bad = top[i] != a and v[top[i]] > ratio * v[a]
        if bad:
            out.add((i, r.shown, r.reward > 0))
    return out
