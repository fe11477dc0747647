"""The interface every learning algorithm implements, and the small helpers they share.

An algorithm owns the policy's optimiser and turns replayed feedback into parameter updates:

    algo = ALGORITHMS[name](policy, num_labels={"label": 10}, config=TrainConfig(), device=dev)
    actions = algo.act(inputs, generator, item_ids)  # {task: Action}: the label shown + propensity
    probs = algo.greedy(inputs)               # {task: [B, K]} — for evaluation
    algo.shown                                # the model that predicts (weight_average)
    metrics = algo.update(batch)              # one optimiser step on a ReplayBatch
    metrics = algo.refresh(buffer)            # after new feedback arrived (optional hook)
    state = algo.state_dict(); algo.load_state_dict(state)

``inputs`` is the batch dict made by ``Featurizer.collate`` (tensors + per-modality ``*_mask``);
``item_ids`` (and ``ReplayBatch.item_ids``) name the item of each row, so an algorithm recognises
an item by its id, never by its content.
Metric keys are namespaced: ``loss/…``, ``kl/…``, ``reward/…``, ``policy/…``.
Each algorithm is one self-contained module (CleanRL style) with a ``name`` and an ``Options``
dataclass for its own knobs (filled from ``TrainConfig.options``; declared, with a help sentence
per field, in the torch-free ``core/learning/algorithm_options.py`` so the window can show them).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.learning import renew
from mmrl_desktop.core.learning.algorithm_options import NoOptions, parse_options
from mmrl_desktop.core.learning.batch import ReplayBatch, TaskFeedback  # noqa: F401 (re-exported)
from mmrl_desktop.core.learning.device import evaluating
from mmrl_desktop.core.learning.optim import AdamW

if TYPE_CHECKING:  # pragma: no cover
    from mmrl_desktop.core.learning.model.policy import Policy
    from mmrl_desktop.core.learning.replay import ReplayBuffer


HOLD_ANSWERS = 8  # after a renewal the old average is shown for this many answers' updates
# "Few answers": fewer than this many per label of the task with the most labels — where the
# algorithm's choice (``Algorithm.learns_few_harder``) turns on ``refit_follow`` and
# ``draws_with_replacement`` (docs/benchmarks.md §5zw)
FEW_PER_LABEL = 8


@dataclass
class Action:
    """What the policy shows for one task, for a batch of items (CPU tensors).

    labels:     long [B], the label index shown
    propensity: float [B], the probability with which that label was chosen, in (0, 1]
    probs:      float [B, K], the greedy class probabilities (what the GUI shows as confidence)
    """

    labels: torch.Tensor
    propensity: torch.Tensor
    probs: torch.Tensor


class Algorithm:
    """Base class: optimiser, frozen reference policy, ε-greedy act, greedy eval, checkpoints."""

    name: ClassVar[str] = "base"
    Options: ClassVar[type] = NoOptions
    # −1 in ``refit_follow`` / ``draws_with_replacement``: on while the answers are few
    learns_few_harder: ClassVar[bool] = False

    def __init__(
        self,
        policy: Policy,
        num_labels: dict[str, int],
        config: TrainConfig,
        device: torch.device | str = "cpu",
    ):
        self.device = torch.device(device)
        self.config = config
        self.num_labels = dict(num_labels)
        self.options = parse_options(self.Options, config.options, self.name)
        self.policy = policy.to(self.device)
        self.reference = copy.deepcopy(self.policy).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.optimizer = self.make_optimizer()
        self.updates = 0
        self.renewable = renew.from_scratch(self.policy)
        self.renewed_at: int | None = None  # answers at the last shrink-perturb (renew.py)
        self.average: nn.Module | None = None  # the model shown: the weights' moving average
        self.averaged = 0  # updates in ``average`` since it last started over
        if config.weight_average > 0 and self.renewable:
            self.average = copy.deepcopy(self.policy).eval()
            for p in self.average.parameters():
                p.requires_grad_(False)
        self.held: nn.Module | None = None  # the average before a renewal, shown for a while
        self._pairs: tuple[list, list, list, list] | None = None

    # ---------------------------------------------------------------- building blocks
    def make_optimizer(self) -> AdamW:
        return AdamW(
            self.policy.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay
        )

    def trainable(self) -> list[nn.Parameter]:
        return [p for p in self.policy.parameters() if p.requires_grad]

    def optimizer_step(self, loss: torch.Tensor) -> dict[str, float]:
        """zero_grad → backward → clip → step. Returns ``policy/grad_norm``."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(self.trainable(), self.config.grad_clip)
        self.optimizer.step()
        self.updates += 1
        self.average_step()
        return {"policy/grad_norm": float(norm)}

    # ---------------------------------------------------------------- the model shown
    @property
    def shown(self) -> nn.Module:
        """The model that predicts for the user, the evaluation and the exports: the moving
        average of the weights (``TrainConfig.weight_average``), else the trained policy. Right
        after a renewal, the average from before it, for ``HOLD_ANSWERS`` answers' updates: a
        renewed model is near chance at first (docs/benchmarks.md §5m)."""
        if self.held is not None:
            return self.held
        return self.policy if self.average is None else self.average

    def _tensor_pairs(self) -> tuple[list, list, list, list]:
        """(averaged float tensors, live ones, averaged others, live others) of the state."""
        if self._pairs is None:
            avg, live = self.average.state_dict(), self.policy.state_dict()
            fl = [k for k, v in live.items() if v.dtype.is_floating_point]
            other = [k for k in live if k not in set(fl)]
            self._pairs = (
                [avg[k] for k in fl],
                [live[k] for k in fl],
                [avg[k] for k in other],
                [live[k] for k in other],
            )
        return self._pairs

    @torch.no_grad()
    def average_step(self) -> None:
        """Move the average toward the weights just updated: decay ``min(d, (1 + n)/(10 + n))``
        after n updates since it started over (a short memory at first)."""
        if self.average is None:
            return
        self.averaged += 1
        n = self.averaged
        d = min(self.config.weight_average, (1 + n) / (10 + n))
        avg_f, live_f, avg_o, live_o = self._tensor_pairs()
        torch._foreach_lerp_(avg_f, live_f, 1.0 - d)
        for a, m in zip(avg_o, live_o, strict=True):
            a.copy_(m)
        if self.held is not None and n >= HOLD_ANSWERS * self.config.updates_per_event:
            self.held = None  # the renewed average has caught up: shown from now on

    @torch.no_grad()
    def restart_average(self, hold: bool = False) -> None:
        """The average starts over from the weights as they are (after a renewal, a load, an
        undo). ``hold`` (a renewal): the average so far stays on show until the new one has
        had ``HOLD_ANSWERS`` answers' updates; otherwise nothing older is shown."""
        if self.average is None:
            return
        if not hold:
            self.held = None
        elif self.held is None:
            self.held = copy.deepcopy(self.average)
        self.averaged = 0
        avg_f, live_f, avg_o, live_o = self._tensor_pairs()
        for a, m in zip(avg_f + avg_o, live_f + live_o, strict=True):
            a.copy_(m)

    def few_answers(self, answers: int) -> bool:
        """Fewer than ``FEW_PER_LABEL`` answers per label of the task with the most labels."""
        return answers < FEW_PER_LABEL * max(self.num_labels.values(), default=0)

    def refit_follow_at(self, answers: int) -> float:
        """``TrainConfig.refit_follow`` as it applies at ``answers``: −1 (the default) is the
        algorithm's choice — 1 while the answers are few for one that learns them harder
        (``supervised``: with draws with replacement, +.015 / +.016 at 30 / 60 answers over
        four sets, docs/benchmarks.md §5zw, ADR 0034), else 0."""
        chosen = self.config.refit_follow
        if chosen >= 0:
            return chosen
        return 1.0 if self.learns_few_harder and self.few_answers(answers) else 0.0

    def draws_with_replacement_at(self, answers: int) -> bool:
        """``TrainConfig.draws_with_replacement`` as it applies at ``answers`` (−1: as
        ``refit_follow_at`` chooses)."""
        chosen = self.config.draws_with_replacement
        if chosen >= 0:
            return bool(chosen)
        return self.learns_few_harder and self.few_answers(answers)

    @property
    def refit_until(self) -> int:
        """Refits while the answers are at most this many (the config's ``refit_answers``)."""
        return self.config.refit_answers

    def renew_if_due(self, answers: int, refitting: bool = False) -> dict[str, float]:
        """Renew the weights when due (``renew.py``): while the answers are at most the config's
        ``refit_until``, a refit to new random weights each time they grow by half
        (``train/refit``: the trainer then runs ``refit_updates`` at once); otherwise shrink and
        perturb when they have doubled from ``renew_from`` (its ``shrink_perturb`` λ, 1 = never;
        after refits at the doublings a project without them has).
        The optimiser's moments start over. The first call only notes the renewal a resumed
        model (one with updates) has already had; untrained weights have had none.
        ``refitting``: a refit's updates are still under way (the trainer's ``CatchUp``) — a refit
        due now joins it (``train/refit_joined``): its new weights already train on every
        answer, so they are kept rather than drawn again (ADR 0029)."""
        lam, until = self.config.shrink_perturb, self.refit_until
        growth = getattr(self.config, "refit_growth", renew.REFIT_GROWTH)
        if not self.renewable or (lam >= 1.0 and until <= 0):
            return {}
        first = self.config.renew_from
        if self.renewed_at is None:  # a resumed model has had its renewals, new weights none:
            # a trainer that starts on 8–64 answers (given while it loaded, or a project opened
            # without a checkpoint) refits at once, as the answers' first refit would have
            fresh = self.updates == 0 and answers <= until
            self.renewed_at = 0 if fresh else renew.last_renewal(answers, first, until, growth)
        refit = renew.refit_due(answers, self.renewed_at, until, growth)
        if refit and refitting:
            self.renewed_at = answers
            return {"train/renewed_at_answers": float(answers), "train/refit_joined": 1.0}
        if self.renewed_at and self.renewed_at <= until:  # the last renewal was a refit
            due = renew.due_after_refits(answers, self.renewed_at, first)
        else:
            due = renew.due(answers, self.renewed_at, first)
        if not refit and (lam >= 1.0 or not due):
            return {}
        seed = self.config.seed * 1_000_003 + answers
        renew.shrink_perturb(self.policy, 0.0 if refit else lam, seed)
        self.optimizer.state.clear()
        self.restart_average(hold=True)
        self.renewed_at = answers
        return {
            "train/renewed_at_answers": float(answers),
            **({"train/refit": 1.0} if refit else {}),
        }

    def kl_to_reference(
        self, inputs: dict[str, torch.Tensor], logits: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """KL(π‖π_ref) per task, averaged over the batch (differentiable in ``logits``)."""
        with torch.no_grad():
            ref = self.reference(inputs)
        out = {}
        for task, lg in logits.items():
            logp = F.log_softmax(lg, dim=-1)
            logq = F.log_softmax(ref[task], dim=-1)
            out[task] = (logp.exp() * (logp - logq)).sum(-1).mean()
        return out

    # ---------------------------------------------------------------- the interface
    @torch.no_grad()
    def greedy(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Class probabilities per task, [B, K] on the CPU, the model shown in eval mode."""
        with evaluating(self.shown):
            logits = self.shown(_to(inputs, self.device))
        return {t: F.softmax(lg.float(), dim=-1).cpu() for t, lg in logits.items()}

    def predict_unseen(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Class probabilities per task for items the learner holds no answer or pool row of
        (the held-out figure): ``greedy`` unless the algorithm knows better (``default`` with
        ``new_item_vote``)."""
        return self.greedy(inputs)

    @property
    def votes_for_new_items(self) -> bool:
        """Whether ``predict_unseen`` adds more than the network (an export carries only it)."""
        return False

    @torch.no_grad()
    def act(
        self,
        inputs: dict[str, torch.Tensor],
        generator: torch.Generator | None = None,
        item_ids: Sequence[str] | None = None,
    ) -> dict[str, Action]:
        """The label to show per task: ε-greedy on the greedy probabilities by default.
        ``item_ids``: the item of each row of ``inputs`` (an algorithm that keeps state per item,
        as ``default`` does for its pool, needs them; the others ignore them)."""
        probs = self.greedy(inputs)
        return {t: epsilon_greedy(p, self.config.epsilon, generator) for t, p in probs.items()}

    def update(self, batch: ReplayBatch) -> dict[str, float]:
        raise NotImplementedError

    def refresh(self, buffer: ReplayBuffer) -> dict[str, float]:
        """Called by the trainer after new feedback arrived (e.g. to refit a head). Optional."""
        return {}

    def answers_retracted(self) -> None:
        """Answers it has learned from were withdrawn (``core/learning/unlearn.py``): forget whatever
        state outside the state_dict carries them. The next ``refresh`` sees the live ones."""

    # ---------------------------------------------------------------- checkpoints
    def extra_state(self) -> dict[str, Any]:
        """Algorithm state beyond policy + optimiser (tensors and plain values)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        out = {
            "policy": self.policy.state_dict(),
            "reference": self.reference.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "extra": self.extra_state(),
            "updates": self.updates,
        }
        if self.average is not None:
            out["average"] = self.average.state_dict()
            out["averaged"] = self.averaged
        return out

    def load_state_dict(self, state: dict[str, Any], *, optimizer: bool = True) -> None:
        self.policy.load_state_dict(state["policy"])
        if "reference" in state:
            self.reference.load_state_dict(state["reference"])
        if optimizer and state.get("optimizer"):
            self.optimizer.load_state_dict(state["optimizer"])
        self.load_extra_state(state.get("extra") or {})
        self.updates = int(state.get("updates", self.updates))
        self._load_average(state)

    def _load_average(self, state: dict[str, Any]) -> None:
        """The saved average; a checkpoint without one (older, or saved with the average off)
        or with one that does not fit starts it over from the loaded weights."""
        if self.average is None:
            return
        self.held = None
        try:
            self.average.load_state_dict(state["average"])
            self.averaged = int(state.get("averaged", 0))
        except (KeyError, RuntimeError, TypeError):
            self.restart_average()


# -------------------------------------------------------------------- shared helpers
def _to(inputs: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in inputs.items()}


def sample_labels(probs: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One label per row of ``probs`` [B, K] (CPU), drawn with ``generator``."""
    return torch.multinomial(probs.float().cpu(), 1, generator=generator).squeeze(1)


def epsilon_greedy(
    probs: torch.Tensor, epsilon: float, generator: torch.Generator | None
) -> Action:
    """argmax with probability 1−ε, else uniform; the propensity is exact."""
    probs = probs.float().cpu()
    k = probs.shape[-1]
    mix = torch.full_like(probs, epsilon / k)
    mix.scatter_add_(1, probs.argmax(-1, keepdim=True), torch.full_like(probs[:, :1], 1 - epsilon))
    labels = sample_labels(mix, generator)
    return Action(labels, mix.gather(1, labels[:, None]).squeeze(1).clamp_min(1e-6), probs)


def sampled_action(
    sampling: torch.Tensor, shown_probs: torch.Tensor, generator: torch.Generator | None
) -> Action:
    """Draw from a distribution ``sampling`` [B, K]; its own probability is the propensity."""
    sampling = sampling.float().cpu()
    labels = sample_labels(sampling, generator)
    prop = sampling.gather(1, labels[:, None]).squeeze(1).clamp(1e-6, 1.0)
    return Action(labels, prop, shown_probs.float().cpu())
