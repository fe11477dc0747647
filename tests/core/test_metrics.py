"""metrics.py against scikit-learn on a fixed example, including a class that is never predicted."""

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from mmrl_desktop.core import metrics

LABELS = ["cat", "dog", "fox", "owl"]
# class 3 ("owl") is in the truth but never predicted; class 2 is predicted but wrong once
Y_TRUE = np.array([0, 0, 0, 1, 1, 1, 2, 2, 3, 3])
PROBS = np.array(
    [
        [0.90, 0.05, 0.03, 0.02],
        [0.60, 0.30, 0.05, 0.05],
        [0.20, 0.70, 0.05, 0.05],
        [0.10, 0.80, 0.05, 0.05],
        [0.15, 0.55, 0.20, 0.10],
        [0.05, 0.15, 0.75, 0.05],
        [0.10, 0.10, 0.70, 0.10],
        [0.30, 0.10, 0.35, 0.25],
        [0.50, 0.10, 0.10, 0.30],
        [0.10, 0.45, 0.05, 0.40],
    ]
)
Y_PRED = PROBS.argmax(axis=1)


def test_report_matches_sklearn():
    rep = metrics.classification_report(Y_TRUE, PROBS, LABELS)
    assert rep["accuracy"] == pytest.approx(skm.accuracy_score(Y_TRUE, Y_PRED))
    assert rep["macro_f1"] == pytest.approx(
        skm.f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0)
    )
    p, r, f, s = skm.precision_recall_fscore_support(
        Y_TRUE, Y_PRED, labels=range(4), zero_division=0
    )
    for i, lab in enumerate(LABELS):
        pc = rep["per_class"][lab]
        assert pc["precision"] == pytest.approx(p[i])
        assert pc["recall"] == pytest.approx(r[i])
        assert pc["f1"] == pytest.approx(f[i])
        assert pc["support"] == s[i]
    assert rep["per_class"]["owl"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 2}
    assert rep["confusion_matrix"] == skm.confusion_matrix(Y_TRUE, Y_PRED, labels=range(4)).tolist()
    json.dumps(rep, allow_nan=False)  # JSON-ready


def test_macro_f1_ignores_classes_absent_from_truth_and_predictions():
    probs = PROBS[Y_TRUE != 3][:, :]  # no "owl" anywhere (never predicted either)
    y = Y_TRUE[Y_TRUE != 3]
    rep = metrics.classification_report(y, probs, LABELS)
    assert rep["macro_f1"] == pytest.approx(
        skm.f1_score(y, probs.argmax(1), average="macro", zero_division=0)
    )


def test_ece_and_reliability_by_hand():
    rep = metrics.classification_report(Y_TRUE, PROBS, LABELS, n_bins=10)
    conf = PROBS.max(1)
    correct = Y_PRED == Y_TRUE
    bins = np.minimum((conf * 10).astype(int), 9)
    expected = sum(
        (bins == b).mean() * abs(correct[bins == b].mean() - conf[bins == b].mean())
        for b in set(bins)
    )
    assert rep["ece"] == pytest.approx(expected)
    assert sum(b["count"] for b in rep["reliability"]) == len(Y_TRUE)
    assert len(rep["reliability"]) == 10
    empty = [b for b in rep["reliability"] if b["count"] == 0]
    assert empty and all(b["confidence"] is None and b["accuracy"] is None for b in empty)
    # a perfectly confident, perfectly right model has zero ECE; confidence 1.0 goes in the last bin
    onehot = np.eye(4)[Y_TRUE]
    rel = metrics.reliability(Y_TRUE, onehot, 10)
    assert rel["ece"] == 0.0 and rel["bins"][-1]["count"] == len(Y_TRUE)


def test_empty_and_bad_input():
    rep = metrics.classification_report(np.zeros(0, int), np.zeros((0, 2)), ["a", "b"])
    assert rep["n"] == 0 and rep["accuracy"] is None and rep["macro_f1"] is None
    with pytest.raises(ValueError):
        metrics.classification_report([0, 1], np.zeros((3, 2)), ["a", "b"])
    with pytest.raises(ValueError):
        metrics.classification_report([0, 2], np.zeros((2, 2)), ["a", "b"])
    with pytest.raises(ValueError):
        metrics.classification_report([0, 1], np.zeros((2, 2)), ["a"])


def test_one_macro_f1_and_its_empty_case_is_nan():
    """The trainer's held-out macro-F1 and bench's are core/metrics.py's (trainer_eval and
    bench have no copy): exact on counts, and NaN on empty input (no class present), never a 0
    that reads as a model always wrong."""
    from mmrl_desktop.core.learning import trainer_eval
    from mmrl_desktop.core.tools import bench

    assert not hasattr(trainer_eval, "macro_f1") and bench.macro_f1 is metrics.macro_f1
    cm = metrics.confusion_matrix(Y_TRUE, Y_PRED, 4)
    f1 = metrics.macro_f1(cm)
    tp = np.diag(cm)
    present = (cm.sum(0) + cm.sum(1)) > 0
    by_counts = 2 * tp / (cm.sum(0) + cm.sum(1)).clip(min=1)  # 2TP / (2TP + FP + FN)
    assert f1 == float(np.mean(by_counts[present]))  # exact: computed from counts
    assert f1 == pytest.approx(skm.f1_score(Y_TRUE, Y_PRED, average="macro", zero_division=0))
    empty = np.zeros(0, dtype=np.int64)
    assert np.isnan(metrics.macro_f1(metrics.confusion_matrix(empty, empty, 3)))
