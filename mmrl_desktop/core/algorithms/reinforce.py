"""reinforce — KL-regularised policy gradient from thumbs, with a running-mean baseline.

For a replayed answer (shown a, reward R, logged propensity μ(a)):
    loss = −w · (R − b) · log π(a | x)  +  kl_beta · KL(π ‖ π_ref)
with w = min(π(a|x) / μ(a), clip) the (clipped, detached) importance weight of the replayed action
and b a running mean of rewards (the baseline). Corrections add a cross-entropy term. The shown label
is drawn from (1 − ε) π + ε · uniform, so the propensity is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mmrl_desktop.core.algorithms.base import Action, Algorithm, ReplayBatch, sampled_action
from mmrl_desktop.core.errors import UserError


@dataclass
class ReinforceOptions:
    baseline_momentum: float = 0.99  # running mean of rewards, the baseline b
    importance_clip: float = 2.0  # clip of π / μ
    correction_weight: float = 1.0

    def validate(self) -> None:
        if not 0 <= self.baseline_momentum < 1 or self.importance_clip <= 0:
            raise UserError("reinforce: baseline_momentum in [0, 1) and importance_clip > 0.")


class Reinforce(Algorithm):
    name = "reinforce"
    Options = ReinforceOptions

    def __init__(self, policy, num_labels, config, device="cpu"):
        super().__init__(policy, num_labels, config, device)
        self.baseline = {t: 0.0 for t in self.num_labels}

    @torch.no_grad()
    def act(self, inputs, generator=None) -> dict[str, Action]:
        out = {}
        for t, p in self.greedy(inputs).items():
            mix = (1 - self.config.epsilon) * p + self.config.epsilon / p.shape[-1]
            out[t] = sampled_action(mix, p, generator)
        return out

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        logits = self.policy(batch.inputs)
        kl = self.kl_to_reference(batch.inputs, logits) if self.config.kl_beta > 0 else {}
        m = self.options.baseline_momentum
        total = 0.0
        metrics: dict[str, float] = {}
        for t, fb in batch.feedback.items():
            logp = F.log_softmax(logits[t], -1)
            logp_a = logp.gather(1, fb.shown[:, None]).squeeze(1)
            answered = fb.answered.float()
            w = (logp_a.detach().exp() / fb.propensity).clamp(max=self.options.importance_clip)
            adv = (fb.reward - self.baseline[t]) * answered
            pg = -(w * adv * logp_a).sum()
            corr = fb.has_correction.float()
            ce = -(logp.gather(1, fb.corrected.clamp_min(0)[:, None]).squeeze(1) * corr).sum()
            n = (answered + corr).sum().clamp_min(1.0)
            loss = (pg + self.options.correction_weight * ce) / n
            if fb.answered.any():
                mean_r = float(fb.reward[fb.answered].mean())
                self.baseline[t] = m * self.baseline[t] + (1 - m) * mean_r
            metrics[f"loss/{t}"] = float(loss.detach())
            metrics[f"reward/baseline_{t}"] = self.baseline[t]
            if t in kl:
                loss = loss + self.config.kl_beta * kl[t]
                metrics[f"kl/{t}"] = float(kl[t].detach())
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics

    def extra_state(self):
        return {"baseline": dict(self.baseline)}

    def load_extra_state(self, state) -> None:
        self.baseline.update({t: float(v) for t, v in state.get("baseline", {}).items()})
