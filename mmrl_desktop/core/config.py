"""The learning engine's settings: ``TrainConfig`` (algorithm + loop) and ``ModelConfig`` (policy).

Plain dataclasses with a help sentence on every field (CleanRL / TRL style). They live in
project.toml's ``[algorithm]`` and ``[model]`` tables and in every checkpoint's metadata.
``from_dict`` validates: an unknown key or a bad value raises ``UserError`` with one sentence.
Torch-free, so the GUI can read and show them before torch is imported. The fields' plumbing is
``core/config_fields.py``; ``ModelConfig`` is ``core/model_config.py`` and a ``generate``
task's settings, ``GenerateConfig``, ``core/generate_config.py`` (both imported from here too).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mmrl_desktop.core.config_fields import build as _from_dict
from mmrl_desktop.core.config_fields import check as _check
from mmrl_desktop.core.config_fields import help_table  # noqa: F401 (re-exported)
from mmrl_desktop.core.config_fields import help_text as _help
from mmrl_desktop.core.config_fields import one_of as _one_of
from mmrl_desktop.core.generate_config import GENERATE_KIND, GenerateConfig  # noqa: F401
from mmrl_desktop.core.model_config import (  # noqa: F401 (re-exported)
    FUSION_MLPS,
    FUSIONS,
    IMAGE_ENCODERS,
    MODALITY_CHOICES,
    MODEL_MODALITIES,
    TEXT_ENCODERS,
    VOLUME_ENCODERS,
    ModelConfig,
)

DEVICES = ("auto", "cpu", "cuda", "mps")
# The learning algorithms, by the name project.toml and the command line use: the one list. The
# classes are in ``core/learning/algorithms`` (``ALGORITHMS``, which imports torch); this module
# stays torch-free and imports no layer (ADR 0012), so validation and help read the names here.
ALGORITHM_NAMES = ("default", "egreedy-q", "reinforce", "supervised")
# Which item the expert is asked about next (``core/learning/next_item.py``, ADR 0013).
NEXT_ITEM_NAMES = ("shuffle", "uncertain", "diverse", "likely-positive")
# refit_until = −1: refits up to this many answers (ADR 0024, 0028; `Algorithm.refit_until`)
REFIT_UNTIL = {"supervised": 64, "default": 64}


@dataclass
class TrainConfig:
    """How feedback becomes parameter updates (project.toml ``[algorithm]``)."""

    algorithm: str = field(
        default="default",
        metadata=_help(f"learning algorithm: {_one_of(ALGORITHM_NAMES)}"),
    )
    lr: float = field(default=2e-3, metadata=_help("Adam learning rate"))
    weight_decay: float = field(default=1e-4, metadata=_help("AdamW weight decay"))
    batch_size: int = field(default=32, metadata=_help("replay minibatch size per update"))
    epsilon: float = field(
        default=0.1,
        metadata=_help("exploration: probability of showing a uniformly random label (ε-greedy)"),
    )
    kl_beta: float = field(
        default=0.01, metadata=_help("weight of the KL pull toward the frozen starting policy")
    )
    updates_per_event: int = field(
        default=8, metadata=_help("training updates the trainer runs for each new answer")
    )
    gamma: float = field(
        default=0.0,
        metadata=_help("discount; fixed at 0: each answer is one-step feedback (a bandit)"),
    )
    grad_clip: float = field(default=5.0, metadata=_help("clip the gradient norm at this value"))
    shrink_perturb: float = field(
        default=0.5,
        metadata=_help(
            "shrink and perturb: each time the answers double from the first renewal (32), a "
            "model trained from scratch keeps λ of its weights and takes the rest from new "
            "random ones; 1 = never"
        ),
    )
    renew_from: int = field(
        default=32,
        metadata=_help("answers at the first renewal (renewal λ); then at every doubling"),
    )
    renew_catch_up: float = field(
        default=0.0,
        metadata=_help(
            "at a renewal after n answers, this many × n updates at once on the renewed model, "
            "repaid by the next answers' updates (the same total); the renewed model is shown "
            "once they ran; 0 = none"
        ),
    )
    refit_until: int = field(
        default=-1,
        metadata=_help(
            "while the answers are at most this many, a model trained from scratch restarts "
            "from new random weights each time they grow by half (by the refit growth: 8, 12, "
            "18, 27, 41, 62, …) "
            "and is trained at once on all of them (updates per refit), on top of each "
            "answer's own updates; shown once they ran; 0 = never; −1 = the algorithm's "
            "choice (64 for supervised and default, never for the others)"
        ),
    )
    refit_updates: int = field(
        default=300, metadata=_help("updates at once on each refit (refit while answers ≤)")
    )
    refit_growth: float = field(
        default=1.5, metadata=_help("a refit each time the answers grow by this factor (from 8)")
    )
    refit_follow: float = field(
        default=-1.0,
        metadata=_help(
            "after a refit, while the answers are few enough to refit (refit while answers ≤), "
            "each new answer gets this many times the refit's updates per answer it was fit on "
            "(updates per refit ÷ its answers) on top of its own, so it is learned as hard as "
            "those; 0 = none; −1 = the algorithm's choice (1 for supervised while the answers "
            "are fewer than 8 per label, 0 otherwise)"
        ),
    )
    draws_with_replacement: int = field(
        default=-1,
        metadata=_help(
            "while the answers are at most a batch, each update draws as many of them as there "
            "are at random with replacement (1: some twice, some not at all, as a larger "
            "project's updates do) or takes every answer once (0); −1 = the algorithm's choice "
            "(1 for supervised while the answers are fewer than 8 per label, 0 otherwise)"
        ),
    )
    weight_average: float = field(
        default=0.99,
        metadata=_help(
            "the model shown (predictions, evaluation, exports) is a moving average of the "
            "trained weights with this decay per update, started over at each renewal; "
            "0 = the trained weights themselves"
        ),
    )
    seed: int = field(default=0, metadata=_help("random seed (CPU runs are deterministic)"))
    device: str = field(default="auto", metadata=_help(_one_of(DEVICES)))
    cpu_threads: int = field(
        default=1,
        metadata=_help(
            "torch CPU threads (process-wide; 0 = torch's default). One thread is fastest for the "
            "small default model and leaves a core to the GUI"
        ),
    )
    checkpoint_every: int = field(
        default=500, metadata=_help("save a checkpoint every this many updates (0 = only on stop)")
    )
    keep_checkpoints: int = field(default=5, metadata=_help("keep the newest N checkpoints"))
    eval_every: int = field(
        default=200,
        metadata=_help("held-out evaluation every this many updates (0 = never)"),
    )
    eval_items: int = field(
        default=512, metadata=_help("at most this many held-out items per evaluation")
    )
    cache_mb: int = field(
        default=512, metadata=_help("memory for featurized items (least recently used are dropped)")
    )
    options: dict[str, Any] = field(
        default_factory=dict,
        metadata=_help("algorithm-specific knobs, checked against the algorithm's Options"),
    )
    augment: bool = field(
        default=True,
        metadata=_help(
            "augment the replayed training batches: small shifts and brightness/colour changes "
            "of images, time shift, gain and masks of sounds, dropped words of texts"
        ),
    )
    image_shift: float = field(
        default=-1.0,
        metadata=_help(
            "the largest shift of an image in training (with augment), a fraction of its side "
            "each way; not for images of 16 px or less; −1 = from the project: 1/8, or 1/16 "
            "where orientation_free already flips and turns the images"
        ),
    )
    orientation_free: bool = field(
        default=False,
        metadata=_help(
            "the label does not depend on orientation (a photo of a shape, a cell, a texture; not "
            "a radiograph's left and right, not a 6 and a 9): training also sees images flipped "
            "and turned by 90°"
        ),
    )

    next_item: str = field(
        default="shuffle",
        metadata=_help(
            "which item is asked next: shuffle (a fixed random order), uncertain (where the model "
            "is least sure), diverse (uncertain and unlike each other), likely-positive (most "
            "likely positive_label first, for screening)"
        ),
    )
    next_item_random: float = field(
        default=0.1,
        metadata=_help(
            "fraction of the next items drawn uniformly from the unanswered ones whatever the "
            "order, so the answers stay usable for evaluation and for another model"
        ),
    )
    positive_label: str = field(
        default="",
        metadata=_help(
            "the label likely-positive asks about first (e.g. the finding screened for)"
        ),
    )

    @property
    def refit_answers(self) -> int:
        """``refit_until`` as it applies: −1 (the default) is the algorithm's choice — 64 for
        ``supervised`` (refits gained at 30–60 answers on every group of seeds,
        docs/benchmarks.md §5u) and for ``default`` (thumbs only, except on the tiny 8×8
        design, where they cost bench-digits at 100 answers: §5zd), 0 (never) for the others."""
        if self.refit_until >= 0:
            return self.refit_until
        return REFIT_UNTIL.get(self.algorithm, 0)

    def validate(self) -> None:
        _check(self.lr > 0, f"lr must be positive, not {self.lr}.")
        _check(self.weight_decay >= 0, "weight_decay must be zero or positive.")
        _check(self.batch_size >= 1, "batch_size must be at least 1.")
        _check(
            self.image_shift == -1 or 0.0 <= self.image_shift <= 0.25,
            f"image_shift must be −1 (from the project) or between 0 and 0.25 of the side, "
            f"not {self.image_shift}.",
        )
        _check(0.0 <= self.epsilon <= 1.0, f"epsilon must be between 0 and 1, not {self.epsilon}.")
        _check(self.kl_beta >= 0, "kl_beta must be zero or positive.")
        _check(self.updates_per_event >= 0, "updates_per_event must be zero or positive.")
        _check(
            self.gamma == 0.0,
            f"gamma must be 0: each answer is one-step feedback with no next state (got {self.gamma}).",
        )
        _check(self.grad_clip > 0, "grad_clip must be positive.")
        _check(
            0.0 <= self.shrink_perturb <= 1.0,
            f"shrink_perturb must be between 0 and 1, not {self.shrink_perturb}.",
        )
        _check(self.renew_from >= 2, f"renew_from must be at least 2, not {self.renew_from}.")
        _check(
            self.refit_until >= -1,
            f"refit_until must be −1 (the algorithm's choice), 0 or more, not {self.refit_until}.",
        )
        _check(
            0.0 <= self.weight_average < 1.0,
            f"weight_average must be at least 0 and below 1, not {self.weight_average}.",
        )
        _check(
            1.1 <= self.refit_growth <= 4.0,
            f"refit_growth must be between 1.1 and 4, not {self.refit_growth}.",
        )
        _check(
            self.refit_follow == -1 or 0.0 <= self.refit_follow <= 10.0,
            f"refit_follow must be −1 (the algorithm's choice) or between 0 and 10, "
            f"not {self.refit_follow}.",
        )
        _check(
            self.draws_with_replacement in (-1, 0, 1),
            f"draws_with_replacement must be −1 (the algorithm's choice), 0 or 1, "
            f"not {self.draws_with_replacement}.",
        )
        _check(
            1 <= self.refit_updates <= 100_000,
            f"refit_updates must be between 1 and 100000, not {self.refit_updates}.",
        )
        _check(
            0.0 <= self.renew_catch_up <= 16.0,
            f"renew_catch_up must be between 0 and 16, not {self.renew_catch_up}.",
        )
        _check(self.cpu_threads >= 0, "cpu_threads must be zero or positive.")
        _check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}.")
        _check(self.checkpoint_every >= 0, "checkpoint_every must be zero or positive.")
        _check(self.keep_checkpoints >= 1, "keep_checkpoints must be at least 1.")
        _check(self.eval_every >= 0, "eval_every must be zero or positive.")
        _check(self.eval_items >= 1, "eval_items must be at least 1.")
        _check(self.cache_mb >= 1, "cache_mb must be at least 1.")
        _check(
            self.algorithm in ALGORITHM_NAMES,
            f"unknown algorithm {self.algorithm!r}; choose one of {', '.join(ALGORITHM_NAMES)}.",
        )
        _check(
            self.next_item in NEXT_ITEM_NAMES,
            f"unknown next_item {self.next_item!r}; choose one of {', '.join(NEXT_ITEM_NAMES)}.",
        )
        _check(
            0.0 <= self.next_item_random <= 1.0,
            f"next_item_random must be between 0 and 1, not {self.next_item_random}.",
        )
        _check(
            self.next_item != "likely-positive" or bool(self.positive_label),
            "positive_label must name the label to find first when next_item is likely-positive.",
        )

    @classmethod
    def from_dict(cls, data: dict | None) -> TrainConfig:
        return _from_dict(cls, data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> TrainConfig:
        return TrainConfig.from_dict({**self.to_dict(), **changes})
