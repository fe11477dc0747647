"""Which item the expert is asked about next (issue 19, ADR 0013): the next-item strategies.

    cands = pool_candidates(trainer, items, task, embedding=True)   # fresh predictions
    picks = choose("diverse", cands, n=10, rng=np.random.default_rng(0), random_fraction=0.1)
    [Pick(item_id, propensity, uniform), ...]

The strategies (``config.NEXT_ITEM_NAMES``):

* ``shuffle``: the queue's own order, a fixed pseudo-random permutation of the items
  (``core/labelling/session.queue_order``): the first unanswered ones. It does not look at the
  model or the labels, so each pick is, over the permutation, a uniform draw from the unanswered
  items: its propensity is ``1 / unanswered``.
* ``uncertain``: the item whose answer tells the model most. For thumbs, the expected information
  gain of a thumb on the label that would be shown: a thumb on label ``l`` of an item with class
  probabilities ``p`` tells ``h(p_l)`` bits (the binary entropy: 👍 leaves no doubt, 👎 leaves the
  rest), and the label shown is drawn about as ``p``, so the gain is ``Σ_l p_l h(p_l)``. For a
  learner that gets the true label on every answer (``measure="margin"``, the supervised anchor):
  the smallest margin between the two most probable labels.
* ``diverse``: uncertain, spread over the embedding space: among the ``DIVERSE_POOL × n`` most
  uncertain items, greedy k-center — the first pick is the most uncertain, each next one the
  candidate farthest (cosine) from every pick of the batch so far — so ten questions are not ten
  copies of one case. (``TYPICAL`` > 0, an experiment, off: the distance times the candidate's
  ``typicality``, so a lone outlier is not asked first; no better on words, benchmarks §6i.)
* ``likely-positive``: highest probability of the positive label first (ASReview-style
  screening).

Every strategy except ``shuffle`` draws each pick, with probability ``random_fraction`` (ε),
uniformly from the unanswered items instead; the log then holds a known uniform part usable for
evaluation and by another model (Lowell, Lipton & Wallace 2018). Each pick carries its selection
probability *given the model and the batch's earlier picks*: ``ε / m + (1 − ε) · [i is the
strategy's choice]`` with ``m`` unanswered items left. It is exact, but for the deterministic
strategies it is ``ε / m`` for every item but one: an off-policy estimate that weights by it can
only use the uniform part (ADR 0013).

Candidates without model predictions (before the first model) are taken in queue order, and so
are the first ``WARM_UP_PER_LABEL`` answers per label (``warm_up_answers``). ``uncertain`` and
``diverse`` also wait until the model's uncertainty has been shown to mean something
(``Readiness``): its score of each item, taken before the item was asked in the queue order,
predicted the 👎 of the last ``READY_WINDOW`` such answers better than chance by ``READY_Z``
standard errors (rank AUC), and the label it showed on them was right well above chance
(``READY_SKILL``: its prequential accuracy there, chance taken out). On a small folder the
network can stay near chance for a hundred answers; ranking by its uncertainty then asks a
biased, not a useful, sample. And a weak model's uncertainty can rank its 👎 well while asking
its unsure items still costs: on spoken words (8 labels) thumbs only at .3 👍, `diverse` lost
.036 at 300 answers to the queue order (seeds 0–4, benchmarks §6g); with ``READY_SKILL`` it
chooses from 160–260 answers there (never on one seed of eleven) and is .006 below the
queue order over seeds 0–10 (§6h, §6i: the paired interval holds 0).

``NextItemChooser`` is the trainer process's side (``trainer_loop``): after a new model version,
once ``REPICK_ANSWERS`` answers came since its last choice, it scores the unanswered pool items
(at most ``MAX_CANDIDATES``, a uniform random subset of a larger pool: the uniform part's
probability ``ε / m`` stays exact, the strategy's own choice is then the best of the subset) and
chooses the next ``BATCH``. A project with several tasks is ordered by its first task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mmrl_desktop.core.config import NEXT_ITEM_NAMES
from mmrl_desktop.core.errors import UserError

DIVERSE_POOL = 10  # diverse picks among the DIVERSE_POOL × n most uncertain items
MEASURES = ("thumb", "margin")
BATCH = 16  # the trainer chooses this many next items at a time
REPICK_ANSWERS = 5  # and chooses again after a new model version once this many answers came
MAX_CANDIDATES = 4096  # a larger unanswered pool is scored on a uniform random subset
WARM_UP_PER_LABEL = 10  # the first 10 answers per label come in the queue order
READY_Z = 2.5  # uncertain/diverse choose once their uncertainty predicted 👎 by this many SEs
READY_WINDOW = 40  # ... on the last this many answers scored before they were asked
READY_MIN = 5  # ... with at least this many 👍 and this many 👎 among them
READY_SKILL = 0.4  # ... and 👍 on 1/K + READY_SKILL·(1 − 1/K) of them or more (K labels)
GATED = ("uncertain", "diverse")  # the orders that rank by the model's uncertainty
HANDBACK_SHARE = None  # uncertain/diverse: the queue order again once this share of the pool has
# answers (None: never, the default: an experiment, benchmarks §6u)
POWER = 0.0  # uncertain: 0 = the most uncertain item; β > 0 = each drawn ∝ uncertainty^β
TYPICAL = 0.0  # diverse: after the first pick, distance to the picks × typicality^TYPICAL
TYPICAL_K = 10  # typicality: 1 / the mean cosine distance to this many nearest unanswered items


def handed_back(order: str, answers: int, pool: int) -> bool:
    """``uncertain``/``diverse`` hand back to the queue order once ``HANDBACK_SHARE`` of the
    ``pool``'s items have answers (``answers``). By then the choice has little left to gain —
    most of the pool gets asked whichever the order — and what it has left unasked are the
    items its model is surest of, while the unsure ones it asked early, when its labels were
    weakest, brought fewer 👍 (benchmarks §6t–§6u: on the own-folder sets, pools of 336–357
    items asked to 300, `diverse` was ahead at 150 and behind at 300 on the words and the
    shapes). Off by default: at .5 and .35 the words' dev seeds stayed below the queue order
    at 300 (§6u)."""
    if order not in GATED or HANDBACK_SHARE is None or pool <= 0:
        return False
    return answers >= HANDBACK_SHARE * pool


def warm_up_answers(num_labels: int) -> int:
    """Answers given in the queue order before an active order chooses: a model that has seen
    a random sample first (on digits, 100 answers in the queue order kept shuffle's acc@100 and
    gained after it; choosing from the first answer on cost acc@100 .74 -> .46, ADR 0013)."""
    return WARM_UP_PER_LABEL * int(num_labels)


@dataclass(frozen=True)
class Candidates:
    """The unanswered items, in queue order, with one task's fresh predictions.

    probs: [N, K] class probabilities (None: no model yet); embedding: [N, D] (diverse only);
    labels: the K label names (likely-positive finds its column by name)."""

    ids: Sequence[str]
    probs: np.ndarray | None = None
    embedding: np.ndarray | None = None
    labels: Sequence[str] = ()


@dataclass(frozen=True)
class Pick:
    item_id: str
    propensity: float  # P(this item | the model, the batch's earlier picks), in (0, 1]
    uniform: bool = False  # drawn by the random fraction
    pool: int = 0  # the unanswered items it was chosen among (0: not said)


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """h(p) in bits, 0 at 0 and 1."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


