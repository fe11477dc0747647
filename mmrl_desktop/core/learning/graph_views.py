"""Which view the default algorithm's neighbour graph is built on, chosen by held-back answers.

Every candidate view (``views.py``'s fixed views of the modalities present, ``pixels`` mixed with
the policy's embedding as the graph always placed images, and the policy's embedding alone) gets
its own kNN graph and its own graph posterior from the same answers. Before an answer is used,
each candidate's posterior from the previous refresh — which had not seen it — is scored on it
(``view_score``: loglik, the answer's log-probability, or brier, minus the squared error of the
predicted probability of a 👍; on the dev textures set loglik at 2 standard errors moved to the
gradients view in time, brier at 3 never did, brier at 1 also left digits' pixels by chance). The network's own probabilities, taken when the pool was last embedded, are scored the
same way. Over the last ``view_window`` scored answers:

- ``view_choice = mixture`` (an option; the default was mixture for a while in issue 17 and went
  back to switch: it diluted digits' pixel graph early, .776 → .528 at 100 answers): every
  candidate's posterior weighs
  exp(the sum of its scores on the same answers), the Bayesian weight of "this view is the
  right one" given the answers it foretold, from the first answer (equal weights until then);
  the posterior is that mixture and the graph's view (suspects, items outside the pool) the
  heaviest. Most early answers are 👎 on items no answer has reached, where every view
  predicts the same: the weights stay even instead of following that noise, and a view that
  foretells the 👍 pulls ahead as they come. The policy's own embedding (``embedding``,
  refreshed as it trains) is a candidate like the fixed views; it is judged only on answers it
  had not been trained on;
- ``view_choice = switch`` (the default): once there are ``view_min_labels`` scored answers,
  the graph stays on the first candidate present (``large_first`` for large images) unless
  another predicted the same answers better by more than ``view_z`` standard errors of the
  paired differences. On the own-folder glyphs the first 👍 are few (5 in 60 answers with 10
  labels), so the scores could not tell the views apart while the acting followed the raw
  pixels: the loop never got going;
  ``switch_score`` (options, not the default: docs/benchmarks.md §5r) compares the views at
  their best-fitting power, or on the labels the answers revealed; ``switch_from = current``
  (§5s) makes the view the graph is on, not the first, the one to beat; ``large_first`` (default
  ``edges``, ADR 0026) puts a view first for images over 8 px only, a candidate there even when
  ``graph_views`` does not name it (hog: glyphs +.22 but textures −.10, §5z; edges, hog and
  gradients side by side: no set lower, §5za); ``aligned_overlap`` (an option, off: its rule
  failed, §5zc) skips ``large_first`` where the pixels' and edges' nearest neighbours agree;
- ``pseudo_gate`` (default on): the posterior actually acted on is scored too, against a
  uniform guess on the same answers; the pool's pseudo-labels count by its advantage in
  ``view_z`` standard errors (none before ``view_min_labels`` answers), so a posterior that
  foretells nothing better than chance does not teach the network (``gate_baseline = rate``,
  an option: against the best constant 👍 probability instead of the uniform guess, which a
  posterior beats by foretelling 👎 on labels shown to explore; not the default: digits −.05 at
  300 answers, docs/benchmarks.md §5i);
- ``pseudo_precision`` (an option, 0 = off): the gate is multiplied by how often the
  posterior's first label is right, estimated from the answers it had not seen (a correction
  naming it; a 👍 on it weighted by 1 / its propensity), from none at 1/K to full at
  ``pseudo_precision``: on the dev glyphs the pseudo-labels were right on a sixth of the items
  with the gate open (docs/benchmarks.md §5x); ``pseudo_recent`` (an option) estimates it on
  the latest answers only: on the whole window the estimate lagged the posterior (§5y);
- the network's weight w = ``net_temper`` × (its advantage over the graph in standard errors −
  ``view_z``), clipped to [0, 1] (``net_temper`` = 0, the default, keeps the graph alone): the
  posterior the algorithm acts on and teaches with is (1 − w) · graph + w · network (the
  network's probabilities times each item's own answers' likelihood); ``net_score =
  calibrated`` (an option) compares the two at the powers that fit the answers best, and the
  network enters at its power (raw, it is overconfident and never entered: docs/benchmarks.md
  §5i).

So a project whose pixels mean nothing (colour, position and rotation vary) moves its graph to a
view that predicts its answers, and digits keep their pixel graph. Everything is
measured on answers the predictor had not been fitted on: no leave-one-out among items the
network has already fit.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mmrl_desktop.core.learning import views
from mmrl_desktop.core.learning.graph_answers import PROPENSITY_FLOOR, first_label_hits, paired_z
from mmrl_desktop.core.learning.model.encoders import TINY
from mmrl_desktop.core.learning.new_items import NEW_ITEM_MIN_ANSWERS, NewItemStack

NETWORK = "network"
POSTERIOR = "posterior"  # the posterior the algorithm acted on (views mixed, network mixed in)
UNIFORM = "uniform"  # a uniform guess: what "no better than chance" is measured against


class GraphViews:
    def __init__(self, options):
        self.o = options
        self.fixed: dict[str, np.ndarray] | None = None
        self.stats: dict = {}
        self.graphs: dict[str, object] = {}
        self.q: dict[str, dict[str, np.ndarray]] = {}  # view → task → graph posterior [n, K]
        self.net: dict[str, np.ndarray] = {}  # task → the network's probabilities [n, K]
        self.scores: dict[str, deque] = {}  # candidate → log-lik of recent held-back answers
        self.label_scores: dict[str, deque] = {}  # view → its labels' score (switch_score)
        self.seen: set[int] = set()  # event ids already scored
        self.mixed: dict[str, np.ndarray] = {}  # task → the posterior acted on [n, K]
        self.chosen = ""
        self.tiny_images = False  # the pool's images are ≤ TINY px (the digits design)
        self.overlap = 0.0  # share of the pixels' and edges' nearest neighbours in common
        self.modalities: frozenset[str] = frozenset()  # of the pool's inputs
        self.weights: dict[str, float] = {}  # view → its weight in the posterior
        self.net_weight = 0.0
        self.net_tau = 1.0  # the power the network's probabilities enter the posterior at
        self.pseudo_gate = 1.0  # share of the pseudo-labels' weight (pseudo_gate option)
        self.precision = 0.0  # estimated share of items whose first label is right
        self.post_log: deque = deque(maxlen=options.view_window)  # (posterior row, answer)
        self.logs: dict[str, deque] = {}  # view → (its posterior row, answer) of recent answers
        self.temperature = 1.0  # of the posterior, fitted on post_log (act_rule calibrated)
        self.stacks: dict[str, NewItemStack] = {}  # task → how new items are predicted
        self.first_answered: set[tuple[str, str]] = set()  # (item, task) logged in a stack

    def reset(self) -> None:
        """The pool changed: every view and posterior is rebuilt at the next refresh."""
        self.fixed, self.stats, self.graphs, self.q, self.net = None, {}, {}, {}, {}

    @property
    def mixing(self) -> bool:
        """``view_choice`` mixture, or auto on a pool of images over TINY px or of sounds (where
        no fixed view is known to be right; tiny images and texts keep the switch)."""
        if self.o.view_choice == "auto":
            big_images = "image" in self.modalities and not self.tiny_images
            return big_images or "audio" in self.modalities
        return self.o.view_choice == "mixture"

    def candidates(self) -> list[str]:
        names = [v.strip() for v in self.o.graph_views.split(",") if v.strip()]
        if self.tiny_images:  # 8×8 digits: the pixel graph, never the network's own embedding
            names = [v for v in names if v != "embedding"] or names
        elif self.o.large_first and "image" in self.modalities and not self.aligned:
            names = [self.o.large_first] + [v for v in names if v != self.o.large_first]
        have = set(self.fixed or ()) | {"embedding"}
        if "pretrained" in have and "pretrained" not in names:  # a foundation model's embedding
            names.insert(0, "pretrained")  # comes first when there is one (issue 14)
        return [v for v in names if v in have] or ["embedding"]

    # ---------------------------------------------------------------- views and graphs
    def rebuild(self, z: np.ndarray, chunks, sample_rate: int, k: int, fixed_too: bool) -> None:
        """Graphs on the embedding ``z`` (unit rows) and, when the pool changed, the fixed views."""
        if self.fixed is None:
            self.fixed, self.stats = views.fixed_views(chunks(), sample_rate)
            first = next(iter(chunks()), {})
            self.tiny_images = "image" in first and first["image"].shape[-1] <= TINY
            self.modalities = frozenset(k for k in ("image", "audio", "text") if k in first)
            self.overlap = 0.0
            if self.o.aligned_overlap > 0 and not self.tiny_images and "edges" in self.fixed:
                self.overlap = views.neighbour_overlap(self.fixed["pixels"], self.fixed["edges"], k)
            fixed_too = True
        n = len(z)
        for name in self.candidates():
            if n < 2:
                self.graphs[name] = None
            elif name == "embedding":
                self.graphs[name] = views.knn_graph(z, k)
            elif name == "pixels":  # mixed with the embedding, as the graph always placed images
                self.graphs[name] = views.knn_graph(views.mix(z, self.fixed[name], self.share), k)
            elif fixed_too or name not in self.graphs:
                self.graphs[name] = views.knn_graph(self.fixed[name], k)
        self.chosen = self.chosen if self.chosen in self.graphs else self.candidates()[0]

    @property
    def aligned(self) -> bool:
        """Images over TINY px whose pixels see the neighbourhoods their edges see (aligned, as
        scanned digits): the graph keeps graph_views' order instead of ``large_first``. On the
        own-folder sets the overlap at 5 neighbours is .02–.15 (colour, position and rotation
        vary), on digits drawn at 32 px .47 (docs/benchmarks.md §5zc)."""
        return 0 < self.o.aligned_overlap <= self.overlap

    @property
    def anchored(self) -> bool:
        """Whether the pool has a fixed view (one not made by the policy being trained). Volumes
        have none (ADR 0015: neighbours in their pooled slab MIPs share a label no more often than
        chance on the volumes benchmark), so their graph stands on the policy's own embedding and
        the default algorithm then teaches no pseudo-labels and sets no thumb aside from it."""
        return bool(self.fixed)

    @property
    def share(self) -> float:
        return float(self.o.input_views.split(",")[0])

    def view(self, name: str, z: np.ndarray, inputs, sample_rate: int) -> np.ndarray | None:
        """View ``name`` of items outside the pool (their embedding ``z`` and inputs)."""
        if name == "embedding":
            return z
        x = views.view_of(name, inputs, self.stats, sample_rate)
        if x is None:
            return None
        return views.mix(z, x, self.share) if name == "pixels" else x

    def pool_view(self, name: str, z: np.ndarray) -> np.ndarray:
        if name == "embedding":
            return z
        x = self.fixed[name]
        return views.mix(z, x, self.share) if name == "pixels" else x

    # ---------------------------------------------------------------- scoring and choice
    def score(self, rows, pool_index: dict[str, int], num_labels: dict[str, int]) -> None:
        """Score each candidate's standing prediction on the answers it has not seen yet."""
        e = self.o.answer_noise
        for r in rows:
            if r.event_id in self.seen:
                continue
            self.seen.add(r.event_id)
            i = pool_index.get(r.item_id)
            if i is None or r.task not in num_labels or (r.corrected < 0 and r.reward == 0):
                continue
            if r.corrected < 0 and r.shown < 0:
                continue
            self._log_new_item(i, r)
            preds = {v: q[r.task] for v, q in self.q.items() if r.task in q}
            if r.task in self.net:
                preds[NETWORK] = self.net[r.task]
            if r.task in self.mixed and i < len(self.mixed[r.task]):
                preds[POSTERIOR] = self.mixed[r.task]
                self.post_log.append((self.mixed[r.task][i].copy(), r))
                k = num_labels[r.task]
                preds[UNIFORM] = np.full((i + 1, k), 1.0 / k)
            for name, q in preds.items():
                if i >= len(q):
                    continue
                if name in self.q or name == NETWORK:  # its row kept for the calibrated score
                    log = self.logs.setdefault(name, deque(maxlen=self.o.view_window))
                    log.append((q[i].copy(), r))
                if name in self.q:  # a view: its labels' score (switch_score labels)
                    lab = self.label_scores.setdefault(name, deque(maxlen=self.o.view_window))
                    lab.append(_label_score(q[i], r, e))
                score = _score(
                    q[i], r, e, "loglik" if self.o.view_score == "calibrated" else self.o.view_score
                )
                self.scores.setdefault(name, deque(maxlen=self.o.view_window)).append(score)

    def _log_new_item(self, i: int, r) -> None:
        """The network's row and the vote of the item's graph neighbours, as they stood before
        answer ``r`` (``new_items.py``; only with ``new_item_vote``), on an item's first answer
        only: after it, the network has trained on the item and its answer has reached its
        neighbours through the graph, where an item outside the pool has neither."""
        graph, t = self.graphs.get(self.chosen), r.task
        if not self.o.new_item_vote or (r.item_id, t) in self.first_answered:
            return
        self.first_answered.add((r.item_id, t))
        if graph is None or t not in self.net or t not in self.mixed:
            return
        net, post = self.net[t], self.mixed[t]
        if i >= min(len(net), len(post), graph.shape[0]) or graph.shape[1] != len(post):
            return
        vote = np.asarray(graph[i] @ post).ravel()
        if vote.sum() > 0:
            stack = self.stacks.setdefault(t, NewItemStack(self.o.view_window, self.o.answer_noise))
            stack.record(net[i], vote / vote.sum(), r)

    def choose(self) -> None:
        """The graph view, the views' weights, the network's weight and the pseudo-labels' gate
        (see the module docstring)."""
        cands = [c for c in self.candidates() if c in self.graphs]
        self._gate()
        for stack in self.stacks.values():  # from its tenth answer (view_min_labels: 30)
            stack.fit(min(NEW_ITEM_MIN_ANSWERS, self.o.view_min_labels), self.o.new_item_rule,
                      self.o.view_z)  # fmt: skip
        if self.mixing and cands:
            self._mixture(cands)
        counts = [len(self.scores.get(c, ())) for c in cands]
        if not cands or min(counts) < max(1, self.o.view_min_labels):
            self.net_weight = 0.0
            if not self.mixing:
                self.weights = {self.chosen: 1.0} if self.chosen else {}
            return
        if not self.mixing:
            base = cands[0]  # switch_from first; current: the view the graph is on now
            if self.o.switch_from == "current" and self.chosen in cands:
                base = self.chosen
            by = self._switch_scores(cands)
            gain = {c: paired_z(by[c], by[base]) for c in cands if c != base}
            best = max(gain, key=lambda c: gain[c], default=base)
            self.chosen = best if gain.get(best, 0.0) > self.o.view_z else base
            self.weights = {self.chosen: 1.0}
        net = self.scores.get(NETWORK, ())
        if len(net) < max(1, self.o.view_min_labels) or self.o.net_temper <= 0:
            self.net_weight, self.net_tau = 0.0, 1.0
            return
        z = paired_z(net, self.scores[self.chosen])
        if self.o.net_score == "calibrated" and self.chosen in self.logs:
            n = min(len(self.logs[NETWORK]), len(self.logs[self.chosen]))
            e = self.o.answer_noise
            self.net_tau, _, mine = _tempered(list(self.logs[NETWORK])[-n:], e)
            theirs = _tempered(list(self.logs[self.chosen])[-n:], e)[2]
            z = paired_z(deque(mine), deque(theirs))
        self.net_weight = float(np.clip(self.o.net_temper * (z - self.o.view_z), 0.0, 1.0))

    def _switch_scores(self, cands: list[str]) -> dict[str, deque]:
        """Each candidate's scores on the same recent answers, as ``switch_score`` asks:
        answers (``scores``), calibrated (each view's posterior at the power that foretold these
        answers best: two views are compared by how they rank the labels, not by how flat their
        posteriors happen to be) or labels (``label_scores``)."""
        if self.o.switch_score == "labels":
            return {c: self.label_scores.get(c, deque()) for c in cands}
        if self.o.switch_score == "calibrated" and all(c in self.logs for c in cands):
            n = min(len(self.logs[c]) for c in cands)
            e = self.o.answer_noise
            return {c: deque(_tempered(list(self.logs[c])[-n:], e)[2]) for c in cands}
        return {c: self.scores.get(c, deque()) for c in cands}

    def _mixture(self, cands: list[str]) -> None:
        """Weights ∝ exp(the sum of each view's scores on the same recent answers): the
        posterior probability that the view is the right one given the answers it foretold."""
        n = min(len(self.scores.get(c, ())) for c in cands)
        if self.o.view_score == "calibrated":  # each view at its own best temperature
            e = self.o.answer_noise
            tot = np.array([_tempered(list(self.logs[c])[-n:], e)[1] if n else 0.0 for c in cands])
        else:
            tot = np.array([sum(list(self.scores[c])[-n:]) if n else 0.0 for c in cands])
        w = np.exp(tot - tot.max())
        w /= w.sum()
        self.weights = {c: float(x) for c, x in zip(cands, w, strict=True)}
        self.chosen = cands[int(np.argmax(w))]  # the first on a tie

    def fit_temperature(self) -> float:
        """The power τ of the posterior (q^τ, renormalised) that best foretold the answers it
        had not seen (log-likelihood on a grid of 0.1–10); 1 until view_min_labels answers."""
        if len(self.post_log) < max(2, self.o.view_min_labels):
            self.temperature = 1.0
        else:
            self.temperature = _tempered(list(self.post_log), self.o.answer_noise)[0]
        return self.temperature

    def _gate(self) -> None:
        """pseudo_gate: the posterior's advantage over a uniform guess, in view_z units."""
        post, uni = self.scores.get(POSTERIOR, ()), self.scores.get(UNIFORM, ())
        if not self.o.pseudo_gate:
            self.pseudo_gate = 1.0
        elif min(len(post), len(uni)) < max(2, self.o.view_min_labels):
            self.pseudo_gate = 0.0
        else:
            z = paired_z(post, uni)
            if self.o.view_score == "calibrated":  # the posterior at its own best temperature
                each = _tempered(list(self.post_log), self.o.answer_noise)[2]
                base = list(uni)[-len(each) :]
                if self.o.gate_baseline == "rate":
                    base = _rate_scores(list(self.post_log), self.o.answer_noise)
                z = paired_z(deque(each), deque(base))
            self.pseudo_gate = float(np.clip(z / max(self.o.view_z, 1e-9), 0.0, 1.0))
        if self.o.pseudo_precision > 0 and self.post_log:
            log = list(self.post_log)[-self.o.pseudo_recent :] if self.o.pseudo_recent else None
            hit, chance = _first_label_rate(log or list(self.post_log))
            top = max(self.o.pseudo_precision - chance, 1e-9)
            self.precision = hit
            self.pseudo_gate *= float(np.clip((hit - chance) / top, 0.0, 1.0))

    def metrics(self) -> dict[str, float]:
        out = {"policy/graph_net_weight": self.net_weight, "policy/pseudo_gate": self.pseudo_gate}
        for t, stack in self.stacks.items():
            out[f"policy/new_item_network_power_{t}"] = stack.powers[0]
            out[f"policy/new_item_vote_power_{t}"] = stack.powers[1]
        out["policy/posterior_temperature"] = self.temperature
        if self.overlap:
            out["policy/pixels_edges_overlap"] = self.overlap
        if self.o.pseudo_precision > 0:
            out["policy/first_label_right"] = self.precision
        for c, w in self.weights.items():
            out[f"policy/view_weight_{c}"] = w
        for c, s in self.scores.items():
            if s:
                out[f"policy/view_score_{c}"] = float(np.mean(s))
        return out


def _score(q: np.ndarray, r, noise: float, rule: str) -> float:
    """How well the prediction ``q`` [K] of the item's label foretold answer ``r``. brier: minus
    the squared error of the predicted probability of a 👍 (correction: of the one-hot label),
    bounded, so a posterior that ranks labels well but is overconfident is not ruled out by a few
    surprises; loglik: the answer's log-probability (q mixed with ``noise`` of uniform)."""
    if rule == "loglik":
        p = (1 - noise) * q + noise / len(q)
        if r.corrected >= 0:
            return float(np.log(p[r.corrected]))
        return float(np.log(p[r.shown]) if r.reward > 0 else np.log1p(-p[r.shown]))
    if r.corrected >= 0:
        return -float((((np.arange(len(q)) == r.corrected) - q) ** 2).sum())
    return -float(((r.reward > 0) - q[r.shown]) ** 2)


def _label_score(q: np.ndarray, r, noise: float) -> float:
    """An estimate, from one answer, of the log-probability ``q`` (mixed with ``noise`` of
    uniform) gives the item's true label: a correction names it; a 👍 names it too, weighted by
    1 / the propensity of the label shown (so the labels the acting posterior shows most are not
    favoured: over the acting distribution the weighted 👍 sum to log q(true label) — unbiased
    while the propensity stays above ``PROPENSITY_FLOOR``, where the weight is capped); a 👎
    adds 0 to every view. The views are compared on the labels the answers revealed, not on the
    many 👎 every view foretells alike (switch_score labels)."""
    p = (1 - noise) * q + noise / len(q)
    if r.corrected >= 0:
        return float(np.log(p[r.corrected]))
    if r.reward > 0 and r.shown >= 0:
        return float(np.log(p[r.shown])) / max(float(r.propensity), PROPENSITY_FLOOR)
    return 0.0


