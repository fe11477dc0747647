"""The trainer's predictions and held-out evaluation (``Trainer`` inherits them).

    preds = trainer.predict_items(ids)      # {item_id: {task: Prediction}}: the label to show
    trainer.set_queue(ids)                  # items predicted anew after each model version
    trainer.evaluate_items(items)           # {"eval/accuracy_<task>": …, "eval/macro_f1_<task>": …}

The confidence shown is ``core/learning/calibration.py``'s class probabilities; the shown label is the
algorithm's ``act`` (with exploration) and its propensity.
"""

from __future__ import annotations

import numpy as np

from mmrl_desktop.core import metrics
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.core.learning.calibration import class_probs


class TrainerPredictions:
    """Mixin of ``Trainer``: uses its store, featurizer, algorithm, labels and calibrator."""

    def _items(self, ids: list[str]) -> list[Item]:
        return [self.store.item(i) for i in ids]

    def predict_items(self, item_ids: list[str]) -> dict[str, dict[str, Prediction]]:
        """The label to show (with exploration) + greedy probabilities for each item."""
        self._ensure_built()
        out: dict[str, dict[str, Prediction]] = {}
        for start in range(0, len(item_ids), 256):
            ids = item_ids[start : start + 256]
            inputs = self.featurizer.batch(self._items(ids))
            actions = self.algorithm.act(inputs, self.act_gen, ids)
            # the confidence shown: the one source of probabilities (core/learning/calibration.py), not
            # the sampling distribution nor the propensity
            shown = class_probs(self.algorithm, inputs, self.calibrator.temperatures)
            for row, iid in enumerate(ids):
                per = {}
                for t, a in actions.items():
                    labels = self.labels[t]
                    probs = shown[t][row].tolist()
                    per[t] = Prediction(
                        iid,
                        t,
                        self.model_version,
                        labels[int(a.labels[row])],
                        float(min(1.0, max(1e-6, float(a.propensity[row])))),
                        {lab: float(p) for lab, p in zip(labels, probs, strict=True)},
                    )
                out[iid] = per
        return out

    def acting_beliefs(self, item_ids: list[str], generator) -> dict[str, np.ndarray]:
        """{task: [B, K]} the belief each item's shown label is drawn from (the default
        algorithm: its graph posterior row; others: their greedy probabilities). ``generator``:
        the caller's, so that asking leaves the shown labels' random stream as it was."""
        self._ensure_built()
        inputs = self.featurizer.batch(self._items(item_ids))
        actions = self.algorithm.act(inputs, generator, item_ids)
        return {t: a.probs.double().numpy() for t, a in actions.items()}

    def set_queue(self, item_ids: list[str] | None) -> None:
        """Items whose predictions are refreshed after each model version (None: automatic)."""
        self.queue = None if item_ids is None else list(item_ids)

    def _refresh_queue_predictions(self) -> None:
        ids = self.queue
        if ids is None:
            answered = self.store.answered_item_ids()
            ids = [i for i in self.pool_ids if i not in answered][: self.queue_size]
        if ids:
            preds = self.predict_items(ids)
            self.store.put_predictions([p for per in preds.values() for p in per.values()])

    def greedy_labels(self, items: list[Item], network: bool = False) -> dict[str, np.ndarray]:
        """Greedy label index per task for ``items``, items the learner holds no answer of
        (``predict_unseen``); ``network``: the network's alone, as an export predicts."""
        self._ensure_built()
        out: dict[str, list[np.ndarray]] = {t: [] for t in self.labels}
        predict = self.algorithm.greedy if network else self.algorithm.predict_unseen
        for start in range(0, len(items), 256):
            probs = predict(self.featurizer.batch(items[start : start + 256]))
            for t, p in probs.items():
                out[t].append(p.argmax(-1).numpy())
        return {t: np.concatenate(v) if v else np.zeros(0, int) for t, v in out.items()}

    def evaluate_items(self, items: list[Item]) -> dict[str, float]:
        """Held-out accuracy and macro-F1 per task (``eval/…``, ``core/metrics.py``) over the
        labelled ``items``; a task none of them is labelled for has no keys. Where the algorithm
        predicts new items with more than its network (``votes_for_new_items``), also
        ``eval/network_accuracy_<task>``: the network alone, as an export predicts."""
        preds = self.greedy_labels(items)
        alone = (
            self.greedy_labels(items, network=True) if self.algorithm.votes_for_new_items else {}
        )
        out: dict[str, float] = {}
        for t, labels in self.labels.items():
            idx = self.label_index[t]
            rows = [i for i, it in enumerate(items) if it.labels.get(t) in idx]
            if not rows:
                continue
            y = np.array([idx[items[i].labels[t]] for i in rows])
            p = preds[t][rows]
            cm = metrics.confusion_matrix(y, p, len(labels))
            out[f"eval/accuracy_{t}"] = metrics.accuracy(y, p)
            out[f"eval/macro_f1_{t}"] = metrics.macro_f1(cm)
            if t in alone:  # the network alone: what an export of the model predicts
                out[f"eval/network_accuracy_{t}"] = metrics.accuracy(y, alone[t][rows])
        return out

    def evaluate_ids(self, item_ids: list[str]) -> dict[str, float]:
        return self.evaluate_items(self._items(item_ids))