def thumb_gain(probs: np.ndarray) -> np.ndarray:
    """Expected information gain (bits) of a thumb on a label drawn as ``probs``: Σ_l p_l h(p_l)."""
    p = np.asarray(probs, dtype=np.float64)
    return (p * binary_entropy(p)).sum(-1)


def margin(probs: np.ndarray) -> np.ndarray:
    """p(first) − p(second) per row: small = unsure."""
    top = np.sort(np.asarray(probs, dtype=np.float64), axis=-1)
    return top[:, -1] - top[:, -2]


def uncertainty(probs: np.ndarray, measure: str = "thumb") -> np.ndarray:
    """Higher = less sure: the thumb's information gain, or minus the margin."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, not {measure!r}")
    return thumb_gain(probs) if measure == "thumb" else -margin(probs)


def check_order(order: str, positive: str | None, labels: Sequence[str] = ()) -> None:
    """One sentence (UserError) for an unknown order or a missing/unknown positive label."""
    if order not in NEXT_ITEM_NAMES:
        raise UserError(f"unknown order {order!r}; choose one of {', '.join(NEXT_ITEM_NAMES)}.")
    if order == "likely-positive" and not positive:
        raise UserError("the likely-positive order needs a positive label (--positive LABEL).")
    if positive and labels and positive not in labels:
        raise UserError(f"{positive!r} is not a label here; the labels are {', '.join(labels)}.")


def choose(
    order: str,
    cands: Candidates,
    n: int,
    rng: np.random.Generator,
    random_fraction: float = 0.1,
    positive: str | None = None,
    measure: str = "thumb",
    power: float | None = None,
) -> list[Pick]:
    """The next ``n`` items (fewer when fewer are unanswered), each with its selection
    probability (module docstring). ``power`` (None: ``POWER``): ``uncertain`` draws each pick
    ∝ uncertainty^power instead of taking the most uncertain (0)."""
    check_order(order, positive, cands.labels if cands.probs is not None else ())
    m = len(cands.ids)
    n = max(0, min(int(n), m))
    if order == "shuffle" or cands.probs is None:
        return [Pick(cands.ids[j], 1.0 / (m - j), pool=m - j) for j in range(n)]
    eps = float(random_fraction)
    power = POWER if power is None else float(power)
    if order == "uncertain" and power > 0:
        strategy = _drawer(cands, measure, power)
    else:
        strategy = _ranker(order, cands, n, positive, measure)
    left = np.ones(m, dtype=bool)
    chosen: list[int] = []
    picks: list[Pick] = []
    for j in range(n):
        own = strategy(left, chosen)  # the strategy's item, or each item's probability (drawn)
        uniform = bool(rng.random() < eps)
        if uniform:
            idx = int(rng.choice(np.flatnonzero(left)))
        else:
            idx = own if isinstance(own, int) else int(rng.choice(m, p=own))
        p_own = float(idx == own) if isinstance(own, int) else float(own[idx])
        prop = eps / (m - j) + (1.0 - eps) * p_own
        picks.append(Pick(cands.ids[idx], float(min(1.0, prop)), uniform, m - j))
        left[idx] = False
        chosen.append(idx)
    return picks


def _drawer(cands: Candidates, measure: str, power: float) -> Callable:
    """Stochastic uncertainty sampling (Kirsch et al. 2023, "power" acquisition): each pick drawn
    from the unanswered items ∝ uncertainty^power (``choose`` mixes in the uniform ε). Where the
    model is about as unsure of every item the picks are nearly uniform — the queue order's
    sample — and where it is sure of most they go to the few it is not. Every item's probability
    is known: ``ε / m + (1 − ε) · its share``. The margin (``supervised``) is drawn ∝
    (1 − margin)^power."""
    score = uncertainty(cands.probs, measure)
    score = score + 1.0 if measure == "margin" else score
    weight = np.clip(score, 0.0, None) ** power

    def share(left: np.ndarray, _chosen: list[int]) -> np.ndarray:
        w = np.where(left, weight, 0.0)
        return w / w.sum() if w.sum() > 0 else left / left.sum()

    return share


def rank_auc(scores, downs) -> tuple[float, float]:
    """The rank AUC of ``scores`` for ``downs`` (ties: half) and its distance from 0.5 in
    standard errors under no relation, ``sqrt((n + 1) / (12 n₁ n₀))``; (0.5, 0) with one class."""
    s = np.asarray(scores, dtype=np.float64)
    d = np.asarray(downs, dtype=bool)
    n1, n0 = int(d.sum()), int((~d).sum())
    if n1 == 0 or n0 == 0:
        return 0.5, 0.0
    order = np.argsort(s, kind="stable")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(s):  # ties share their mean rank
        tie = s == v
        ranks[tie] = ranks[tie].mean()
    auc = (ranks[d].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    return float(auc), float((auc - 0.5) / np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0)))


def skill(ups: int, n: int, num_labels: int) -> float:
    """The share of 👍 among ``n`` answers with chance taken out: 0 at 1/K, 1 at all 👍
    (``num_labels`` K < 2: the plain share)."""
    share = ups / n if n else 0.0
    if num_labels < 2:
        return share
    chance = 1.0 / num_labels
    return (share - chance) / (1.0 - chance)


class Readiness:
    """Whether the model's uncertainty ranks the items better than the queue order (module
    docstring): ``scored`` keeps each unanswered item's latest uncertainty, ``answered`` pairs
    it with the item's first thumb. ``check``: ready once, on the last ``READY_WINDOW`` pairs,
    the rank AUC of the uncertainty for 👎 is ``READY_Z`` standard errors over 0.5 and the 👎
    are few enough (``skill`` ≥ ``READY_SKILL``; ``READY_Z`` None: at once); it stays ready: the
    chosen items are the unsure ones, on which no ranking looks good."""

    def __init__(self) -> None:
        self.scores: dict[str, float] = {}
        self.pairs: list[tuple[float, bool]] = []  # (uncertainty before, 👎) per answer
        self.ready_at: int | None = None  # the answers when it became ready

    @property
    def ready(self) -> bool:
        return self.ready_at is not None

    @property
    def evidence(self) -> int:
        return len(self.pairs)

    def scored(self, ids: Sequence[str], scores: np.ndarray) -> None:
        self.scores.update(zip(ids, (float(x) for x in scores), strict=True))

    def answered(self, item_id: str, up: bool, answers: int) -> None:
        score = self.scores.pop(item_id, None)
        if score is None or self.ready:
            return
        self.pairs.append((score, not up))

    def check(self, answers: int, num_labels: int = 0) -> bool:
        """Looked at when the learner would choose (every few answers, not after each: fewer
        looks, fewer chance passes); ``answers``: how many came so far; ``num_labels``: the
        task's K (0: unknown, the plain share of 👍 is held to ``READY_SKILL``)."""
        if not self.ready and (READY_Z is None or self._evidence_says_so(num_labels)):
            self.ready_at = int(answers)
        return self.ready

    def _evidence_says_so(self, num_labels: int) -> bool:
        window = self.pairs[-READY_WINDOW:]
        downs = [d for _, d in window]
        ups = len(downs) - sum(downs)
        if min(sum(downs), ups) < READY_MIN:
            return False
        if skill(ups, len(downs), num_labels) < READY_SKILL:
            return False
        return rank_auc([s for s, _ in window], downs)[1] >= READY_Z


