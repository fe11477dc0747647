"""The KTO loss (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic
Optimization", eq. 7-8), on summed completion log-probabilities.

For a completion y of prompt x with log-ratio ρ = log π(y|x) − log π_ref(y|x) (the implied reward
is r = β·ρ):

* the reference point z0 = max(0, mean over the batch of log π(y'|x) − log π_ref(y'|x)), an
  estimate of KL(π‖π_ref), detached (no gradient flows through it, as in the paper and TRL),
  from pairs (x, y'): TRL's *mismatched* pairs (completion i-1 with prompt i, the batch rotated
  by one) or, online, y' sampled from the policy now for each prompt (``GenerativePolicy.
  sample_kl_batch``: the expectation the paper's z0 is defined with; mismatched pairs are its
  stand-in when completions come from a fixed data set);
* desirable:   λ_D · (1 − σ(β·(ρ − z0)))
* undesirable: λ_U · (1 − σ(β·(z0 − ρ)))
* the loss is the mean over the batch of these.

With the same pairs this is exactly TRL 1.16's ``KTOTrainer`` with ``loss_type="kto"`` (tests/core/test_generate_kto.py
compares them on the same batch of a real model to 1e-6). ``kl`` is z0; ``rewards_chosen`` /
``rewards_rejected`` are the mean implied rewards β·ρ of the desirable / undesirable completions,
``reward_margin`` their difference (0 when the batch lacks one of the two).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class KTOSettings:
    beta: float = 0.1
    desirable_weight: float = 1.0  # λ_D
    undesirable_weight: float = 1.0  # λ_U


def kto_loss(
    policy_logps: torch.Tensor,
    ref_logps: torch.Tensor,
    kl_policy_logps: torch.Tensor,
    kl_ref_logps: torch.Tensor,
    desirable: torch.Tensor,
    settings: KTOSettings = KTOSettings(),
) -> tuple[torch.Tensor, dict[str, float]]:
    """The mean KTO loss over a batch and its figures (loss, kl, rewards, margin).

    ``policy_logps`` / ``ref_logps``: log π(y_i|x_i), log π_ref(y_i|x_i), shape (n,);
    ``kl_*``: the same for the mismatched pairs; ``desirable``: bool, shape (n,)."""
    desirable = desirable.to(torch.bool)
    z0 = (kl_policy_logps - kl_ref_logps).mean().detach().clamp(min=0)
    logratio = policy_logps - ref_logps
    beta = settings.beta
    chosen = logratio[desirable]
    rejected = logratio[~desirable]
    losses = torch.cat(
        (
            settings.desirable_weight * (1 - F.sigmoid(beta * (chosen - z0))),
            settings.undesirable_weight * (1 - F.sigmoid(beta * (z0 - rejected))),
        )
    )
    loss = losses.mean()
    r_chosen = float((beta * chosen.detach()).mean()) if chosen.numel() else 0.0
    r_rejected = float((beta * rejected.detach()).mean()) if rejected.numel() else 0.0
    margin = r_chosen - r_rejected if chosen.numel() and rejected.numel() else 0.0
    stats = {
        "loss": float(loss.detach()),
        "kl": float(z0),
        "rewards_chosen": r_chosen,
        "rewards_rejected": r_rejected,
        "reward_margin": margin,
    }
    return loss, stats


def mismatched(n: int) -> list[int]:
    """For each prompt i, the index of the completion it is paired with for the KL estimate:
    i-1, cyclically (TRL's rotation by one: (x_1, y_n), (x_2, y_1), …)."""
    return [(i - 1) % n for i in range(n)]


def balanced_desirable_weight(n_desirable: int, n_undesirable: int, cap: float = 10.0) -> float:
    """λ_D (with λ_U = 1) so that λ_D·n_D ≈ λ_U·n_U: the low end of the paper's recommended range
    λ_D·n_D / (λ_U·n_U) ∈ [1, 4/3] (eq. 8), never below 1 nor above ``cap``. Early thumbs are
    mostly 👎 (a draft is right about as often as chance), and without it the 👎 outweigh."""
    ratio = n_undesirable / max(1, n_desirable)
    return float(min(max(ratio, 1.0), cap))


def balanced_weights(
    n_desirable: int, n_undesirable: int, ratio: float = 1.0
) -> tuple[float, float]:
    """(λ_D, λ_U) with λ_D·n_D / (λ_U·n_U) = ``ratio`` (the paper's eq. 8 range is [1, 4/3];
    TRL's ``KTOTrainer`` warns outside it): the minority's weight is 1 and the majority's is
    lowered, never raised. With one side absent, (1, 1)."""
    if n_desirable <= 0 or n_undesirable <= 0:
        return 1.0, 1.0
    r = n_desirable / (ratio * n_undesirable)  # λ_D/λ_U must be 1/r
    return (1.0, r) if r < 1 else (1.0 / r, 1.0)


def thumbs_up_lr_scale(n_desirable: int, ramp: int) -> float:
    """The learning rate's scale while few answers are desirable: ``n_D / ramp`` up to 1 (0:
    no 👍 yet, nothing learnt; ``ramp`` 0: always 1). From 👎 alone a policy learns only "not
    this", and on a small model that drifted the drafts to non-answers (docs/adr/0018)."""
    if ramp <= 0:
        return 1.0
    return float(min(1.0, max(0, n_desirable) / ramp))
