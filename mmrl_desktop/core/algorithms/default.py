"""default — thumbs likelihood on a replayed softmax policy, Thompson choice of the shown label.

Training (``update``): for the shown label a with p = π(a | x),
    👍  −log p            👎  −log(1 − p)          correction c: −log π(c | x)
plus ``kl_beta`` · KL(π ‖ π_ref) toward the starting model.
Acting (``act``): a Bayesian-linear (ridge) reward model per label on the policy's embedding,
refitted on all logged feedback after each new answer (``refresh``); the shown label is the argmax
of one Thompson draw, its propensity the Monte-Carlo frequency of that label among draws.
Evaluation (``greedy``): the softmax head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mmrl_desktop.core.algorithms.base import Action, Algorithm, ReplayBatch, _to, sample_labels
from mmrl_desktop.core.errors import UserError


@dataclass
class DefaultOptions:
    thompson_scale: float = 0.5  # spread of the posterior draws (0 = greedy on the ridge means)
    prior_precision: float = 1.0  # ridge λ of the Bayesian-linear reward model
    draws: int = 64  # Monte-Carlo draws to estimate the shown label's propensity
    correction_weight: float = 1.0  # weight of a correction's cross-entropy
    down_weight: float = 1.0  # weight of a 👎's −log(1 − p)

    def validate(self) -> None:
        if self.thompson_scale < 0 or self.prior_precision <= 0 or self.draws < 1:
            raise UserError("default: thompson_scale ≥ 0, prior_precision > 0 and draws ≥ 1.")


class DefaultAlgorithm(Algorithm):
    name = "default"
    Options = DefaultOptions

    def __init__(self, policy, num_labels, config, device="cpu"):
        super().__init__(policy, num_labels, config, device)
        d = policy.embed_dim + 1
        lam = self.options.prior_precision
        # per task: posterior precision A [K, d, d] and b [K, d] of reward ≈ θ_aᵀ[z, 1]
        self.post_a = {t: torch.eye(d).repeat(k, 1, 1) * lam for t, k in self.num_labels.items()}
        self.post_b = {t: torch.zeros(k, d) for t, k in self.num_labels.items()}
        self.fitted = False
        self._post_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    # ---------------------------------------------------------------- acting
    @torch.no_grad()
    def _features(self, inputs) -> torch.Tensor:
        was = self.policy.training
        self.policy.eval()
        z = self.policy.embed(_to(inputs, self.device)).float().cpu()
        self.policy.train(was)
        return torch.cat([z, torch.ones(len(z), 1)], dim=1)

    @torch.no_grad()
    def act(self, inputs, generator=None) -> dict[str, Action]:
        probs = self.greedy(inputs)
        if not self.fitted:
            return {t: _from_draws(sample_labels(p, generator)[None], p) for t, p in probs.items()}
        x = self._features(inputs)  # [B, d]
        out = {}
        for t, p in probs.items():
            cov, mean = self._posterior(t)
            mu = x @ mean.T  # [B, K]
            var = torch.einsum("bd,kde,be->bk", x, cov, x).clamp_min(0)
            noise = torch.randn(
                (self.options.draws, *mu.shape), generator=generator, dtype=mu.dtype
            )
            scores = mu + self.options.thompson_scale * var.sqrt() * noise  # [M, B, K]
            out[t] = _from_draws(scores.argmax(-1), p)
        return out

    def _posterior(self, task: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(covariance [K, d, d], mean [K, d]) of the ridge posterior, cached until a refit."""
        if task not in self._post_cache:
            cov = torch.linalg.inv(self.post_a[task])
            self._post_cache[task] = (cov, (cov @ self.post_b[task][:, :, None]).squeeze(-1))
        return self._post_cache[task]

    @torch.no_grad()
    def refresh(self, buffer) -> dict[str, float]:
        """Refit the ridge reward model on every logged answer (embedding of the current model)."""
        if len(buffer) == 0:
            return {}
        lam = self.options.prior_precision
        d = self.policy.embed_dim + 1
        post_a = {t: torch.eye(d).repeat(k, 1, 1) * lam for t, k in self.num_labels.items()}
        post_b = {t: torch.zeros(k, d) for t, k in self.num_labels.items()}
        for batch in buffer.iter_batches(512):
            x = self._features(batch.inputs)
            for t, fb in batch.feedback.items():
                rows = fb.answered
                if rows.any():
                    _accumulate(post_a[t], post_b[t], x[rows], fb.shown[rows], fb.reward[rows])
                rows = fb.has_correction & (fb.corrected != fb.shown)
                if rows.any():
                    ones = torch.ones(int(rows.sum()))
                    _accumulate(post_a[t], post_b[t], x[rows], fb.corrected[rows], ones)
        self.post_a, self.post_b, self.fitted = post_a, post_b, True
        self._post_cache = {}
        return {}

    # ---------------------------------------------------------------- learning
    def update(self, batch: ReplayBatch) -> dict[str, float]:
        batch = batch.to(self.device)
        logits = self.policy(batch.inputs)
        kl = self.kl_to_reference(batch.inputs, logits) if self.config.kl_beta > 0 else {}
        total = 0.0
        metrics: dict[str, float] = {}
        for t, fb in batch.feedback.items():
            logp = F.log_softmax(logits[t], dim=-1)
            logp_a = logp.gather(1, fb.shown.clamp_min(0)[:, None]).squeeze(1)
            up = (fb.reward > 0).float()
            down = (fb.reward < 0).float()
            log1m = torch.log1p(-logp_a.exp().clamp(max=1 - 1e-6))
            thumbs = -(up * logp_a + self.options.down_weight * down * log1m)
            corr = fb.has_correction.float()
            ce = -logp.gather(1, fb.corrected.clamp_min(0)[:, None]).squeeze(1) * corr
            n = (fb.answered.float() + corr).sum().clamp_min(1.0)
            loss = (thumbs.sum() + self.options.correction_weight * ce.sum()) / n
            metrics[f"loss/{t}"] = float(loss.detach())
            if t in kl:
                loss = loss + self.config.kl_beta * kl[t]
                metrics[f"kl/{t}"] = float(kl[t].detach())
            total = total + loss
        metrics["loss/total"] = float(total.detach())
        metrics.update(self.optimizer_step(total))
        return metrics

    # ---------------------------------------------------------------- checkpoints
    def extra_state(self):
        return {
            "post_a": dict(self.post_a),
            "post_b": dict(self.post_b),
            "fitted": self.fitted,
        }

    def load_extra_state(self, state) -> None:
        if "post_a" in state:
            self.post_a = {t: v.float() for t, v in state["post_a"].items()}
            self.post_b = {t: v.float() for t, v in state["post_b"].items()}
            self.fitted = bool(state.get("fitted", False))
            self._post_cache = {}


def _accumulate(a: torch.Tensor, b: torch.Tensor, x, labels, rewards) -> None:
    """Add rows (x, reward) to the ridge statistics of their labels."""
    for k in labels.unique().tolist():
        sel = labels == k
        xs = x[sel]
        a[k] += xs.T @ xs
        b[k] += xs.T @ rewards[sel].float()


def _from_draws(choices: torch.Tensor, probs: torch.Tensor) -> Action:
    """choices [M, B] of label ids → shown = first draw, propensity = its frequency."""
    shown = choices[0]
    prop = (choices == shown[None]).float().mean(0).clamp(min=1.0 / max(len(choices), 2))
    if len(choices) == 1:  # a single draw from ``probs``: its probability is exact
        prop = probs.gather(1, shown[:, None]).squeeze(1).clamp(1e-6, 1.0)
    return Action(shown.long(), prop, probs)