TEMPERATURES = np.geomspace(0.1, 10.0, 31)


def _tempered(log: list, noise: float) -> tuple[float, float, np.ndarray]:
    """(τ, total log-likelihood, each answer's) of the power q^τ (renormalised) of the predictions in ``log``
    — (row [K], answer) pairs — that best foretold the answers (each mixed with ``noise`` of
    uniform, as ``_score``): a view is judged by how well it ranks the labels, not by how
    over- or under-confident its posterior happens to be."""
    if not log:
        return 1.0, 0.0, np.zeros(0)
    lq = np.log(np.stack([q for q, _ in log]) + 1e-12)
    lq = lq - lq.max(1, keepdims=True)
    n, k = lq.shape
    idx = np.array([r.corrected if r.corrected >= 0 else r.shown for _, r in log])
    hit = np.array([r.corrected >= 0 or r.reward > 0 for _, r in log])
    qt = np.exp(TEMPERATURES[:, None, None] * lq[None])  # [T, n, K]
    qt /= qt.sum(2, keepdims=True)
    p = (1 - noise) * qt[:, np.arange(n), idx] + noise / k  # [T, n]
    each = np.where(hit[None], np.log(p), np.log1p(-p))  # [T, n]
    best = int(np.argmax(each.sum(1)))
    return float(TEMPERATURES[best]), float(each[best].sum()), each[best]


