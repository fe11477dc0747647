"""egreedy-q — the source article's method: a reward (Q) head per label, ε-greedy.

The task head's outputs are read as Q(x, a), the expected reward of showing label a. Each update
regresses Q(x, shown) toward the observed reward R ∈ {+1, −1} (squared error: the gradient form of
Q ← Q + η(R − Q), a one-step bandit, γ = 0). A correction c is a +1 reward for c. The shown label is
argmax Q with probability 1 − ε, else uniform. Greedy probabilities are softmax(Q / temperature).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmrl_desktop.core.learning.algorithm_options import EGreedyQOptions
from mmrl_desktop.core.learning.algorithms.base import (
    Action,
    Algorithm,
    ReplayBatch,
    _to,
    epsilon_greedy,
)
from mmrl_desktop.core.learning.device import evaluating


class EGreedyQ(Algorithm):
    name = "egreedy-q"
    Options = EGreedyQOptions

    @torch.no_grad()
    def greedy(self, inputs) -> dict[str, torch.Tensor]:
        with evaluating(self.shown):
            q = self.shown(_to(inputs, self.device))
        return {t: F.softmax(v.float() / self.options.temperature, -1).cpu() for t, v in q.items()}

    @torch.no_grad()
    def act(self, inputs, generator=None, item_ids=None) -> dict[str, Action]:
        return {
            t: epsilon_greedy(p, self.config.epsilon, generator)
            for t, p in self.greedy(inputs).items()
        }

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        q = self.policy(batch.inputs)
        total = 0.0
        metrics: dict[str, float] = {}
        for t, fb in batch.feedback.items():
            q_shown = q[t].gather(1, fb.shown[:, None]).squeeze(1)
            err = (q_shown - fb.reward) ** 2 * fb.answered.float()
            corr = fb.has_correction & (fb.corrected != fb.shown)
            q_corr = q[t].gather(1, fb.corrected.clamp_min(0)[:, None]).squeeze(1)
            err = err + (q_corr - 1.0) ** 2 * corr.float()
            n = (fb.answered.float() + corr.float()).sum().clamp_min(1.0)
            loss = err.sum() / n
            metrics[f"loss/{t}"] = float(loss.detach())
            metrics[f"reward/q_shown_{t}"] = (
                float(q_shown.detach()[fb.answered].mean()) if fb.answered.any() else 0.0
            )
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics
