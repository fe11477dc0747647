"""A ``generate`` task's settings (``[[tasks]]`` with ``kind = "generate"``): the language model
that drafts a text for each item, and how its LoRA adapters learn from the expert's thumbs (KTO).
Torch-free, as ``core/config.py``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from mmrl_desktop.core.config_fields import build as _from_dict
from mmrl_desktop.core.config_fields import check as _check
from mmrl_desktop.core.config_fields import help_text as _help

GENERATE_KIND = "generate"  # a ``[[tasks]]`` entry whose answer is text a language model drafts


@dataclass
class GenerateConfig:
    """A ``generate`` task's settings (project.toml ``[[tasks]]`` with ``kind = "generate"``):
    a local language model drafts a text for each item from the expert's prompt; the expert
    answers thumbs-up / thumbs-down or edits it, and the model learns from that (KTO on LoRA)."""

    prompt: str = field(
        default="",
        metadata=_help("the instruction written once, after the item's text (e.g. 'Finding:')"),
    )
    model: str = field(
        default="",
        metadata=_help(
            "a local Hugging Face model folder (safetensors, no remote code): a causal language "
            "model for text items, a vision-language model for images; relative to the project"
        ),
    )
    max_new_tokens: int = field(default=32, metadata=_help("longest draft, in tokens"))
    temperature: float = field(
        default=0.7, metadata=_help("sampling temperature of the drafts; 0 = greedy")
    )
    candidates: int = field(default=1, metadata=_help("drafts shown per item (1 to 4)"))
    lora_rank: int = field(default=8, metadata=_help("rank of the LoRA adapters that learn"))
    lr: float = field(default=1e-4, metadata=_help("AdamW learning rate of the adapters"))
    kto_beta: float = field(
        default=0.1, metadata=_help("KTO's β: how far the drafts may move from the base model")
    )
    updates_per_answer: int = field(
        default=2, metadata=_help("KTO updates the trainer runs for each new answer")
    )
    batch_size: int = field(default=8, metadata=_help("answers replayed per KTO update"))
    draft_ahead: int = field(
        default=3, metadata=_help("items after the shown one drafted ahead of time")
    )
    kto_kl: str = field(
        default="samples",
        metadata=_help(
            "KTO's reference point, an estimate of the KL to the base model: 'samples' (texts "
            "the model samples now for the batch's prompts) or 'batch' (the batch's mismatched "
            "pairs, as TRL's KTOTrainer)"
        ),
    )
    thumbs_up_ramp: int = field(
        default=20,
        metadata=_help(
            "thumbs-up answers before the adapters learn at the full rate (a smaller rate "
            "while few drafts are good; 0 = always the full rate)"
        ),
    )

    def validate(self) -> None:
        _check(bool(self.prompt.strip()), "a generate task needs a prompt (e.g. 'Finding:').")
        _check(bool(self.model.strip()), "a generate task needs the model folder (model = …).")
        _check(1 <= self.max_new_tokens <= 1024, "max_new_tokens must be between 1 and 1024.")
        _check(0.0 <= self.temperature <= 5.0, "temperature must be between 0 and 5.")
        _check(1 <= self.candidates <= 4, "candidates must be between 1 and 4.")
        _check(1 <= self.lora_rank <= 256, "lora_rank must be between 1 and 256.")
        _check(self.lr > 0, f"lr must be positive, not {self.lr}.")
        _check(self.kto_beta > 0, f"kto_beta must be positive, not {self.kto_beta}.")
        _check(self.updates_per_answer >= 0, "updates_per_answer must be zero or positive.")
        _check(self.batch_size >= 1, "batch_size must be at least 1.")
        _check(0 <= self.draft_ahead <= 32, "draft_ahead must be between 0 and 32.")
        _check(self.kto_kl in ("samples", "batch"), "kto_kl must be 'samples' or 'batch'.")
        _check(self.thumbs_up_ramp >= 0, "thumbs_up_ramp must be zero or positive.")

    @classmethod
    def from_dict(cls, data: dict | None) -> GenerateConfig:
        return _from_dict(cls, data)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
