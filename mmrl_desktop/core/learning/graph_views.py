"""Which view the default algorithm's neighbour graph is built on, chosen by held-back answers.

Every candidate view (``views.py``'s fixed views of the modalities present, ``pixels`` mixed with
the policy's embedding as the graph always placed images, and the policy's embedding alone) gets
its own kNN graph and its own graph posterior from the same answers. Before an answer is used,
each candidate's posterior from the previous refresh — which had not seen it — is scored on it:
👍 a: log q(a), 👎 a: log(1 − q(a)), correction c: log q(c) (q mixed with ``answer_noise`` of
uniform, so one surprise does not cost infinity). The network's own probabilities, taken when
the pool was last embedded, are scored the same way. Over the last ``view_window`` scored answers
(once there are ``view_min_labels`` of them; the first candidate until then):

- the graph is the candidate whose posterior predicted the answers best (log-likelihood);
- the network's weight w = the posterior probability that the network is the better predictor of
  the two (Bayes' rule on those log-likelihoods, equal priors), tempered by ``net_temper``: the
  posterior the algorithm acts on and teaches with is (1 − w) · graph + w · network (the
  network's probabilities times each item's own answers' likelihood).

So a project whose views mean nothing (colour, position and rotation vary) leans on the network
as soon as it predicts the answers better, and digits keep their pixel graph. Everything is
measured on answers the predictor had not been fitted on: no leave-one-out among items the
network has already fit.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from mmrl_desktop.core.learning import views

NETWORK = "network"


class GraphViews:
    def __init__(self, options):
        self.o = options
        self.fixed: dict[str, np.ndarray] | None = None
        self.stats: dict = {}
        self.graphs: dict[str, object] = {}
        self.q: dict[str, dict[str, np.ndarray]] = {}  # view → task → graph posterior [n, K]
        self.net: dict[str, np.ndarray] = {}  # task → the network's probabilities [n, K]
        self.scores: dict[str, deque] = {}  # candidate → log-lik of recent held-back answers
        self.seen: set[int] = set()  # event ids already scored
        self.chosen = ""
        self.net_weight = 0.0

    def reset(self) -> None:
        """The pool changed: every view and posterior is rebuilt at the next refresh."""
        self.fixed, self.stats, self.graphs, self.q, self.net = None, {}, {}, {}, {}

    def candidates(self) -> list[str]:
        names = [v.strip() for v in self.o.graph_views.split(",") if v.strip()]
        have = set(self.fixed or ()) | {"embedding"}
        return [v for v in names if v in have] or ["embedding"]

    # ---------------------------------------------------------------- views and graphs
    def rebuild(self, z: np.ndarray, chunks, sample_rate: int, k: int, fixed_too: bool) -> None:
        """Graphs on the embedding ``z`` (unit rows) and, when the pool changed, the fixed views."""
        if self.fixed is None:
            self.fixed, self.stats = views.fixed_views(chunks(), sample_rate)
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
            preds = {v: q[r.task] for v, q in self.q.items() if r.task in q}
            if r.task in self.net:
                preds[NETWORK] = self.net[r.task]
            for name, q in preds.items():
                if i >= len(q):
                    continue
                p = (1 - e) * q[i] + e / q.shape[1]
                if r.corrected >= 0:
                    ll = np.log(p[r.corrected])
                elif r.reward > 0:
                    ll = np.log(p[r.shown])
                else:
                    ll = np.log1p(-p[r.shown])
                self.scores.setdefault(name, deque(maxlen=self.o.view_window)).append(float(ll))

    def choose(self) -> None:
        """The best-predicting graph view and the network's weight (see the module docstring)."""
        cands = [c for c in self.candidates() if c in self.graphs]
        counts = [len(self.scores.get(c, ())) for c in cands]
        if not cands or min(counts) < self.o.view_min_labels:
            self.net_weight = 0.0
            return
        m = min(min(counts), len(self.scores.get(NETWORK, ())))
        total = {c: sum(list(self.scores[c])[-min(counts) :]) for c in cands}
        self.chosen = max(cands, key=lambda c: (total[c], -cands.index(c)))
        if m < self.o.view_min_labels or self.o.net_temper <= 0:
            self.net_weight = 0.0
            return
        diff = sum(list(self.scores[NETWORK])[-m:]) - sum(list(self.scores[self.chosen])[-m:])
        self.net_weight = float(1.0 / (1.0 + np.exp(-np.clip(diff * self.o.net_temper, -50, 50))))

    def metrics(self) -> dict[str, float]:
        out = {"policy/graph_net_weight": self.net_weight}
        for c, s in self.scores.items():
            if s:
                out[f"policy/view_loglik_{c}"] = float(np.mean(s))
        return out