def _rate_scores(log: list, noise: float) -> np.ndarray:
    """Each answer's log-probability under the best constant guess: the same 👍 probability —
    the 👍 share of these thumbs — for every answer (a correction: 1/K). The baseline an
    item-blind predictor reaches, fitted in-sample as the posterior's temperature is."""
    k = len(log[0][0]) if log else 2
    thumbs = [r.reward > 0 for _, r in log if r.corrected < 0]
    share = float(np.clip(np.mean(thumbs) if thumbs else 1.0 / k, 1e-3, 1 - 1e-3))
    p = (1 - noise) * share + noise / k
    return np.array([np.log(1.0 / k) if r.corrected >= 0 else np.log(p if r.reward > 0 else 1 - p)
                     for _, r in log])  # fmt: skip


def _first_label_rate(log: list) -> tuple[float, float]:
    """(An estimate of how often the posterior's first label is the item's label, chance) from
    (row [K], answer) pairs it had not seen: a correction counts 1 when it names the first
    label; a thumbs-up on the first label 1 / its propensity (floored as ``_label_score``); any
    other answer 0. Over the acting distribution the weighted thumbs-up average the indicator
    that the first label is right: unbiased while its propensity stays above the floor."""
    first = np.array([int(np.argmax(q)) for q, _ in log])
    each = first_label_hits(first, [r for _, r in log])
    return float(np.mean(each)), float(np.mean([1.0 / len(q) for q, _ in log]))
