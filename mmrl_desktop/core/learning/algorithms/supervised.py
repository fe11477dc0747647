"""supervised — the full-information upper bound: cross-entropy on the corrected label.

The bench passes the true label as the correction on every event, so this learns from labels
through the same model, replay and loop as the thumbs learners. Rows without a correction (a real
expert's bare 👍) use the shown label when it was confirmed. Acting is ε-greedy on the softmax:
the label shown is the network's.

It also learns from the items nobody has labelled yet (``pseudo_weight`` 1, the default since
docs/benchmarks.md §5zz12; ADR 0040): the default algorithm's graph posterior over the project's
pool (``default.py``), fitted to the labels, gives each pool item soft pseudo-labels, gated by
how well that posterior foretold the labels it had not seen, and the network's own prediction
takes the graph's place as far as it foretells them better (``net_temper``); the minibatch then
carries as many pool items as answers, augmented as the answers are (``pool_augment``). While
the answers are few (``pseudo_after_few``: fewer than 8 per label) the labels alone teach,
learned harder (ADR 0034); below ``pseudo_from`` answers (40) too. At ``pseudo_weight`` 0 it
keeps no pool and builds no graph: the learner before §5zz12.
"""

from __future__ import annotations

import torch.nn.functional as F

from mmrl_desktop.core.learning.algorithm_options import SupervisedOptions
from mmrl_desktop.core.learning.algorithms.base import Algorithm, ReplayBatch
from mmrl_desktop.core.learning.algorithms.default import DefaultAlgorithm


class Supervised(DefaultAlgorithm):
    name = "supervised"
    Options = SupervisedOptions
    learns_few_harder = True  # refit_follow and draws with replacement while answers are few
    pseudo_until = 0  # its pseudo-labels follow the labels: pseudo_after_few, pseudo_from
    pseudo_fixed_until = 0

    act = Algorithm.act  # the network's label: the pool's posterior only teaches
    refit_until = Algorithm.refit_until  # the config's, on every design

    @property
    def uses_pool(self) -> bool:
        return self.options.pseudo_weight > 0

    @property
    def votes_for_new_items(self) -> bool:
        """``new_item_vote`` needs the pool: without it the held-out figure is the network's."""
        return self.uses_pool and super().votes_for_new_items

    def pool_sample(self, item_ids) -> list[str]:
        """No items without the pool (a pretrained encoder then embeds none up front)."""
        return super().pool_sample(item_ids) if self.uses_pool else []

    def attach_pool(self, item_ids, load) -> None:
        if self.uses_pool:
            super().attach_pool(item_ids, load)

    def extend_pool(self, item_ids) -> None:
        if self.uses_pool:
            super().extend_pool(item_ids)

    def refresh(self, buffer) -> dict[str, float]:
        if not self.uses_pool:
            return {}
        self.answers = len(buffer)
        return super().refresh(buffer)

    def _with_pool(self, batch: ReplayBatch, b: int):
        few = self.options.pseudo_after_few and self.few_answers(self.answers)
        if few or self.answers < self.options.pseudo_from:
            return batch.inputs, None
        return super()._with_pool(batch, b)

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        b = len(next(iter(batch.feedback.values())).shown)
        inputs, idx = self._with_pool(batch, b)
        logits = self.policy(inputs)
        total = 0.0
        metrics: dict[str, float] = {}
        for t, fb in batch.feedback.items():
            target = fb.corrected.where(fb.has_correction, fb.shown)
            use = fb.has_correction | (fb.reward > 0)
            ce = F.cross_entropy(logits[t][:b], target.clamp_min(0), reduction="none")
            loss = (ce * use.float()).sum() / use.float().sum().clamp_min(1.0)
            metrics[f"loss/{t}"] = float(loss.detach())
            if idx is not None and t in self.targets:
                loss = loss + self._pseudo_loss(t, logits[t][b:], idx, metrics)
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics
