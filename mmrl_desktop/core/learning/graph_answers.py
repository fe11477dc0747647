"""The answers in the default algorithm's graph posterior: each pool item's log-likelihood over
labels, the thumbs its graph neighbours contradict (``algorithms/default.py``, step 3), and how
a prediction is scored on answers it had not seen (``graph_views.py``, ``new_items.py``).

A thumb is (pool row, shown label, 👍?): 👍 a says a, 👎 a says not a, a correction c says c,
each trusted with probability 1 − ``noise``."""

from __future__ import annotations

import numpy as np

PROPENSITY_FLOOR = 0.05  # a 👍's importance weight is at most 1 / this


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


def refused(rows, task: str, pool_index: dict[str, int], shape: tuple[int, int]) -> np.ndarray:
    """[n, K] bool: the labels a 👎 on each pool item refused (task ``task``)."""
    out = np.zeros(shape, dtype=bool)
    for r in rows:
        i = pool_index.get(r.item_id, -1)
        if r.task == task and i >= 0 and r.reward < 0 and r.shown >= 0:
            out[i, r.shown] = True
    return out


def first_label_hits(first: np.ndarray, rows) -> np.ndarray:
    """Per answer, whether the predicted first label ``first`` [n] was the item's: a correction
    counts 1 when it names it; a 👍 on it 1 / the propensity of the label shown (floored at
    ``PROPENSITY_FLOOR``); any other answer 0. Over the acting distribution the weighted 👍
    average the indicator that the first label is right: unbiased while its propensity stays
    above the floor — and silent on labels the acting never shows."""
    out = np.zeros(len(rows))
    for j, r in enumerate(rows):
        if r.corrected >= 0:
            out[j] = float(r.corrected == first[j])
        elif r.reward > 0 and r.shown == first[j]:
            out[j] = 1.0 / max(float(r.propensity), PROPENSITY_FLOOR)
    return out


def paired_z(a, b) -> float:
    """Mean over the answers both scored (the latest) of a − b, in standard errors: a
    candidate replaces the first only when it predicted the same answers clearly better."""
    n = min(len(a), len(b))
    if n < 2:
        return 0.0
    d = np.asarray(list(a)[-n:]) - np.asarray(list(b)[-n:])
    return float(d.mean() / (d.std(ddof=1) / np.sqrt(n) + 1e-9))