Ranker = Callable[[np.ndarray, list[int]], int]


def _ranker(order: str, cands: Candidates, n: int, positive: str | None, measure: str) -> Ranker:
    """The strategy's deterministic choice among the items still ``left`` (ties: queue order)."""
    probs = np.asarray(cands.probs, dtype=np.float64)
    if order == "likely-positive":
        score = probs[:, list(cands.labels).index(positive)]
    else:
        score = uncertainty(probs, measure)
    if order != "diverse" or cands.embedding is None:
        return lambda left, _chosen: _argmax(score, left)
    z = np.asarray(cands.embedding, dtype=np.float64)
    z = z / np.linalg.norm(z, axis=1, keepdims=True).clip(1e-12)
    top = np.zeros(len(score), dtype=bool)
    top[np.argsort(-score, kind="stable")[: DIVERSE_POOL * max(1, n)]] = True
    weight = typicality(z, top) ** TYPICAL if TYPICAL > 0 else np.ones(len(score))
    return lambda left, chosen: _k_center(score, z, top, left, chosen, weight)


def typicality(z: np.ndarray, rows: np.ndarray, k: int | None = None) -> np.ndarray:
    """1 / the mean cosine distance of each item to its ``k`` (``TYPICAL_K``) nearest other
    items of ``z`` (unit rows), for the items in ``rows`` (others: 1): large in a dense region,
    small for an outlier (Hacohen et al. 2022's typicality)."""
    k = TYPICAL_K if k is None else int(k)
    out = np.ones(len(z))
    idx = np.flatnonzero(rows)
    if len(z) < 2 or not len(idx):
        return out
    dist = 1.0 - z[idx] @ z.T
    dist[np.arange(len(idx)), idx] = np.inf  # not itself
    k = min(k, len(z) - 1)
    near = np.partition(dist, k - 1, axis=1)[:, :k]
    out[idx] = 1.0 / np.clip(near.mean(axis=1), 1e-6, None)
    return out


