"""default — thumbs on a replayed policy + a graph posterior over the project's whole item pool.

The expert answers one item at a time; most answers early on are 👎 ("not this label"), which say
little on their own. What makes learning fast is that the app holds every item of the project,
answered or not (never the held-out ones): neighbouring items tend to share a label, so every
answer also informs the items around it.

After each answer (``refresh``, closed form, milliseconds):
1. the pool items (``attach_pool``, capped at ``pool_size``) are placed in candidate views
   (``graph_views``; ``core/learning/views.py``): images by their raw pixels (mixed with the
   policy's embedding, share ``input_views`` = .99: what wins on 8×8 digits) and by their
   gradients (orientation histograms and spectra: blind to colour, and partly to position and
   rotation), audio by log-mel statistics, text by tf-idf n-grams, optionally the policy's
   embedding; the policy's own probabilities are taken at the same time; re-embedded every
   ``embed_every`` answers (every answer during the first ``embed_warmup``). Each answer is first
   scored by every candidate's posterior from before it (``core/learning/graph_views.py``): the
   candidates' posteriors are mixed by exp(their summed scores) (``view_choice``; issue 17:
   the policy's embedding and ``hog`` are candidates), and the network gets a weight w when it
   predicted them better than that graph (``net_temper``; 0 by default: off) — an embedding fit
   to the answers is never judged on answers it has fit;
2. a symmetric kNN graph (``graph_k``) over that view;
3. per task, each pool item's answers give a log-likelihood over labels (👍 a: a, 👎 a: not a,
   correction c: c; each trusted with probability 1 − ``answer_noise``), and a mean-field posterior
   on the graph (a Potts model): q_i ∝ lik_i · exp(β Σ_j W_ij q_j), ``graph_beta`` = β;
   a thumb its item's graph neighbours contradict (``suspect_ratio``: their mean posterior's top
   label is the 👎'd one, or is not the 👍'd one, and beats the runner-up, resp. the 👍'd label,
   by more than that factor) is set aside as a likely mis-click — left out of the likelihood (the
   posterior is recomputed without it) and of the replayed loss — and looked at again at every
   refresh. A mis-click is one answer against a whole neighbourhood, and the Potts prior (β ≤ 3
   keeps early propagation from collapsing) cannot outweigh an answer's own likelihood: without
   this the posterior, the pseudo-labels and the network all followed every mis-click (the
   measurement: docs/benchmarks.md §1, "Third session");
4. q = (1 − w) · the graph's posterior + w · the network's probabilities times each item's own
   answers' likelihood; from q: the acting distribution softmax(κ · standardised log q_i)
   (``act_kappa``), and soft pseudo-labels for the pool (``pseudo_kappa``), weighted by how much
   evidence q_i holds, by 1 − w (the network's own opinion teaches it nothing) and by the
   pseudo-label gate (``pseudo_gate``: how far q foretold the answers better than chance; the
   evidence is the spread of log q_i, or with ``pseudo_confidence`` its top label's probability
   at the power fitted on the answers, docs/benchmarks.md §5z). A pool
   without a fixed view (volumes: ``GraphViews.anchored``) has its graph on the policy's own
   embedding only: it gets no pseudo-labels and no thumb is set aside (the untrained network's
   neighbours would teach the network its own noise; ADR 0015 has the measurement).
   The coupling is at most 0.8 K (K labels): above K the uniform posterior is unstable and
   every unanswered item collapsed onto one label (3 classes at β = 3).

Acting (``act``): the shown label is sampled from the item's acting distribution (posterior
sampling of the item's label; the items are known by the ids the trainer passes, and an item
outside the pool, or one passed without its id, uses the vote of its pool neighbours); the
propensity is that distribution's probability of the shown label, exact, in (0, 1].

Training (``update``, one optimiser step): the replayed minibatch's thumbs likelihood —
👍 −log p(a), 👎 −log(1 − p(a)), correction −log p(c) (set-aside thumbs: 0) — plus
``pseudo_weight`` × the cross-entropy to the pseudo-labels of an equal-sized minibatch of pool
items (while the answers are fewer than ``pseudo_until``: on pictures and sounds of 8 labels or
more, 8 per label, ADR 0043; then, with ``net_after_pseudo``, the network acts too), plus
``kl_beta`` × KL(π ‖ π_ref) toward the starting policy on those pool items (the reference's
pool log-probs cached when first needed: no extra forward).
Evaluation (``greedy``): the softmax head, so the exported network carries what was learned;
with ``new_item_vote`` (an option, off) the held-out figure scores ``predict_unseen``, the network
and the pool's vote (``core/learning/new_items.py``, ADR 0030); ``explore_network`` (off) shows
the network's first label on some of the pool items where it is not the posterior's.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from mmrl_desktop.core.learning import renew
from mmrl_desktop.core.learning.algorithm_options import DefaultOptions
from mmrl_desktop.core.learning.algorithms.base import (
    Action,
    Algorithm,
    ReplayBatch,
    _to,
)
from mmrl_desktop.core.learning.algorithms.pseudo_limits import pseudo_limits
from mmrl_desktop.core.learning.augment import Augmenter
from mmrl_desktop.core.learning.graph_answers import answer_loglik, contradicted, refused
from mmrl_desktop.core.learning.graph_views import GraphViews
from mmrl_desktop.core.learning.pool_inputs import PoolMixin, cat
from mmrl_desktop.core.learning.views import unit_rows


class DefaultAlgorithm(PoolMixin, Algorithm):
    name = "default"
    Options = DefaultOptions
    answers = 0  # at the last refresh

    def __init__(self, policy, num_labels, config, device="cpu"):
        super().__init__(policy, num_labels, config, device)
        self.pool_gen = torch.Generator().manual_seed(config.seed + 11)
        # the pool's own augmentation draws (``pool_augment``): pool_gen's sequence stays as is
        self.augment_gen = torch.Generator().manual_seed(config.seed + 12)
        self.augment = Augmenter.from_config(config) if self.options.pool_augment else None
        self._init_pool()
        self.ref_logp: dict[str, torch.Tensor] = {}
        self.z: np.ndarray | None = None  # unit-norm policy embedding of the pool [n, D]
        self.views = GraphViews(self.options)  # candidate views, their graphs, the choice
        self.q: dict[str, np.ndarray] = {}  # graph posterior per task [n, K]
        self.acting: dict[str, np.ndarray] = {}  # acting distribution per task [n, K]
        self.targets: dict[str, torch.Tensor] = {}  # pseudo-labels [n, K]
        self.target_weight: dict[str, torch.Tensor] = {}  # [n]
        self.bonus: dict[str, np.ndarray] = {}  # optimism per label [K]
        # thumbs set aside per task, as (pool row, shown label, 👍?)
        self.suspect: dict[str, set[tuple[int, int, bool]]] = {}
        self.refreshes = 0
        self._embedded_at = 0
        self.fitted = False

    @property
    def refit_until(self) -> int:
        """The config's, but "the algorithm's choice" (−1) is no refits on the tiny 8×8 design:
        there the pixel graph's pseudo-labels carry the first answers and a refit at 62 answers
        cost bench-digits .021 at 100 (docs/benchmarks.md §5zd); on the large design (images
        over 8 px, sounds, texts) refits up to 64 answers gained +.03 at 60 answers."""
        if self.config.refit_until < 0 and renew.tiny_design(self.policy):
            return 0
        return self.config.refit_answers

    @property
    def pseudo_until(self) -> int:
        """``pseudo_until`` as it applies (0: no limit; ``algorithms/pseudo_limits.py``)."""
        return pseudo_limits(self.options, self.policy, self.num_labels)[0]

    @property
    def pseudo_fixed_until(self) -> int:
        """``pseudo_fixed_until`` as it applies (0: off; ``algorithms/pseudo_limits.py``)."""
        return pseudo_limits(self.options, self.policy, self.num_labels)[1]

    @property
    def pseudo_done(self) -> bool:
        """The pseudo-labels have stopped: the answers are no longer few (``pseudo_until``), or
        with ``pseudo_fixed_until`` the graph is on a fixed view from that many answers on."""
        until, fixed = self.pseudo_until, self.pseudo_fixed_until
        on_fixed = bool(fixed) and self.answers >= fixed and self.views.chosen != "embedding"
        return on_fixed or (bool(until) and self.answers >= until)

    @property
    def graph_view(self) -> str:
        """The name of the view the graph is built on now (``graph_views``)."""
        return self.views.chosen

    @property
    def graph(self):
        """The row-normalised kNN graph of ``graph_view`` (scipy sparse; None before a refresh)."""
        return self.views.graphs.get(self.views.chosen)

    def _pool_changed(self) -> None:
        """Items joined the pool: embed it again, rebuild the views, drop the reference's log-probs
        (taken again when the KL first needs them)."""
        self.z = None
        self.views.reset()
        self.ref_logp = {}

    def load_state_dict(self, state, *, optimizer: bool = True) -> None:
        super().load_state_dict(state, optimizer=optimizer)
        if "reference" in state:  # its pool log-probs are taken again when needed
            self.ref_logp = {}

    @torch.no_grad()
    def _embed(self, inputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The policy's embedding [B, D] and its probabilities per task (eval mode)."""
        net = self.shown  # the weights' moving average when there is one
        was = net.training
        net.eval()
        z = net.embed(_to(inputs, self.device))
        heads = getattr(net, "heads", None)
        logits = heads(z) if heads is not None else net(_to(inputs, self.device))
        net.train(was)
        probs = {t: F.softmax(v.float(), -1).cpu().double().numpy() for t, v in logits.items()}
        return z.float().cpu(), probs

    def _sample_rate(self) -> int:
        return int(getattr(getattr(self.policy, "config", None), "audio_sample_rate", 16000))

    def _reembed(self, n: int) -> None:
        """Embed the pool, take the network's probabilities, rebuild the candidate graphs."""
        zs, probs = [], {t: [] for t in self.num_labels}
        for inp in self._chunks():
            z, p = self._embed(inp)
            zs.append(z)
            for t in probs:
                probs[t].append(p[t])
        self.z = unit_rows(torch.cat(zs).double().numpy())
        self.views.net = {t: np.concatenate(v) for t, v in probs.items()}
        k = min(self.options.graph_k, n - 1)
        self.views.rebuild(self.z, self._chunks, self._sample_rate(), k, fixed_too=False)
        self._embedded_at = self.refreshes

    # ---------------------------------------------------------------- refresh
    @torch.no_grad()
    def refresh(self, buffer) -> dict[str, float]:
        """Graph posterior over the pool given every logged answer (see the module docstring)."""
        if len(buffer) == 0:  # every answer withdrawn or excluded: back to the network alone
            self.fitted = False
            self.q, self.acting, self.targets, self.target_weight = {}, {}, {}, {}
            return {}
        if self._load is None:  # no pool attached: the answered items are the pool
            self._load = lambda ids: buffer.featurizer.batch([buffer._item(i) for i in ids])
        self._add_to_pool([r.item_id for r in buffer.rows])
        self.answers = len(buffer)
        o = self.options
        n = len(self.pool_ids)
        self.views.score(buffer.rows, self.pool_index, self.num_labels)  # before they are used
        every = 1 if self.refreshes < o.embed_warmup else o.embed_every
        if self.z is None or self.refreshes - self._embedded_at >= every:
            self._reembed(n)
        self.refreshes += 1
        self.views.choose()
        if self.pseudo_done:  # the graph no longer teaches the network: it acts too
            self.views.net_weight = max(self.views.net_weight, o.net_after_pseudo)
        if len(buffer) < o.gate_open_until:  # too few answers to judge the posterior by
            self.views.pseudo_gate = 1.0
        if o.act_rule == "calibrated" or o.pseudo_confidence:
            self.views.fit_temperature()
        metrics: dict[str, float] = {"policy/graph_input_share": self.views.share}
        metrics["policy/graph_anchored"] = float(self.views.anchored)
        metrics.update(self.views.metrics())
        for t, k in self.num_labels.items():
            q = self._posterior(buffer, t, n, k, metrics)
            self.q[t] = self.views.mixed[t] = q
            lq = np.log(q + 1e-12)
            sd = lq.std(1, keepdims=True)
            z = (lq - lq.mean(1, keepdims=True)) / (sd + 1e-12)
            confirmed = np.zeros(k)
            for r in buffer.rows:
                if r.task == t and (r.corrected >= 0 or (r.reward > 0 and r.shown >= 0)):
                    confirmed[r.corrected if r.corrected >= 0 else r.shown] += 1
            self.bonus[t] = o.optimism / np.sqrt(1.0 + confirmed)
            self.acting[t] = self._acting(lq, z, self.bonus[t])
            net = self.views.net.get(t)
            if o.explore_network > 0 and net is not None and net.shape == q.shape:
                self._show_network_too(self.acting[t], net.argmax(1), q.argmax(1))
            sharp = (
                self.views.temperature * lq if o.act_rule == "calibrated" else o.pseudo_kappa * z
            )
            self.targets[t] = torch.from_numpy(_softmax(sharp).astype(np.float32))
            evidence = sd[:, 0]
            if o.pseudo_confidence:  # the calibrated top probability above chance
                evidence = _softmax(self.views.temperature * lq).max(1) - 1.0 / k
            ref = float(np.quantile(evidence, o.pseudo_quantile)) + 1e-12
            weight = np.clip(evidence / ref, 0.0, 1.0).astype(np.float32)
            net = self.views.net.get(t)
            if o.pseudo_agree and net is not None and net.shape == q.shape:
                agree = net.argmax(1) == q.argmax(1)
                weight = weight * agree
                metrics[f"policy/pseudo_agree_{t}"] = float(agree.mean())
            if o.self_train > 0 and net is not None and net.shape == q.shape:
                self._self_train(buffer, t, net, weight, metrics)
            self.target_weight[t] = torch.from_numpy(weight)
            metrics[f"policy/pool_confidence_{t}"] = float(self.acting[t].max(1).mean())
        self.fitted = True
        return metrics

    def _self_train(self, buffer, t: str, net: np.ndarray, weight: np.ndarray, metrics) -> None:
        """``self_train``: where the network gives a label its item has not been refused at least
        that probability, the pseudo-label is that label at full weight (in place)."""
        top = net.argmax(1)
        no = refused(buffer.rows, t, self.pool_index, net.shape)[np.arange(len(top)), top]
        rows = np.flatnonzero((net.max(1) >= self.options.self_train) & ~no)
        self.targets[t][rows] = torch.from_numpy(np.eye(net.shape[1], dtype=np.float32)[top[rows]])
        weight[rows] = 1.0
        metrics[f"policy/self_train_{t}"] = float(len(rows) / max(1, len(top)))

    def _show_network_too(self, acting: np.ndarray, net_top: np.ndarray, top: np.ndarray) -> None:
        """``explore_network``: where the network's first label is not the posterior's, that
        share of the acting goes to it (in place; propensities exact; ADR 0030)."""
        eps, rows = self.options.explore_network, np.flatnonzero(net_top != top)
        acting[rows] *= 1.0 - eps
        acting[rows, net_top[rows]] += eps

    def _acting(self, lq: np.ndarray, z: np.ndarray, bonus: np.ndarray) -> np.ndarray:
        """The acting distribution from the log-posterior ``lq`` (standardised: ``z``)."""
        if self.options.act_rule == "calibrated":
            return _softmax(self.views.temperature * lq + bonus)
        return _softmax(self.options.act_kappa * (z + bonus))

    def _sweeps(self, loglik: np.ndarray, graph, q: np.ndarray) -> np.ndarray:
        """Mean-field sweeps; the coupling stays below 0.8 K: above K the uniform posterior is
        unstable (its linearisation is (β / K) · W), so with few labels every unanswered item
        collapsed onto one label."""
        beta = min(self.options.graph_beta, 0.8 * q.shape[1])
        for _ in range(self.options.graph_iters):
            q = _softmax(loglik + beta * (graph @ q))
        return q

    def _posterior(self, buffer, t: str, n: int, k: int, metrics: dict) -> np.ndarray:
        """Every candidate view's graph posterior for task ``t`` (warm-started), the chosen one's
        suspects set aside, mixed with the network's by ``views.net_weight``."""
        o, gv = self.options, self.views
        loglik = answer_loglik(
            buffer.rows, t, self.pool_index, (n, k), o.answer_noise, self.suspect.get(t)
        )
        for name, graph in gv.graphs.items():
            q = gv.q.get(name, {}).get(t)
            if q is None or q.shape != (n, k):
                q = _softmax(loglik)
            gv.q.setdefault(name, {})[t] = q if graph is None else self._sweeps(loglik, graph, q)
        graph, q = self.graph, gv.q[gv.chosen][t]
        if graph is not None and o.suspect_ratio > 0 and gv.anchored:
            self.suspect[t] = contradicted(
                buffer.rows, t, self.pool_index, graph @ q, o.suspect_ratio
            )
            if self.suspect[t]:
                loglik = answer_loglik(
                    buffer.rows, t, self.pool_index, (n, k), o.answer_noise, self.suspect.get(t)
                )
                q = gv.q[gv.chosen][t] = self._sweeps(loglik, graph, q)
            metrics[f"policy/suspect_thumbs_{t}"] = float(len(self.suspect.get(t, ())))
        mix = {v: x for v, x in gv.weights.items() if x > 1e-3 and v in gv.q and v != gv.chosen}
        if mix:  # view_choice = mixture: the other views' posteriors by their weights
            q = gv.weights.get(gv.chosen, 0.0) * q + sum(x * gv.q[v][t] for v, x in mix.items())
            q = q / q.sum(1, keepdims=True)
        w = gv.net_weight
        if w > 0 and t in gv.net and gv.net[t].shape == (n, k):
            net = gv.net[t] if gv.net_tau == 1.0 else np.power(gv.net[t] + 1e-12, gv.net_tau)
            post = net * np.exp(loglik - loglik.max(1, keepdims=True))
            q = (1 - w) * q + w * post / post.sum(1, keepdims=True)
        return q

    def answers_retracted(self) -> None:
        """The next refresh starts the posterior cold (a warm start would keep the withdrawn
        answer's pull on its neighbours) and re-embeds the pool with the rolled-back network."""
        self.q = {}
        self.views.q = {}
        self.z = None

    # ---------------------------------------------------------------- acting
    @torch.no_grad()
    def act(self, inputs, generator=None, item_ids=None) -> dict[str, Action]:
        """A pool item (by ``item_ids``) acts on its own row of the posterior; any other row
        (or every row, without ids) on the vote of its pool neighbours."""
        probs = self.greedy(inputs)
        if not self.fitted or self.z is None:
            out = {}
            for t, p in probs.items():
                lab = torch.multinomial(p, 1, generator=generator).squeeze(1)
                out[t] = Action(lab, p.gather(1, lab[:, None]).squeeze(1).clamp(1e-6, 1.0), p)
            return out
        rows = self._rows(item_ids, len(next(iter(probs.values()))))
        known = rows >= 0
        nb = None if known.all() else self._neighbours(inputs)  # outside the pool: their vote
        out = {}
        for t, p in probs.items():
            dist = np.zeros(tuple(p.shape))
            belief = p.numpy().astype(np.float64)  # what the expert is shown as confidence
            if known.any():
                dist[known] = self.acting[t][rows[known]]
                belief[known] = self.q[t][rows[known]]
            if nb is not None:
                lq = self.options.graph_beta * self.q[t][nb[~known]].mean(1)
                z = (lq - lq.mean(1, keepdims=True)) / (lq.std(1, keepdims=True) + 1e-12)
                dist[~known] = self._acting(
                    np.log(self.q[t][nb[~known]].mean(1) + 1e-12), z, self.bonus[t]
                )
                belief[~known] = self.q[t][nb[~known]].mean(1)
            dist_t = torch.from_numpy(dist).float()
            lab = torch.multinomial(dist_t, 1, generator=generator).squeeze(1)
            prop = dist_t.gather(1, lab[:, None]).squeeze(1).clamp(1e-6, 1.0)
            # probs: the graph posterior that chose the label (not the network's softmax), so the
            # confidence and top-3 the expert sees agree with the label shown
            belief = belief / belief.sum(1, keepdims=True).clip(1e-12)
            out[t] = Action(lab, prop, torch.from_numpy(belief).float())
        return out

    @property
    def votes_for_new_items(self) -> bool:
        return self.options.new_item_vote

    @torch.no_grad()
    def predict_unseen(self, inputs) -> dict[str, torch.Tensor]:
        """With ``new_item_vote``: the network and the vote of the item's pool neighbours, each
        at the power that foretold the answers best (``core/learning/new_items.py``)."""
        probs = self.greedy(inputs)
        stacks = self.views.stacks
        if not self.options.new_item_vote or not self.fitted or self.z is None or not stacks:
            return probs
        nb = self._neighbours(inputs)
        out = {}
        for t, p in probs.items():
            if t not in stacks or t not in self.q:
                out[t] = p
                continue
            vote = self.q[t][nb].mean(1)
            out[t] = torch.from_numpy(stacks[t].combine(p.double().numpy(), vote)).float()
        return out

    def _neighbours(self, inputs) -> np.ndarray:
        """[B, k] pool rows nearest each item in the graph's view (``graph_k`` of them)."""
        sims = self._new_view(inputs)
        kk = min(self.options.graph_k, sims.shape[1])
        return np.argpartition(-sims, kk - 1, axis=1)[:, :kk]

    def _new_view(self, inputs) -> np.ndarray:
        """Similarities [B, n] of items outside the pool to the pool, in the graph's view (the
        embedding where that view lacks the items' modality)."""
        assert self.z is not None
        z = unit_rows(self._embed(inputs)[0].double().numpy())
        name = self.views.chosen
        v = self.views.view(name, z, inputs, self._sample_rate())
        if v is None:
            return z @ self.z.T
        return v @ self.views.pool_view(name, self.z).T

    def _rows(self, item_ids, n: int) -> np.ndarray:
        """The pool row of each item id (−1: not in the pool, or no ids given)."""
        if item_ids is None:
            return np.full(n, -1)
        return np.array([self.pool_index.get(i, -1) for i in item_ids], dtype=np.int64)

    # ---------------------------------------------------------------- learning
    def _with_pool(self, batch: ReplayBatch, b: int) -> tuple[dict, torch.Tensor | None]:
        """The minibatch's inputs followed by ``b`` pool items drawn for their pseudo-labels, and
        those items' rows (None, and the minibatch alone, when no pseudo-labels apply)."""
        use_pool = self.fitted and self.options.pseudo_weight > 0 and self.pool_inputs is not None
        if self.pseudo_done or not (use_pool and self.views.anchored):  # no fixed view: none
            return batch.inputs, None
        idx = torch.randint(len(self.pool_ids), (b,), generator=self.pool_gen)
        pool = self._pool_batch(idx)
        if self.augment is not None:
            pool = self.augment(pool, self.augment_gen)
        pool = _to(pool, self.device)
        return {k: cat([batch.inputs[k], pool[k]]) for k in batch.inputs}, idx

    def _pseudo_loss(
        self, t: str, logits: torch.Tensor, idx: torch.Tensor, metrics
    ) -> torch.Tensor:
        """``pseudo_weight`` × the gated cross-entropy of the pool rows ``idx`` (their ``logits``)
        to their pseudo-labels for task ``t``."""
        lq = F.log_softmax(logits, -1)
        target = self.targets[t][idx].to(self.device)
        weight = self.target_weight[t][idx].to(self.device)
        pseudo = (weight * -(target * lq).sum(-1)).mean()
        share = (1.0 - self.views.net_weight) * self.views.pseudo_gate
        metrics[f"loss/pseudo_{t}"] = float(pseudo.detach())
        return self.options.pseudo_weight * share * pseudo

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        o = self.options
        b = len(next(iter(batch.feedback.values())).shown)
        inputs, idx = self._with_pool(batch, b)
        use_pool = idx is not None
        logits_all = self.policy(inputs)
        kl: dict[str, torch.Tensor] = {}
        if self.config.kl_beta > 0 and use_pool:
            if not self.ref_logp:
                self.ref_logp = self._pool_logp(self.reference)
            for t, v in logits_all.items():
                lp = F.log_softmax(v[b:], -1)
                kl[t] = (lp.exp() * (lp - self.ref_logp[t][idx].to(self.device))).sum(-1).mean()
        elif self.config.kl_beta > 0:
            kl = self.kl_to_reference(batch.inputs, logits_all)
        total = 0.0
        metrics: dict[str, float] = {}
        rows = None
        if any(self.suspect.values()):  # the batch's pool rows, to find set-aside thumbs
            # a batch type without ids (a maker not yet passing them) sets nothing aside
            rows = self._rows(getattr(batch, "item_ids", None), b).tolist()
        for t, fb in batch.feedback.items():
            logp = F.log_softmax(logits_all[t][:b], dim=-1)
            logp_a = logp.gather(1, fb.shown.clamp_min(0)[:, None]).squeeze(1)
            up = (fb.reward > 0).float()
            down = (fb.reward < 0).float()
            log1m = torch.log1p(-logp_a.exp().clamp(max=1 - 1e-6))
            thumbs = -(up * logp_a + o.down_weight * down * log1m)
            suspect = self.suspect.get(t)
            if suspect and rows is not None:
                fbl = (fb.shown.tolist(), fb.reward.tolist(), fb.corrected.tolist())
                keys = zip(rows, *fbl, strict=True)
                aside = [c < 0 and (i, a, r > 0) in suspect for i, a, r, c in keys]
                thumbs = thumbs * ~torch.tensor(aside, device=thumbs.device)
            corr = fb.has_correction.float()
            ce = -logp.gather(1, fb.corrected.clamp_min(0)[:, None]).squeeze(1) * corr
            n = (fb.answered.float() + corr).sum().clamp_min(1.0)
            loss = (thumbs.sum() + o.correction_weight * ce.sum()) / n
            metrics[f"loss/{t}"] = float(loss.detach())
            if use_pool and t in self.targets:
                loss = loss + self._pseudo_loss(t, logits_all[t][b:], idx, metrics)
            if t in kl:
                loss = loss + self.config.kl_beta * kl[t]
                metrics[f"kl/{t}"] = float(kl[t].detach())
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics


# -------------------------------------------------------------------- helpers
def _softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(1, keepdims=True)
