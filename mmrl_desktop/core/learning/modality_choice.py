"""Which of an item's modalities the model shown predicts from (``[model] modality_choice``,
ADR 0039).

A model of several modalities fuses them (``model/fusion.py``); with few answers one of them
may predict better alone than the fusion does — a picture whose network has memorised the
answers adds noise to a sound that already tells the label (docs/benchmarks.md §5zz8). Each
new answer is scored, before the model trains on it, by the model shown with every modality
and with each modality alone: the log-likelihood of what the expert said (👍 → p(shown),
correction → p(corrected), plain 👎 → 1 − p(shown); the calibration's score,
``calibration.py``). The scores decay by ``DECAY`` an answer (the models change as they
learn); a modality alone is chosen when its score beats the fusion's by ``MARGIN`` nats after
at least ``MIN_SCORED`` answers, else every modality is fused. The choice is the fusion's
``used`` buffer, so it travels with the model's weights and its exports; the scores travel in
the checkpoint's metadata (``to_meta``), so a resumed trainer goes on scoring where it stopped.
A retracted answer (undo) leaves the scores: its decayed term is taken out again (the last
``KEEP`` answers' terms are kept for that; an older one weighs less than 1e-4).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from mmrl_desktop.core.learning.calibration import answered_items
from mmrl_desktop.core.learning.device import evaluating
from mmrl_desktop.core.learning.model.fusion import MaskedMeanFusion

DECAY = 0.95  # per answer: the last ~20 answers weigh most
MARGIN = 1.0  # nats by which a modality alone must beat the fusion
MIN_SCORED = 8  # answers scored before anything but the fusion is chosen
MAX_BATCH = 64  # answers scored at once (a log read at start: its newest)
KEEP = 200  # the newest answers whose terms are kept, for a retraction (DECAY ** KEEP < 1e-4)


def fusions(algorithm) -> list[MaskedMeanFusion]:
    """The fusion of every model the algorithm predicts or trains with (trained, averaged, held)."""
    models = [getattr(algorithm, n, None) for n in ("policy", "average", "held")]
    return [f for m in models if m is not None for f in [getattr(m, "fusion", None)]
            if isinstance(f, MaskedMeanFusion)]  # fmt: skip


def outcome_loglik(probs: torch.Tensor, shown: int, reward: int, corrected: int) -> float | None:
    """log p of what the expert said about an item whose class probabilities are ``probs``
    (None when the answer says nothing the score can use)."""
    if corrected >= 0:
        p = float(probs[corrected])
    elif shown >= 0 and reward > 0:
        p = float(probs[shown])
    elif shown >= 0 and reward < 0:
        p = 1.0 - float(probs[shown])
    else:
        return None
    return math.log(min(max(p, 1e-6), 1.0))


class ModalityChoice:
    """Decayed prequential scores of "all modalities" and of each modality alone."""

    def __init__(self, modalities: list[str]):
        self.modalities = list(modalities)
        self.scores = np.zeros(1 + len(self.modalities))  # [all, each alone]
        self.scored = 0  # answers in the scores (a retracted one leaves)
        self.seen = 0  # the newest answer (event id) scored: none is scored twice
        self.adds = 0  # decay steps so far (a retraction takes none back)
        self.terms: dict[int, tuple[int, list[float]]] = {}  # event id → (adds then, logliks)

    @property
    def candidates(self) -> list[tuple[str, ...]]:
        return [tuple(self.modalities)] + [(m,) for m in self.modalities]

    def add(self, logliks, event_id: int | None = None) -> None:
        """One answer's log-likelihoods, in ``candidates``' order (``event_id``: so that its
        retraction can take them out)."""
        self.scores = DECAY * self.scores + np.asarray(logliks, float)
        self.scored += 1
        self.adds += 1
        if event_id is not None:
            self.terms[int(event_id)] = (self.adds, [float(v) for v in logliks])
            while len(self.terms) > KEEP:
                self.terms.pop(min(self.terms))

    def forget(self, event_id: int) -> None:
        """A retracted answer leaves the scores (one older than the last ``KEEP``: its weight
        is below 1e-4, it stays)."""
        term = self.terms.pop(int(event_id), None)
        if term is None:
            return
        at, logliks = term
        self.scores = self.scores - DECAY ** (self.adds - at) * np.asarray(logliks, float)
        self.scored = max(0, self.scored - 1)

    def to_meta(self) -> dict:
        """The scores for a checkpoint's metadata (``resume.checkpoint_meta``)."""
        return {
            "modalities": self.modalities,
            "scores": self.scores.tolist(),
            "scored": self.scored,
            "seen": self.seen,
            "adds": self.adds,
            "terms": [[e, at, ll] for e, (at, ll) in self.terms.items()],
        }

    @classmethod
    def from_meta(cls, modalities: list[str], meta) -> ModalityChoice:
        """A chooser for ``modalities`` with the scores ``to_meta`` saved; fresh scores when the
        saved ones are of other modalities, or anything in them is malformed."""
        chooser = cls(modalities)
        if not isinstance(meta, dict) or meta.get("modalities") != chooser.modalities:
            return chooser
        try:
            scores = np.asarray(meta["scores"], dtype=float)
            scored, seen = int(meta["scored"]), int(meta.get("seen", 0))
        except (KeyError, TypeError, ValueError):
            return chooser
        if scores.shape == chooser.scores.shape and np.isfinite(scores).all() and scored >= 0:
            chooser.scores, chooser.scored, chooser.seen = scores, scored, seen
            chooser.adds, chooser.terms = _terms(meta, scored, len(scores))
        return chooser

    def choice(self) -> tuple[str, ...] | None:
        """The modalities to fuse: every one, unless one alone has beaten them by ``MARGIN``;
        None before ``MIN_SCORED`` answers (the choice stays as it is: after a resume, the
        saved model's)."""
        if self.scored < MIN_SCORED:
            return None
        best = 1 + int(np.argmax(self.scores[1:]))
        if self.scores[best] - self.scores[0] >= MARGIN:
            return self.candidates[best]
        return tuple(self.modalities)


