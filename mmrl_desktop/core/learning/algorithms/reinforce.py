"""reinforce — KL-regularised off-policy policy gradient from thumbs, with a per-item baseline.

Acting: the shown label is drawn from (1 − ε) π(·|x) + ε/K, and that mixture's probability of the
drawn label is logged as the propensity μ(a), so the propensity is exact.

Learning: for each replayed answer (item x, shown label a, thumb R ∈ {+1, −1}, logged μ(a)),

    loss = −w · (R − b(x)) · log π(a|x)                (mean over the answered rows)
           − correction_weight · log π(c|x)             (a correction c; same mean)
           + kl_beta · KL(π_ref(·|x) ‖ π(·|x))          (mean over the minibatch)

- w = min(π(a|x) / μ(a), importance_clip), detached: the truncated importance weight that turns
  an answer logged under an older policy into an estimate of the current policy's gradient.
- b(x), detached, depends on the item but not on the shown label, so it leaves the gradient
  unbiased. ``baseline = "expected"`` (the default) is the expected thumb under π when π's own
  probability that a label is right is taken as that label's reward model, r̂(x, a) = 2π(a|x) − 1:
  b(x) = Σ_a π(a|x) r̂(x, a) = 2 Σ_a π(a|x)² − 1. It is −0.8 for a uniform 10-label policy (most
  thumbs are down: a 👎 barely moves the policy, a 👍 moves it a lot) and near +1 for a confident
  one (a 👎 on its favourite label pushes hard, a 👍 changes little). ``"rloo"``: the mean thumb
  of the other answered rows of the minibatch (leave-one-out). ``"running"``: a running mean of
  the thumbs per task (``baseline_momentum`` per update).
- The KL term pulls π toward the frozen starting policy π_ref. ``kl_direction = "forward"`` (the
  default) is KL(π_ref ‖ π), whose gradient in the logits is kl_beta · (π − π_ref): it stays
  large when π puts all its mass on one label. ``"reverse"`` is KL(π ‖ π_ref) (the RLHF form),
  whose gradient π ⊙ (log π/π_ref − KL) vanishes there.

Why the forward KL: a handful of early updates can push π to put ~all its mass on one label for
every item. At that point every other term's gradient vanishes too — the score of the favourite
label (1 − π(a|x)) is ~0, and an explored label has π(a|x) ≈ 0, so its importance weight is ~0 —
so with the reverse KL nothing pulls π back and it predicts one label forever (chance accuracy
on digits at every seed: docs/benchmarks.md §1, "reinforce"). The forward KL keeps every label's probability high enough for
the answers on explored labels to carry weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmrl_desktop.core.learning.algorithm_options import ReinforceOptions
from mmrl_desktop.core.learning.algorithms.base import (
    Action,
    Algorithm,
    ReplayBatch,
    sampled_action,
)


class Reinforce(Algorithm):
    name = "reinforce"
    Options = ReinforceOptions

    def __init__(self, policy, num_labels, config, device="cpu"):
        super().__init__(policy, num_labels, config, device)
        self.baseline = {t: 0.0 for t in self.num_labels}  # the running mean of the thumbs

    @torch.no_grad()
    def act(self, inputs, generator=None, item_ids=None) -> dict[str, Action]:
        out = {}
        for t, p in self.greedy(inputs).items():
            mix = (1 - self.config.epsilon) * p + self.config.epsilon / p.shape[-1]
            out[t] = sampled_action(mix, p, generator)
        return out

    def _baseline(self, task: str, logp: torch.Tensor, reward, answered) -> torch.Tensor:
        """b per row [B], detached."""
        kind = self.options.baseline
        if kind == "expected":
            p = logp.detach().exp()
            return 2 * (p * p).sum(-1) - 1
        if kind == "rloo":
            n = answered.sum()
            others = ((reward * answered).sum() - reward * answered) / (n - answered).clamp_min(1)
            return torch.where(n - answered > 0, others, torch.zeros_like(others))
        return torch.full_like(reward, self.baseline[task])

    def _kl(self, logp: torch.Tensor, ref_logits: torch.Tensor) -> torch.Tensor:
        logq = F.log_softmax(ref_logits.float(), -1)
        if self.options.kl_direction == "forward":
            return (logq.exp() * (logq - logp)).sum(-1).mean()
        return (logp.exp() * (logp - logq)).sum(-1).mean()

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        logits = self.policy(batch.inputs)
        ref = None
        if self.config.kl_beta > 0:
            with torch.no_grad():
                ref = self.reference(batch.inputs)
        m = self.options.baseline_momentum
        total = 0.0
        metrics: dict[str, float] = {}
        for t, fb in batch.feedback.items():
            logp = F.log_softmax(logits[t].float(), -1)
            logp_a = logp.gather(1, fb.shown[:, None]).squeeze(1)
            answered = fb.answered.float()
            w = (logp_a.detach().exp() / fb.propensity).clamp(max=self.options.importance_clip)
            b = self._baseline(t, logp, fb.reward, answered)
            adv = (fb.reward - b) * answered
            pg = -(w * adv * logp_a).sum()
            corr = fb.has_correction.float()
            ce = -(logp.gather(1, fb.corrected.clamp_min(0)[:, None]).squeeze(1) * corr).sum()
            n = (answered + corr).sum().clamp_min(1.0)
            loss = (pg + self.options.correction_weight * ce) / n
            if fb.answered.any():
                mean_r = float(fb.reward[fb.answered].mean())
                self.baseline[t] = m * self.baseline[t] + (1 - m) * mean_r
                metrics[f"reward/baseline_{t}"] = float(b[fb.answered].mean())
            metrics[f"loss/{t}"] = float(loss.detach())
            if ref is not None:
                kl = self._kl(logp, ref[t])
                loss = loss + self.config.kl_beta * kl
                metrics[f"kl/{t}"] = float(kl.detach())
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics

    def extra_state(self):
        return {"baseline": dict(self.baseline)}

    def load_extra_state(self, state) -> None:
        self.baseline.update({t: float(v) for t, v in state.get("baseline", {}).items()})