def _argmax(score: np.ndarray, allowed: np.ndarray) -> int:
    return int(np.argmax(np.where(allowed, score, -np.inf)))


def _k_center(
    score: np.ndarray,
    z: np.ndarray,
    top: np.ndarray,
    left: np.ndarray,
    chosen: list[int],
    weight: np.ndarray,
) -> int:
    """The most uncertain candidate first; then the candidate farthest from every pick so far,
    the distance times ``weight`` (``TYPICAL``: an outlier is far from everything)."""
    allowed = top & left
    if not allowed.any():  # the top candidates are all taken: the most uncertain of the rest
        return _argmax(score, left)
    if not chosen:
        return _argmax(score, allowed)
    far = 1.0 - (z @ z[chosen].T).max(axis=1)  # cosine distance to the nearest pick
    return _argmax(far * weight + 1e-9 * score, allowed)  # ties: the more uncertain


def pool_candidates(trainer, items: Sequence, task: str, embedding: bool = False) -> Candidates:
    """Fresh predictions of ``trainer``'s current model for ``items`` (unanswered, in queue
    order): the class probabilities the expert would be shown (``calibration.class_probs``, the
    one source) and, for ``diverse``, the model's unit-norm embedding. No exploration draw: the
    shown label's random stream is left alone."""
    from mmrl_desktop.core.learning.calibration import class_probs
    from mmrl_desktop.core.learning.device import evaluating

    trainer._ensure_built()
    probs: list[np.ndarray] = []
    embs: list[np.ndarray] = []
    for start in range(0, len(items), 256):
        inputs = trainer.featurizer.batch(list(items[start : start + 256]))
        p = class_probs(trainer.algorithm, inputs, trainer.calibrator.temperatures)[task]
        probs.append(p.double().numpy())
        if embedding:
            policy = trainer.algorithm.shown  # the model the predictions come from
            with evaluating(policy):
                dev = {k: v.to(trainer.device) for k, v in inputs.items()}
                embs.append(policy.embed(dev).double().cpu().numpy())
    k = len(trainer.labels[task])
    return Candidates(
        ids=[it.item_id for it in items],
        probs=np.concatenate(probs) if probs else np.zeros((0, k)),
        embedding=(np.concatenate(embs) if embs else np.zeros((0, 1))) if embedding else None,
        labels=tuple(trainer.labels[task]),
    )