def _terms(meta: dict, scored: int, width: int) -> tuple[int, dict]:
    """The saved decay steps and answers' terms; none when the checkpoint was saved before
    them or they are malformed (those answers then stay in the scores when retracted)."""
    try:
        adds = int(meta.get("adds", scored))
        terms = {int(e): (int(at), [float(v) for v in ll]) for e, at, ll in meta.get("terms", [])}
    except (TypeError, ValueError, OverflowError):
        return scored, {}
    if any(len(ll) != width or not 0 < at <= adds for at, ll in terms.values()):
        return scored, {}
    return adds, terms


def used_by(algorithm) -> list[str] | None:
    """The modalities the model shown predicts from (None: a model without a fusion)."""
    f = getattr(algorithm.shown, "fusion", None)
    if not isinstance(f, MaskedMeanFusion):
        return None
    return [m for m, on in zip(f.modalities, f.used.tolist(), strict=True) if on]


def summary(algorithm) -> dict:
    """``modalities`` (those the model shown reads) and ``modalities_used`` (those it predicts
    from) for a command's JSON ``model``; both None for a model without a fusion."""
    f = getattr(getattr(algorithm, "shown", None), "fusion", None)  # a generate model: none
    if not isinstance(f, MaskedMeanFusion):
        return {"modalities": None, "modalities_used": None}
    return {"modalities": list(f.modalities), "modalities_used": used_by(algorithm)}


def set_used(algorithm, modalities: tuple[str, ...]) -> None:
    """Every fusion of ``algorithm`` fuses only ``modalities`` when it predicts."""
    for f in fusions(algorithm):
        f.used.copy_(torch.tensor([m in modalities for m in f.modalities]))


def start(trainer) -> ModalityChoice | None:
    """The trainer's chooser, when its model fuses several modalities and the project chose
    ``modality_choice = "prequential"``; otherwise every fusion fuses every modality (a model
    loaded from a time the option was on included). A read-only trainer (``evaluate``,
    ``predict``, ``export``: a saved model, no checkpoints of its own) has no chooser: it
    predicts from the modalities the saved model had chosen, as the app did. A resumed one
    goes on from the scores its checkpoint saved (``trainer.saved_choice``)."""
    fs = fusions(trainer.algorithm)
    if not fs or len(fs[0].modalities) < 2:
        return None
    if trainer.model_config.modality_choice != "prequential":
        set_used(trainer.algorithm, tuple(fs[0].modalities))
        return None
    if trainer.resume and not trainer.checkpoints_enabled:
        return None
    return ModalityChoice.from_meta(fs[0].modalities, trainer.saved_choice)


def observe_events(trainer, events) -> None:
    """``observe`` the answers among ``events``; then the retractions among them leave the
    scores."""
    chooser: ModalityChoice | None = trainer.modality_choice
    if chooser is None:
        return
    rows = [trainer._row(e) for e in events if e.kind == "feedback"]
    observe(trainer, [r for r in rows if r is not None])
    for e in events:
        if e.kind == "retraction" and e.retracts is not None:
            chooser.forget(e.retracts)  # the choice follows in ``reapply``, after the ingest


def reapply(trainer) -> None:
    """The chooser's choice on every fusion again, after the trainer read its events (an
    undo's rollback loads a model state whose flags are of that state's time, a retraction
    changes the scores) or a NaN guard loaded its snapshot. Below ``MIN_SCORED`` answers the
    flags loaded stay, as after a resume."""
    chooser: ModalityChoice | None = trainer.modality_choice
    chosen = chooser.choice() if chooser is not None else None
    if chosen is not None:
        set_used(trainer.algorithm, chosen)


def observe(trainer, rows) -> None:
    """Score the new answers ``rows`` (replay rows, not yet trained on) with the model shown
    under each candidate, then set the fusion to the choice."""
    chooser: ModalityChoice | None = trainer.modality_choice
    if chooser is None:
        return
    # an answer read again after a resume (given while a refit ran, so after the checkpoint's
    # last trained event) was scored before its save: once, before any training on it
    rows = [r for r in rows if r.event_id > chooser.seen][-MAX_BATCH:]
    if not rows:
        return
    alg = trainer.algorithm
    shown = alg.shown
    fusion = getattr(shown, "fusion", None)
    if not isinstance(fusion, MaskedMeanFusion):
        return
    rows, items = answered_items(trainer, rows)
    if not rows:
        return
    inputs = trainer.featurizer.batch([items[r.item_id] for r in rows])
    inputs = {k: v.to(alg.device) for k, v in inputs.items()}
    before = fusion.used.clone()
    probs = []
    try:
        for cand in chooser.candidates:
            fusion.used.copy_(torch.tensor([m in cand for m in fusion.modalities]))
            with evaluating(shown):
                logits = shown(inputs)
            probs.append({t: F.softmax(lg.float(), -1).cpu() for t, lg in logits.items()})
    finally:
        fusion.used.copy_(before)
    for i, r in enumerate(rows):
        ll = [outcome_loglik(p[r.task][i], r.shown, r.reward, r.corrected) for p in probs]
        if all(v is not None for v in ll):
            chooser.add(ll, r.event_id)
        chooser.seen = max(chooser.seen, int(r.event_id))
    chosen = chooser.choice()
    if chosen is not None:
        set_used(alg, chosen)
