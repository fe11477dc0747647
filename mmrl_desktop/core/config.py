"""The learning engine's settings: ``TrainConfig`` (algorithm + loop) and ``ModelConfig`` (policy).

Plain dataclasses with a help sentence on every field (CleanRL / TRL style). They live in
project.toml's ``[algorithm]`` and ``[model]`` tables and in every checkpoint's metadata.
``from_dict`` validates: an unknown key or a bad value raises ``UserError`` with one sentence.
Torch-free, so the GUI can read and show them before torch is imported. The fields' plumbing is
``core/config_fields.py``; a ``generate`` task's settings, ``GenerateConfig``, are
``core/generate_config.py`` (imported from here too).
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


IMAGE_ENCODERS = ("small-cnn", "resnet18", "resnet34", "mobilenet_v3_small", "efficientnet_b0")
# Volumes (ADR 0015): a 2-D CNN over slab projections (2.5-D, the default: better and cheaper on
# the volumes benchmark), or a 3-D CNN over the whole grid.
VOLUME_ENCODERS = ("2.5d", "3d-cnn")
MODEL_MODALITIES = ("image", "audio", "text", "volume")
# Texts (ADR 0036, 0037): the mean of the n-grams' embeddings, starting small, weighted by each
# n-gram's idf² over the project's texts ("idf-mean", the default), or not ("mean", the default
# of ADR 0036), or the mean through LayerNorm, Linear and ReLU ("mean-proj", models saved before).
TEXT_ENCODERS = ("mean", "mean-proj", "idf-mean")
# Fusion of several modalities (ADR 0038): the masked mean of their embeddings each through its
# own LayerNorm ("norm-mean", the default; a model of one modality has none), or of the embeddings
# as they are ("mean", models saved before).
FUSIONS = ("mean", "norm-mean")
# The fusion's Linear and ReLU before the heads (ADR 0042): "auto" is resolved into "on" or "off"
# when a model is first built (``fusion.resolve_fusion_mlp``) and a checkpoint keeps that.
FUSION_MLPS = ("auto", "on", "off")
MODALITY_CHOICES = ("all", "prequential")


@dataclass
class ModelConfig:
    """The policy network (project.toml ``[model]``). Zeros mean "adapt to the data"."""

    image_encoder: str = field(
        default="small-cnn",
        metadata=_help(f"image encoder: {', '.join(IMAGE_ENCODERS)} (torchvision, no download)"),
    )
    weights_path: str = field(
        default="",
        metadata=_help(
            "optional local weights for a torchvision encoder (.safetensors or a torch file "
            "loaded with weights_only=True); relative to the project folder"
        ),
    )
    image_size: int = field(
        default=0,
        metadata=_help(
            "side in pixels images are resized to; 0 = from the data: 8 for images of 8 px or "
            "less (8×8 digits), else the power of two nearest the median, 32 to 64"
        ),
    )
    image_channels: int = field(default=0, metadata=_help("1 (grey) or 3 (RGB); 0 = from data"))
    audio_sample_rate: int = field(default=16000, metadata=_help("audio is resampled to this"))
    audio_seconds: float = field(
        default=0.0,
        metadata=_help(
            "audio is cut/padded to this length in seconds; 0 = from the data: the 90th "
            "percentile of the clips' lengths, rounded up to a quarter second, at most 2"
        ),
    )
    n_mels: int = field(default=64, metadata=_help("mel bands of the audio spectrogram"))
    text_buckets: int = field(
        default=8192, metadata=_help("hash buckets for text word and character n-grams")
    )
    text_max_tokens: int = field(default=256, metadata=_help("n-gram ids kept per text"))
    text_encoder: str = field(
        default="idf-mean",
        metadata=_help(
            "text encoder: idf-mean (the mean of the n-grams' embeddings, small at first, each "
            "weighted by its idf² over the project's texts; ADR 0037), mean (the same unweighted; "
            "ADR 0036) or mean-proj (the mean through LayerNorm, Linear and ReLU: older models)"
        ),
    )
    fusion: str = field(
        default="norm-mean",
        metadata=_help(
            "fusion of several modalities: norm-mean (the mean of their embeddings, each through "
            "its own LayerNorm; ADR 0038) or mean (of the embeddings as they are: older models); "
            "one modality: no difference"
        ),
    )
    fusion_mlp: str = field(
        default="auto",
        metadata=_help(
            "the Linear and ReLU after the fusion's mean, before the task heads: on, off (the "
            "heads read the mean itself: fewer weights to fit from few answers; true and false "
            "read as on and off) or auto (off when every modality is a picture above 8 px or a "
            "sound read by the built-in encoders and a task has 8 labels or more, on otherwise; "
            "ADR 0042)",
            from_bool=("off", "on"),
        ),
    )
    fusion_residual: bool = field(
        default=False,
        metadata=_help(
            "with fusion_mlp on: the heads read the mean plus the MLP's output (z + "
            "W2·relu(W1·z), W2 zero in a new model) instead of the MLP's output alone"
        ),
    )
    modality_choice: str = field(
        default="prequential",
        metadata=_help(
            "which modalities of an item the model shown predicts from: prequential (each "
            "modality alone is scored on the answers before it trains on them, and one that "
            "predicts them clearly better than the fusion is used alone; the default since the "
            "forty-eighth session, ADR 0039) or all (always fused)"
        ),
    )
    modality_dropout: float = field(
        default=0.0,
        metadata=_help(
            "while training, the probability that an item with several modalities keeps only "
            "one of them, drawn at random, so each learns to predict alone; 0 = never"
        ),
    )
    embed_dim: int = field(default=128, metadata=_help("width of every modality's embedding"))
    dropout: float = field(default=0.0, metadata=_help("dropout before the task heads"))
    pretrained: dict[str, Any] = field(
        default_factory=dict,
        metadata=_help(
            "filled from project.toml [encoders], not set by hand: modality -> the pretrained "
            "encoder whose cached embedding that modality reads (path, fingerprint, "
            "embedding_size, architecture, model_type; docs/adr/0014)"
        ),
    )
    modalities: str = field(
        default="",
        metadata=_help("comma-separated modalities the model reads; empty = those in the data"),
    )
    volume_encoder: str = field(
        default="2.5d",
        metadata=_help(f"volume encoder: {', '.join(VOLUME_ENCODERS)} (from scratch; ADR 0015)"),
    )
    volume_size: int = field(
        default=32,
        metadata=_help(
            "side of the cubic grid a volume is resampled to for the model (16 to 96); at 32 a "
            "2.5-D update costs ~0.04 s of one CPU thread and a 9 mm nodule spans ~1.5 voxels "
            "(ADR 0015); above 32 the projections are max-pooled to 32 px"
        ),
    )

    def validate(self) -> None:
        _check(
            self.image_encoder in IMAGE_ENCODERS,
            f"unknown image_encoder {self.image_encoder!r}; choose one of "
            f"{', '.join(IMAGE_ENCODERS)}.",
        )
        _check(
            self.image_size == 0 or 4 <= self.image_size <= 1024,
            "image_size must be 0 (auto) or between 4 and 1024.",
        )
        _check(self.image_channels in (0, 1, 3), "image_channels must be 0 (auto), 1 or 3.")
        _check(
            4000 <= self.audio_sample_rate <= 96000,
            "audio_sample_rate must be between 4000 and 96000.",
        )
        _check(
            self.audio_seconds == 0 or 0.1 <= self.audio_seconds <= 60,
            "audio_seconds must be 0 (auto) or between 0.1 and 60.",
        )
        _check(8 <= self.n_mels <= 256, "n_mels must be between 8 and 256.")
        _check(self.text_buckets >= 16, "text_buckets must be at least 16.")
        _check(self.text_max_tokens >= 1, "text_max_tokens must be at least 1.")
        _check(
            self.text_encoder in TEXT_ENCODERS,
            f"unknown text_encoder {self.text_encoder!r}; choose one of {', '.join(TEXT_ENCODERS)}.",
        )
        _check(
            self.fusion in FUSIONS,
            f"unknown fusion {self.fusion!r}; choose one of {', '.join(FUSIONS)}.",
        )
        _check(
            self.fusion_mlp in FUSION_MLPS,
            f"unknown fusion_mlp {self.fusion_mlp!r}; choose {_one_of(FUSION_MLPS)}.",
        )
        _check(
            self.modality_choice in MODALITY_CHOICES,
            f"unknown modality_choice {self.modality_choice!r}; choose one of "
            f"{', '.join(MODALITY_CHOICES)}.",
        )
        _check(0.0 <= self.modality_dropout < 1.0, "modality_dropout must be in [0, 1).")
        _check(self.embed_dim >= 4, "embed_dim must be at least 4.")
        _check(0.0 <= self.dropout < 1.0, "dropout must be in [0, 1).")
        for m, spec in self.pretrained.items():
            _check(
                isinstance(spec, dict)
                and bool(spec.get("fingerprint"))
                and int(spec.get("embedding_size") or 0) > 0,
                f"pretrained {m!r} must name a checked encoder (project.toml [encoders]).",
            )
        bad = [m for m in self.modality_list() if m not in MODEL_MODALITIES]
        _check(not bad, f"unknown modality {', '.join(bad)}; use {_one_of(MODEL_MODALITIES)}.")
        _check(
            self.volume_encoder in VOLUME_ENCODERS,
            f"unknown volume_encoder {self.volume_encoder!r}; choose {_one_of(VOLUME_ENCODERS)}.",
        )
        _check(16 <= self.volume_size <= 96, "volume_size must be between 16 and 96.")

    def modality_list(self) -> list[str]:
        return [m.strip() for m in self.modalities.split(",") if m.strip()]

    @property
    def resolved(self) -> bool:
        """True when nothing is left to adapt to the data."""
        mods = self.modality_list()
        return (
            bool(mods)
            and ("image" not in mods or (self.image_size > 0 and self.image_channels > 0))
            and ("audio" not in mods or self.audio_seconds > 0)
        )

    @classmethod
    def from_dict(cls, data: dict | None) -> ModelConfig:
        return _from_dict(cls, data)

    @classmethod
    def saved(cls, data: dict | None) -> ModelConfig:
        """The model a checkpoint was written with (its ``model_config``): one saved before
        ``text_encoder`` existed had "mean-proj" whatever the default is now, one saved before
        ``fusion`` existed the plain "mean" (ADR 0038), one saved before ``fusion_mlp`` existed
        had the fusion's MLP, one saved before ``fusion_residual`` existed had it plain."""
        data = dict(data or {})
        if data and "text_encoder" not in data:
            data["text_encoder"] = "mean-proj"
        if data and "fusion" not in data:
            data["fusion"] = "mean"
        if data and "fusion_mlp" not in data:
            data["fusion_mlp"] = "on"
        if data and "fusion_residual" not in data:
            data["fusion_residual"] = False
        return _from_dict(cls, data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def replace(self, **changes) -> ModelConfig:
        return ModelConfig.from_dict({**self.to_dict(), **changes})
