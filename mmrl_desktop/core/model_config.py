"""The policy network's settings: ``ModelConfig`` (project.toml ``[model]``).

A plain dataclass with a help sentence on every field, like ``TrainConfig`` in
``core/config.py`` (which re-exports everything here). Torch-free, so the GUI can read and show
it before torch is imported; it also lives in every checkpoint's metadata (``ModelConfig.saved``
reads an older one's).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mmrl_desktop.core.config_fields import build as _from_dict
from mmrl_desktop.core.config_fields import check as _check
from mmrl_desktop.core.config_fields import help_text as _help
from mmrl_desktop.core.config_fields import one_of as _one_of

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
