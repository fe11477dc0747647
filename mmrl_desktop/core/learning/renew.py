"""Shrink and perturb (Ash & Adams, "On warm-starting neural network training", NeurIPS 2020): a
network trained one answer at a time, from the first answers on, generalises worse than the same
network trained afresh on all of them — it has fitted the first few answers for hundreds of
updates and lost the plasticity to learn what the later ones show. Each time the number of
answers doubles (from ``FIRST`` on) the weights move part of the way toward a new random
initialisation, ``θ ← λθ + (1 − λ)θ_new``, and the optimiser's moments start over: what was learnt
stays (shrunk), the new random part restores the gradients a fresh network would have.

Own-folder shapes, the trainer's procedure replayed outside the app
(``benchmarks/own_folders/stream_vs_fresh.py``, 300 answers): seed 1 .41 → .86, seed 3 .43 → .48
at λ = .5; docs/benchmarks.md §5h and ADR 0020 for the runs through the app.

While the answers are few, a renewal can go further (``TrainConfig.refit_until``, 0 = off; −1,
the default, is 64 for ``supervised`` and ``default`` — not on the tiny 8×8 design — and off for
the other thumbs learners: ``TrainConfig.refit_answers``, ``Algorithm.refit_until``; ADR 0024,
0028): each time they grow by half from 8 (8, 12, 18, 27, 41, 62, …: ``refits``) the model
restarts from new random weights and trains ``refit_updates`` updates at once on every answer,
on top of the answers' own budgets (``CatchUp.start(…, repaid=False)``), and is shown once they
ran — what a network trained once on the first answers gets (replayed
on the own-folder glyphs at 60 answers: .55 / .65 streamed, .83 / .78 trained once;
docs/benchmarks.md §5l). A refit due while one is still training joins it (``CatchUp
.refitting``; ADR 0029): an expert who answers faster than a refit runs would otherwise restart
it at every refit point and see no new model until the answers stopped passing them. Cheap while
the answers are few (the six refits up to 64 answers are
1,800 updates: an own-folder run of 300 answers at 64 px took 149–173 s of one CPU thread with
them, 99–109 s without), so it stops at ``refit_until``; then the doublings of ``renew_from`` go
on where they would have been without refits (``due_after_refits``).

Only for a model trained from scratch (every weight trainable): a pretrained encoder's head or
LoRA adapters start from what the user's folder gave them (a LoRA B matrix starts at zero, and
a fresh ``reset_parameters`` would not), so they are never renewed. The new weights come from a
CPU generator seeded from the config's seed and the answer count, so every rank of a ``torchrun``
job renews alike.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import nn

FIRST = 32  # the first renewal, at 32 answers; then 64, 128, 256, …
REFIT_FROM = 8  # the first refit (``TrainConfig.refit_until``), at 8 answers; then 12, 18, 27, …
REFIT_GROWTH = 1.5  # a refit each time the answers grow by half while they are few


def from_scratch(policy: nn.Module) -> bool:
    """``policy`` reads no pretrained encoder (neither its cached embedding nor the encoder with
    LoRA adapters: ``Policy.input_keys``) and every weight of it is trained."""
    if getattr(policy, "input_keys", None):
        return False
    params = list(policy.parameters())
    return bool(params) and all(p.requires_grad for p in params)


def tiny_design(policy: nn.Module) -> bool:
    """``policy`` sees images through the 8×8-digits design (``SmallCNN.tiny``)."""
    return any(getattr(m, "tiny", False) is True for m in policy.modules())


def due(answers: int, renewed_at: int, first: int = FIRST) -> bool:
    """A renewal is due: at least ``first`` answers and twice as many as at the last one."""
    return answers >= first and answers >= 2 * max(renewed_at, first // 2)


def last_doubling(answers: int, first: int = FIRST) -> int:
    """The renewal a model trained on ``answers`` answers has already had (a resumed model is
    not renewed again at once): the largest power of two ≤ answers from ``first`` on, else 0."""
    if answers < first:
        return 0
    return 1 << (answers.bit_length() - 1)


def refits(until: int, growth: float = REFIT_GROWTH) -> list[int]:
    """The answer counts at which the model is refit (``TrainConfig.refit_until``): from
    ``REFIT_FROM``, each the last one times ``growth`` (``TrainConfig.refit_growth``; rounded
    up), up to ``until``: 8, 12, 18, 27, 41, 62, 93, … by half"""
    out, n = [], REFIT_FROM
    while n <= until:
        out.append(n)
        n = math.ceil(n * growth)
    return out


def refit_due(answers: int, renewed_at: int, until: int, growth: float = REFIT_GROWTH) -> bool:
    """A refit is due: ``answers`` is at most ``until`` and has reached the first refit point
    after the last renewal."""
    return any(renewed_at < n <= answers for n in refits(min(answers, until), growth))


def follow_updates(
    answers: int,
    renewed_at: int | None,
    until: int,
    refit_updates: int,
    follow: float,
    growth: float = REFIT_GROWTH,
) -> int:
    """Extra updates for each new answer after a refit (``TrainConfig.refit_follow``): while
    ``answers`` is at most ``until`` and the last renewal was a refit at ``renewed_at`` answers,
    ``follow`` × the refit's updates per answer it was fit on (``refit_updates / renewed_at``),
    so the answers that come after a refit are learned as hard as the ones it was fit on. 0 when
    a refit is due at ``answers`` (it trains on them all), before any refit, with ``follow`` 0,
    and from the last refit on (62 of ``until`` = 64): the refits seed their weights and draws
    (``draws_seed``), so the replay's draws after it are the same with the option or without;
    the pool's pseudo-labels (``supervised``'s since ADR 0040, thumbs only's) are not — their
    graph carries what the model learnt before the refit (docs/benchmarks.md §5zz41)."""
    last = refits(until, growth)
    if follow <= 0 or not renewed_at or not last or answers >= last[-1]:
        return 0
    if refit_due(answers, renewed_at, until, growth):
        return 0
    return round(follow * refit_updates / renewed_at)


def draws_seed(sample_seed: int, answers: int) -> int:
    """The seed of the replay's draws (minibatches, augmentations) from a refit at ``answers``
    answers on (the trainer's ``sample_gen``): seeded as the refit's new weights are, so the
    model ``supervised`` refits on the same answers is the same whatever came before it — an
    option that changes only how the first answers are trained changes nothing after the next
    refit it does not act on (docs/benchmarks.md §5zr), as long as no pool pseudo-labels teach
    it: thumbs only's, and ``supervised``'s from 40 answers on (ADR 0040), come from a graph
    that remembers the model before (§5zz41)."""
    return (sample_seed * 1_000_003 + answers) % 2**63  # a generator's seed fits 64 bits


def due_after_refits(answers: int, renewed_at: int, first: int = FIRST) -> bool:
    """After the last refit (at ``renewed_at``), the doublings of ``first`` go on as without
    refits: the first of 32, 64, 128, … at least twice ``renewed_at`` (a refit at 62 answers:
    128, then 256), so a project with refits differs from one without only in its first
    answers."""
    nxt = first
    while nxt < 2 * renewed_at:
        nxt *= 2
    return answers >= nxt


def last_renewal(
    answers: int, first: int = FIRST, until: int = 0, growth: float = REFIT_GROWTH
) -> int:
    """The renewal a model trained on ``answers`` answers has already had (a resumed model is
    not renewed again at once): the last refit point while the answers are at most ``until``,
    else the last doubling (``last_doubling``)."""
    points = refits(min(answers, until), growth)
    if answers <= until:
        return points[-1] if points else 0
    return max(last_doubling(answers, first), points[-1] if points else 0)


@dataclass
class CatchUp:
    """The trainer's catch-up after a renewal (``TrainConfig.renew_catch_up``): ``extra``
    updates at once on the renewed model, repaid by the next answers' budgets, so the total stays
    ``updates_per_event`` per answer; the renewed model is published only once they have run.

    A model renewed to fresh weights (λ = 0) and given a few updates is near chance: without the
    catch-up every renewal shows as a dip of several answers; with it the new model is already
    trained on every answer when it is first shown."""

    left: int = 0  # catch-up updates not run yet: no new model version before they are
    owed: int = 0  # updates still to repay from the next answers' budgets
    size: int = 0  # the updates of the catch-up under way (its progress: ``progress``)
    refit: bool = False  # the catch-up under way is a refit's (``start(…, repaid=False)``)

    def start(self, extra: int, repaid: bool = True) -> int:
        """``extra`` updates at once; ``repaid`` False (a refit): on top of the answers' budgets."""
        extra = max(0, int(extra))
        self.refit = not repaid or self.refitting  # a renewal's catch-up within a refit: still it
        self.size = self.left + extra
        self.left += extra
        self.owed += extra if repaid else 0
        return extra

    @property
    def refitting(self) -> bool:
        """A refit's updates are still under way: a refit due now joins it (``Algorithm
        .renew_if_due``), so answers given faster than a refit runs do not draw new weights
        again and again, each time before the last ones were shown (ADR 0029)."""
        return self.refit and self.left > 0

    def budget(self, updates: int) -> int:
        """New answers' ``updates``, less what is still owed."""
        paid = min(self.owed, max(0, updates))
        self.owed -= paid
        return updates - paid

    def ran(self, pending: int) -> None:
        """One update ran; ``pending``: the updates still owed after it (none: caught up)."""
        self.left = 0 if pending <= 0 else max(0, self.left - 1)

    def progress(self) -> dict[str, float]:
        """After an update, while a catch-up or a refit runs and once more when it is done: the
        updates it has left and its size (``train/retrain_left``, ``train/retrain_updates``),
        for the status bar's note that the model shown is the one from before."""
        if not self.size:
            return {}
        out = {"train/retrain_left": float(self.left), "train/retrain_updates": float(self.size)}
        if not self.left:
            self.size = 0
        return out


@torch.no_grad()
def shrink_perturb(policy: nn.Module, lam: float, seed: int) -> int:
    """θ ← λθ + (1 − λ)θ_new for every module that owns parameters and can reset them (its
    ``reset_parameters`` under a CPU generator seeded ``seed``); buffers (running statistics)
    are kept. Returns the number of tensors renewed."""
    done = 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for module in policy.modules():
            own = dict(module.named_parameters(recurse=False))
            if not own or not hasattr(module, "reset_parameters"):
                continue
            twin = copy.deepcopy(module).to("cpu")
            twin.reset_parameters()
            new = dict(twin.named_parameters(recurse=False))
            for name, p in own.items():
                p.mul_(lam).add_(new[name].to(p.device, p.dtype), alpha=1.0 - lam)
                done += 1
    return done
