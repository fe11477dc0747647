"""Classification metrics in plain numpy: accuracy, macro-F1, per-class precision/recall/F1,
confusion matrix, expected calibration error and reliability-diagram data, and the Wilson
interval of a proportion.

Inputs are true class indices ``y_true`` (shape ``[N]``) and predicted class probabilities
``probs`` (shape ``[N, K]``); the prediction is ``argmax(probs)``. Conventions follow
scikit-learn with ``zero_division=0``: a class that is never predicted has precision 0, a class
with no true items has recall 0, and an F1 whose precision and recall are both 0 is 0. Macro-F1
averages F1 over the classes that occur in ``y_true`` or in the predictions (as
``sklearn.metrics.f1_score(average="macro")`` does when ``labels`` is not given).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_BINS = 10


def _check(y_true, probs) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != y.shape[0]:
        raise ValueError(f"probs must be [N, K] with N = {y.shape[0]}, got {p.shape}")
    if y.size and (y.min() < 0 or y.max() >= p.shape[1]):
        raise ValueError("y_true holds a class index outside 0..K-1")
    return y, p


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (scikit-learn's zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """``[K, K]`` counts: row = true class, column = predicted class."""
    y = np.asarray(y_true, dtype=np.int64).reshape(-1)
    yp = np.asarray(y_pred, dtype=np.int64).reshape(-1)
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (y, yp), 1)
    return cm


def accuracy(y_true, y_pred) -> float:
    y = np.asarray(y_true).reshape(-1)
    yp = np.asarray(y_pred).reshape(-1)
    return float(np.mean(y == yp)) if y.size else float("nan")


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """precision, recall, f1 and support per class from a confusion matrix."""
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0)
    support = cm.sum(axis=1)
    precision = _div(tp, predicted)
    recall = _div(tp, support)
    f1 = _div(2 * tp, predicted + support)  # = 2PR/(P+R), as sklearn computes it: exact in counts
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes present in the truth or the predictions (sklearn's default);
    the app's one macro-F1 (evaluation, the trainer's held-out metrics, ``bench``).

    Empty input (no class present: no items) has no F1: NaN, which reports write as ``null``;
    it is never 0, which would read as a model that is always wrong."""
    present = (cm.sum(axis=0) + cm.sum(axis=1)) > 0
    if not present.any():
        return float("nan")
    return float(per_class(cm)["f1"][present].mean())


def reliability(y_true, probs, n_bins: int = DEFAULT_BINS) -> dict:
    """Expected calibration error over ``n_bins`` equal-width confidence bins on [0, 1].

    The confidence of a prediction is its top probability; a prediction falls in bin ``b`` when
    ``b/n <= conf < (b+1)/n`` (confidence 1.0 goes in the last bin). ECE is
    ``sum_b (count_b / N) * |accuracy_b - confidence_b|``. Empty bins have ``None`` confidence
    and accuracy (JSON ``null``) and count 0.
    """
    y, p = _check(y_true, probs)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == y).astype(np.float64)
    idx = np.clip((conf * n_bins).astype(np.int64), 0, n_bins - 1)
    bins = []
    ece = 0.0
    n = max(len(y), 1)
    for b in range(n_bins):
        mask = idx == b
        count = int(mask.sum())
        if count:
            c = float(conf[mask].mean())
            a = float(correct[mask].mean())
            ece += count / n * abs(a - c)
        else:
            c = a = None
        bins.append(
            {
                "lower": b / n_bins,
                "upper": (b + 1) / n_bins,
                "confidence": c,
                "accuracy": a,
                "count": count,
            }
        )
    return {"ece": float(ece) if len(y) else float("nan"), "bins": bins}


def wilson_interval(successes, n, z: float = 1.959963984540054):
    """Wilson score interval of a proportion ``successes / n`` (95 % for the default ``z``).

    Unlike the normal ("Wald") interval it stays inside [0, 1] and is not degenerate at 0 or n
    successes, so it is honest for the small counts of the first answers. ``n == 0`` gives the
    uninformative ``(0.0, 1.0)``. Same bounds as ``statsmodels``' ``proportion_confint(…,
    method="wilson")`` and ``scipy.stats.binomtest(…).proportion_ci(method="wilson")``.

    Scalars give a ``(low, high)`` pair of floats; arrays (e.g. a running count) give a pair of
    arrays, element by element.
    """
    k = np.asarray(successes, dtype=np.float64)
    m = np.asarray(n, dtype=np.float64)
    if np.any(m < 0) or np.any(k < 0) or np.any(k > m):
        raise ValueError(f"need 0 <= successes <= n, got {successes} of {n}")
    safe = np.maximum(m, 1.0)
    p = k / safe
    z2 = z * z
    denom = 1.0 + z2 / safe
    centre = (p + z2 / (2 * safe)) / denom
    half = z / denom * np.sqrt(p * (1.0 - p) / safe + z2 / (4.0 * safe * safe))
    low = np.where(m > 0, np.maximum(0.0, centre - half), 0.0)
    high = np.where(m > 0, np.minimum(1.0, centre + half), 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _nan_to_none(x: float) -> float | None:
    return None if x != x else float(x)


def classification_report(y_true, probs, labels: Sequence[str], n_bins: int = DEFAULT_BINS) -> dict:
    """Every metric above in one JSON-ready dict (plain floats/ints/lists, NaN → None)."""
    y, p = _check(y_true, probs)
    k = p.shape[1]
    if len(labels) != k:
        raise ValueError(f"{len(labels)} label names for {k} classes")
    y_pred = p.argmax(axis=1) if len(y) else np.zeros(0, dtype=np.int64)
    cm = confusion_matrix(y, y_pred, k)
    pc = per_class(cm)
    rel = reliability(y, p, n_bins)
    return {
        "n": int(len(y)),
        "labels": [str(lab) for lab in labels],
        "accuracy": _nan_to_none(accuracy(y, y_pred)),
        "macro_f1": _nan_to_none(macro_f1(cm)),
        "per_class": {
            str(lab): {
                "precision": float(pc["precision"][i]),
                "recall": float(pc["recall"][i]),
                "f1": float(pc["f1"][i]),
                "support": int(pc["support"][i]),
            }
            for i, lab in enumerate(labels)
        },
        "confusion_matrix": cm.tolist(),
        "ece": _nan_to_none(rel["ece"]),
        "reliability": rel["bins"],
    }
