"""One source of class probabilities, and their calibration (a temperature per task).

Every place that shows or scores a model's probabilities — the labelling panel (through the
trainer's ``predict_items``), ``predict`` and ``evaluate`` — calls :func:`class_probs`: the
algorithm's greedy probabilities, divided in log space by the model's fitted temperature. The
*propensity* (the probability with which a shown label was drawn, used by off-policy estimates)
is something else and is never shown as a confidence.

Temperature (one per task): fitted on **prequential answers** — each answer is scored with the
log-probabilities the model gave its item *before* training on it (``PrequentialCalibrator``,
fed by the trainer as answers arrive), so the fit never sees an answer the model had learned.
The loss is the answers' negative log-likelihood under ``softmax(log p / T)``: 👍 → −log p(shown),
correction → −log p(corrected), plain 👎 → −log(1 − p(shown)). Only answers scored by a recent
version of the model count — one that had done at least ``RECENT_SHARE`` of the current model's
updates — so that a temperature fitted on the near-uniform starting model is never applied to a
model trained hundreds of steps since. Below ``MIN_FIT`` such answers the temperature stays 1
(not fitted). The fitted temperatures, with the newest ``MAX_KEEP`` records,
travel in the checkpoint's metadata (``"calibration"``), so ``predict`` and ``evaluate`` use the
same numbers as the panel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_FIT = 20  # prequential answers needed before a temperature is fitted
MAX_KEEP = 300  # newest records kept per task (checkpoint metadata stays small)
RECENT_SHARE = 0.5  # a record counts when scored at step ≥ this share of the current step
T_RANGE = (0.05, 20.0)


# ------------------------------------------------------------------ temperature fit
def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


def temperature_nll(
    temperature: float, logits: np.ndarray, labels: np.ndarray, not_labels: np.ndarray | None = None
) -> float:
    """Mean NLL of ``softmax(logits / T)``: −log p(label) where ``labels[i] ≥ 0``, and
    −log(1 − p(not_label)) where only ``not_labels[i] ≥ 0`` (a plain 👎)."""
    lp = _log_softmax(np.asarray(logits, np.float64) / temperature)
    n = lp.shape[0]
    labels = np.asarray(labels, np.int64)
    known = labels >= 0
    total = -lp[np.arange(n)[known], labels[known]].sum()
    if not_labels is not None:
        nl = np.asarray(not_labels, np.int64)
        down = (~known) & (nl >= 0)
        p = np.exp(lp[np.arange(n)[down], nl[down]])
        total -= np.log1p(-np.minimum(p, 1 - 1e-12)).sum()
        count = int(known.sum() + down.sum())
    else:
        count = int(known.sum())
    return float(total / max(count, 1))


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, not_labels: np.ndarray | None = None
) -> float:
    """The temperature in ``T_RANGE`` that minimises :func:`temperature_nll`: a golden-section
    search on log T (the NLL is convex in 1/T, so unimodal in log T; no scipy import in the
    trainer's path)."""
    f = lambda s: temperature_nll(math.exp(s), logits, labels, not_labels)  # noqa: E731
    lo, hi = math.log(T_RANGE[0]), math.log(T_RANGE[1])
    g = (math.sqrt(5) - 1) / 2
    c, d = hi - g * (hi - lo), lo + g * (hi - lo)
    fc, fd = f(c), f(d)
    while hi - lo > 1e-4:
        if fc < fd:
            hi, d, fd = d, c, fc
            c = hi - g * (hi - lo)
            fc = f(c)
        else:
            lo, c, fc = c, d, fd
            d = lo + g * (hi - lo)
            fd = f(d)
    return float(math.exp((lo + hi) / 2))


def scale(probs, temperature: float):
    """``softmax(log probs / T)`` of a [B, K] torch tensor or numpy array (same type back)."""
    if temperature == 1.0:
        return probs
    if isinstance(probs, np.ndarray):
        lp = np.log(np.clip(probs, 1e-12, None)) / temperature
        lp -= lp.max(axis=1, keepdims=True)
        e = np.exp(lp)
        return e / e.sum(axis=1, keepdims=True)
    import torch

    return torch.softmax(torch.log(probs.float().clamp_min(1e-12)) / temperature, dim=-1)


def class_probs(algorithm, inputs, temperatures: dict[str, float] | None = None) -> dict:
    """THE class probabilities of a model, ``{task: [B, K]}``: the algorithm's greedy
    probabilities with the task's temperature applied. Panel, ``predict`` and ``evaluate`` all
    call this."""
    import torch

    temps = temperatures or {}
    with torch.no_grad():
        probs = algorithm.greedy(inputs)
    return {t: scale(p, float(temps.get(t, 1.0))) for t, p in probs.items()}


# ------------------------------------------------------------------ prequential records
@dataclass(frozen=True)
class Record:
    event_id: int
    shown: int  # label index shown, −1 if none
    reward: int  # +1 / −1 / 0
    corrected: int  # label index, −1 if none
    logp: tuple[float, ...]  # the model's log-probabilities before training on this answer
    step: int = 0  # the scoring model's update count


class PrequentialCalibrator:
    """Per task, the log-probabilities the model gave each answered item before it trained on the
    answer, and the temperature fitted on them."""

    def __init__(self) -> None:
        self.records: dict[str, dict[int, Record]] = {}
        self.temperatures: dict[str, float] = {}
        self.fitted_on: dict[str, int] = {}

    def observe(self, rows, logp: dict[str, np.ndarray], step: int = 0) -> None:
        """``rows``: replay rows (event_id, task, shown, reward, corrected), ``logp[task][i]``
        the log-probabilities for ``rows[i]``'s item, computed before training on it by the
        model at update ``step``."""
        for i, r in enumerate(rows):
            if r.task not in logp:
                continue
            rec = Record(
                int(r.event_id),
                int(r.shown),
                int(r.reward),
                int(r.corrected),
                tuple(round(float(v), 4) for v in logp[r.task][i]),
                int(step),
            )
            recs = self.records.setdefault(r.task, {})
            recs.setdefault(rec.event_id, rec)  # the first look (before training) wins
            while len(recs) > MAX_KEEP:
                recs.pop(min(recs))

    def forget(self, event_id: int) -> None:
        """A retracted answer leaves the fit."""
        for recs in self.records.values():
            recs.pop(int(event_id), None)

    def fit(self, step: int = 0) -> dict[str, float]:
        """Refit each task's temperature for the model at update ``step`` (1.0 below ``MIN_FIT``
        usable answers scored by a recent version of it)."""
        since = RECENT_SHARE * step
        for task, recs in self.records.items():
            use = [
                r
                for r in recs.values()
                if r.step >= since and (r.corrected >= 0 or (r.shown >= 0 and r.reward))
            ]
            if len(use) < MIN_FIT:
                self.temperatures[task], self.fitted_on[task] = 1.0, len(use)
                continue
            logits = np.array([r.logp for r in use])
            labels = np.array(
                [
                    r.corrected if r.corrected >= 0 else (r.shown if r.reward > 0 else -1)
                    for r in use
                ]
            )
            down = np.array([r.shown if r.corrected < 0 and r.reward < 0 else -1 for r in use])
            self.temperatures[task] = round(fit_temperature(logits, labels, down), 4)
            self.fitted_on[task] = len(use)
        return dict(self.temperatures)

    def to_meta(self) -> dict:
        return {
            "temperature": dict(self.temperatures),
            "fitted_on": dict(self.fitted_on),
            "records": {
                t: [
                    [r.event_id, r.shown, r.reward, r.corrected, list(r.logp), r.step]
                    for r in recs.values()
                ]
                for t, recs in self.records.items()
            },
        }

    @classmethod
    def from_meta(cls, meta, labels: dict[str, list[str]]) -> PrequentialCalibrator:
        """Restore from a checkpoint's ``"calibration"`` (anything malformed is dropped)."""
        cal = cls()
        if not isinstance(meta, dict):
            return cal
        try:
            for t, rows in (meta.get("records") or {}).items():
                k = len(labels.get(t, ()))
                recs = {}
                for row in rows:
                    eid, shown, reward, corr, lp = row[:5]
                    step = int(row[5]) if len(row) > 5 else 0
                    if k and len(lp) == k:
                        lp = tuple(float(v) for v in lp)
                        rec = Record(int(eid), int(shown), int(reward), int(corr), lp, step)
                        recs[int(eid)] = rec
                cal.records[t] = recs
            for t, v in (meta.get("temperature") or {}).items():
                if t in labels and T_RANGE[0] <= float(v) <= T_RANGE[1]:
                    cal.temperatures[t] = float(v)
                    cal.fitted_on[t] = int((meta.get("fitted_on") or {}).get(t, 0))
        except (TypeError, ValueError, AttributeError):
            return cls()
        return cal


def answered_items(trainer, rows) -> tuple[list, dict]:
    """``rows`` (replay rows) whose items are readable, and those items by id; none when an
    item is gone from the store (nothing is scored this time)."""
    if not rows:
        return [], {}
    try:
        ids = list(dict.fromkeys(r.item_id for r in rows))
        items = {it.item_id: it for it in trainer.featurizer.readable(trainer._items(ids))}
    except KeyError:
        return [], {}
    return [r for r in rows if r.item_id in items], items


def observe_events(trainer, events) -> None:
    """Record, for the new answers among ``events``, the trainer's current (not yet trained on
    them) log-probabilities; a retraction removes its answer's record."""
    import torch

    cal = trainer.calibrator
    for e in events:
        if e.kind == "retraction" and e.retracts is not None:
            cal.forget(e.retracts)
    rows = [trainer._row(e) for e in events if e.kind == "feedback"]
    rows, items = answered_items(trainer, [r for r in rows if r is not None][-MAX_KEEP:])
    logp: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(rows), 256):
        chunk = [items[r.item_id] for r in rows[start : start + 256]]
        probs = class_probs(trainer.algorithm, trainer.featurizer.batch(chunk))
        for t, p in probs.items():
            logp.setdefault(t, []).append(torch.log(p.double().clamp_min(1e-12)).numpy())
    if rows:
        cal.observe(rows, {t: np.concatenate(v) for t, v in logp.items()}, trainer.updates)


def temperatures_from_meta(meta) -> tuple[dict[str, float], dict[str, int]]:
    """(temperature, answers fitted on) per task from a checkpoint's metadata; empty when the
    checkpoint carries none (an older one): temperature 1."""
    cal = meta.get("calibration") if isinstance(meta, dict) else None
    if not isinstance(cal, dict):
        return {}, {}
    temps, fitted = {}, {}
    given, on = cal.get("temperature"), cal.get("fitted_on")
    on = on if isinstance(on, dict) else {}
    for t, v in (given if isinstance(given, dict) else {}).items():
        try:
            if T_RANGE[0] <= float(v) <= T_RANGE[1]:
                fitted[t] = int(on.get(t, 0))
                temps[t] = float(v)
        except (TypeError, ValueError, AttributeError):
            continue
    return temps, fitted


def describe(temperature: float, fitted_on: int) -> str:
    """E.g. "temperature 1.70 fitted on 40 prequential answers"."""
    if fitted_on < MIN_FIT:
        return (
            f"not calibrated (temperature 1: {fitted_on} answers scored by a recent version of "
            f"this model before it trained on them; a fit needs ≥ {MIN_FIT})"
        )
    return f"temperature {temperature:.2f} fitted on {fitted_on} prequential answers"