class NextItemChooser:
    """The trainer's choice of the next items (module docstring), from a ``TrainConfig``."""

    def __init__(self, config) -> None:
        self.order = config.next_item
        self.random_fraction = config.next_item_random
        self.positive = config.positive_label or None
        self.measure = "margin" if config.algorithm == "supervised" else "thumb"
        self.rng = np.random.default_rng([int(config.seed), 19])
        self.answers_at_pick = -1  # answers when it last chose (-1: never)
        self.version_at_pick = None
        self.version_seen = None  # the model version the trainer loop last looked at
        self.readiness = Readiness()  # uncertain/diverse: does the uncertainty mean something?
        self.handed_back_at: int | None = None  # the answers when it handed back (handed_back)
        self.handback_told = False  # the trainer loop has said so (Info next_item_handed_back)

    @property
    def active(self) -> bool:
        return self.order != "shuffle" and self.handed_back_at is None

    def handback_news(self) -> dict:
        """``{"next_item_handed_back": answers}`` once, after it handed back; else ``{}``."""
        if self.handed_back_at is None or self.handback_told:
            return {}
        self.handback_told = True
        return {"next_item_handed_back": self.handed_back_at}

    @property
    def gated(self) -> bool:
        return self.order in GATED

    def due(self, answers: int, model_version, num_labels: int = 0) -> bool:
        """A new model version, past the warm-up, and enough new answers (or no choice yet).
        ``uncertain``/``diverse`` are due in the warm-up too: they score the pool, for the
        evidence of ``Readiness``, and choose nothing."""
        if not self.active or model_version == self.version_at_pick:
            return False
        if answers < warm_up_answers(num_labels) and not self.gated:
            return False
        return self.answers_at_pick < 0 or answers - self.answers_at_pick >= REPICK_ANSWERS

    def choose(self, trainer, answered: set[str], model_version=None) -> list[Pick]:
        """The next ``BATCH`` unanswered pool items of ``trainer`` (built), with their selection
        probabilities; none (the queue order goes on) in the warm-up and, for ``uncertain`` and
        ``diverse``, until ``Readiness`` and from ``handed_back`` on. A positive label the project
        lacks is one sentence (``UserError``)."""
        task = next(iter(trainer.labels))
        if handed_back(self.order, len(answered), len(trainer.pool_ids)):
            self.handed_back_at = len(answered)
            return []
        if self.gated:
            self._note_answers(trainer, task)
        ids = [i for i in trainer.pool_ids if i not in answered]
        m = len(ids)
        if m > MAX_CANDIDATES:
            keep = np.sort(self.rng.choice(m, MAX_CANDIDATES, replace=False))
            ids = [ids[k] for k in keep]
        cands = pool_candidates(
            trainer, trainer._items(ids), task, embedding=self.order == "diverse"
        )
        if not self._may_choose(cands, len(answered), len(trainer.labels[task])):
            self.answers_at_pick, self.version_at_pick = len(answered), model_version
            return []
        picks = choose(
            self.order, cands, BATCH, self.rng, self.random_fraction, self.positive, self.measure
        )
        self.answers_at_pick, self.version_at_pick = len(answered), model_version
        if m > len(ids):  # the uniform part is uniform over all m, the choice over the subset
            n = len(ids)
            picks = [_over(p, m - j, n - j, self.random_fraction) for j, p in enumerate(picks)]
        return picks

    def _may_choose(self, cands: Candidates, answers: int, num_labels: int) -> bool:
        """uncertain/diverse (due in the warm-up too): past the warm-up and ready, after noting
        the fresh scores. The others are due only past the warm-up."""
        if not self.gated:
            return True
        self.readiness.scored(cands.ids, uncertainty(cands.probs, self.measure))
        self.readiness.check(answers, num_labels)
        return answers >= warm_up_answers(num_labels) and self.readiness.ready

    def _note_answers(self, trainer, task: str) -> None:
        """Pair the answers since the last look with the scores their items had before."""
        buffer = getattr(trainer, "buffer", None)
        for k, row in enumerate(getattr(buffer, "rows", ()) or (), 1):
            if row.task == task and row.shown >= 0:
                self.readiness.answered(row.item_id, row.reward > 0, k)


def _over(pick: Pick, m: int, scored: int, eps: float) -> Pick:
    """A pick's probability when ``scored`` of the ``m`` unanswered items left were scored: the
    uniform part is ``ε / m`` exactly; the strategy's own choice keeps its (1 − ε) given the
    subset."""
    rest = pick.propensity - eps / scored  # (1 − ε) when it is the strategy's choice, else ~0
    return Pick(pick.item_id, float(min(1.0, eps / m + max(0.0, rest))), pick.uniform, m)
