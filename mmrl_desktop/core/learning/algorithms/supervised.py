"""supervised — the full-information upper bound: cross-entropy on the corrected label.

The bench passes the true label as the correction on every event, so this learns from labels
through the same model, replay and loop as the thumbs learners. Rows without a correction (a real
expert's bare 👍) use the shown label when it was confirmed. Acting is ε-greedy on the softmax.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from mmrl_desktop.core.learning.algorithms.base import Algorithm, ReplayBatch


class Supervised(Algorithm):
    name = "supervised"
    learns_few_harder = True  # refit_follow and draws with replacement while answers are few

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        logits = self.policy(batch.inputs)
        total = 0.0
        metrics: dict[str, float] = {}
        for t, fb in batch.feedback.items():
            target = torch.where(fb.has_correction, fb.corrected, fb.shown)
            use = fb.has_correction | (fb.reward > 0)
            ce = F.cross_entropy(logits[t], target.clamp_min(0), reduction="none")
            loss = (ce * use.float()).sum() / use.float().sum().clamp_min(1.0)
            metrics[f"loss/{t}"] = float(loss.detach())
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics
