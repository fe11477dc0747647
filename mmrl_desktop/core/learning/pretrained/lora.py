"""LoRA adapters on a pretrained encoder (issue 14 item 3, docs/adr/0014, amendment).

    [encoders]
    image = "/models/vit-base"
    lora = true          # absent: on for a new model trained on a CUDA device, off on the CPU
    lora_rank = 8        # rank of the adapters on the attention's query and value projections
    lora_alpha = 16      # their scale is lora_alpha / lora_rank

With adapters, a pretrained image or text modality is no longer read as its cached embedding:
the featurizer gives the policy the encoder's input (``"<m>_lora"``: the processor's resized
image as uint8 ``[3, S, S]``, or the tokenizer's ids packed as ``id + 1`` with 0 for padding) and
the policy's encoder for it is an ``AdaptedEncoder``: the encoder from its folder (fp32) with peft
LoRA adapters on the query and value projections of its attention, its pooling, then the usual
``EmbeddingProjection``. The adapters and the projection train with the heads, batched, in the
trainer's process (never the window's). The encoder's own weights stay frozen and are *not* part
of the module's ``state_dict``: a checkpoint holds the adapters, the projection, the heads and the
encoder's fingerprint (``ModelConfig.pretrained[m]["lora"]`` says rank and alpha); loading one
loads the encoder from its folder (fingerprint checked) and applies the adapters. A deep copy
(the algorithm's frozen reference, ``evaluate``'s candidates) shares the frozen weights.

Audio encoders keep their cached embeddings (one length at a time, ADR 0014): adapters are
trained on image and text encoders only.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.pretrained.hf_folder import EncoderInfo
from mmrl_desktop.core.learning.pretrained.settings import check_lora_options

LORA_MODALITIES = ("image", "text")
DEFAULT_RANK = 8
DEFAULT_ALPHA = 16.0
TEXT_TOKENS = 256  # tokens of a text that reach an adapted text encoder
_QUERY = ("q_proj", "query", "q_lin", "query_proj", "q")
_VALUE = ("v_proj", "value", "v_lin", "value_proj", "v")


def lora_key(modality: str) -> str:
    """The featurizer's key of the encoder's input for an adapted modality."""
    return f"{modality}_lora"


def with_lora(
    spec: dict[str, dict[str, Any]], options: dict[str, Any], device
) -> dict[str, dict[str, Any]]:
    """``ModelConfig.pretrained`` with ``"lora": {"rank", "alpha"}`` on each image or text encoder
    that trains adapters. ``options["lora"]``: True, False, or None (not set: on when ``device``
    is a CUDA device)."""
    asked = options.get("lora")
    on = bool(asked) if asked is not None else torch.device(device or "cpu").type == "cuda"
    if not on or not spec:
        return spec
    check_lora_options(options)
    adapted = [m for m in spec if m in LORA_MODALITIES]
    if not adapted:
        raise UserError(
            "[encoders] lora = true needs an image or text encoder: adapters are not trained on "
            "an audio encoder (it keeps its cached embeddings); remove lora or name one."
        )
    lora = {"rank": int(options.get("lora_rank", DEFAULT_RANK))}
    lora["alpha"] = float(options.get("lora_alpha", DEFAULT_ALPHA))
    return {m: ({**s, "lora": dict(lora)} if m in adapted else dict(s)) for m, s in spec.items()}


def lora_notes(spec: dict[str, dict[str, Any]] | None, device=None) -> list[str]:
    """What the user is told about a model's adapters trained on ``device`` (none: nothing)."""
    adapted = [m for m, s in (spec or {}).items() if (s or {}).get("lora")]
    if not adapted:
        return []
    rank = spec[adapted[0]]["lora"].get("rank")  # type: ignore[index]
    notes = [
        f"LoRA adapters (rank {rank}) train the {' and '.join(adapted)} encoder"
        f"{'s' if len(adapted) > 1 else ''} with the heads; the neighbour graph's 'pretrained' "
        "view stays on the frozen encoder's cached embeddings (what the adapters learn reaches "
        "the graph through the policy's own embedding)."
    ]
    if torch.device(device or "cpu").type == "cpu":
        notes.append(
            "on the CPU every update runs the encoder forward and backward (seconds for a "
            "ViT-Base) and the default algorithm's passes over its pool take minutes; a GPU, or "
            "lora = false, keeps the model current between clicks."
        )
    frozen = sorted(set(spec or {}) - set(adapted))
    if frozen:
        notes.append(
            f"the {frozen[0]} encoder stays frozen: LoRA adapters are trained on image and text "
            "encoders only."
        )
    return notes


def lora_changed(used: dict | None, wanted: dict | None) -> str:
    """'' when a checkpoint's adapters (``used``) are what the project asks for now (``wanted``),
    else the sentence saying what changed."""
    for m in sorted(set(used or {}) | set(wanted or {})):
        a = ((used or {}).get(m) or {}).get("lora")
        b = ((wanted or {}).get(m) or {}).get("lora")
        if a == b:
            continue
        if not a:
            return f"the model was trained without LoRA adapters on its {m} encoder"
        if not b:
            return f"the model was trained with LoRA adapters on its {m} encoder"
        return (
            f"the model's {m} adapters have rank {a.get('rank')} and alpha {a.get('alpha')}, "
            f"project.toml [encoders] asks for rank {b.get('rank')} and alpha {b.get('alpha')}"
        )
    return ""


def attention_targets(model: nn.Module, info: EncoderInfo) -> list[str]:
    """The names of the attention's query and value projections (``nn.Linear``) of ``model``."""
    names = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in (*_QUERY, *_VALUE)
    ]
    if not names:
        raise UserError(
            f"the {info.modality} encoder {info.architecture} at {info.path} has no attention "
            "query/value projections that LoRA adapters can train; set lora = false."
        )
    return names


# ------------------------------------------------------------------ the encoder's input
class LoraInputs:
    """The featurizer's side: one item's encoder input, compact (uint8 pixels, packed ids)."""

    def __init__(self, info: EncoderInfo):
        self.info = info
        self._processor = None

    @property
    def processor(self):
        if self._processor is None:
            from mmrl_desktop.core.learning.pretrained.hf_folder import (
                _load_processor,
                _quiet_transformers,
            )

            self._processor = _load_processor(_quiet_transformers(), self.info)
        return self._processor

    def encode(self, raw: Any) -> np.ndarray:
        """``raw`` (``fill.load_input``'s image or text) → uint8 ``[3, S, S]`` or int32 ``[L]``."""
        if self.info.modality == "image":
            from mmrl_desktop.core.learning.pretrained.embed import _rgb

            pv = self.processor(
                images=[_rgb(raw)], do_rescale=False, do_normalize=False, return_tensors="pt"
            )["pixel_values"][0]
            return pv.float().round().clamp(0, 255).to(torch.uint8).numpy()
        tok = self.processor(
            [str(raw)], truncation=True, max_length=TEXT_TOKENS, return_tensors="np"
        )
        ids = np.asarray(tok["input_ids"][0], np.int64) + 1
        mask = np.asarray(tok.get("attention_mask", np.ones_like(ids))[0]) > 0
        return np.where(mask, ids, 0).astype(np.int32)

    @staticmethod
    def collate(arrays: list[np.ndarray | None], modality: str) -> torch.Tensor:
        """``[n, 3, S, S]`` uint8 or ``[n, L]`` long (right-padded with 0), zeros where None."""
        real = [a for a in arrays if a is not None]
        if modality == "image":
            shape = real[0].shape if real else (3, 1, 1)
            out = np.zeros((len(arrays), *shape), np.uint8)
        else:
            out = np.zeros((len(arrays), max([len(a) for a in real] or [1])), np.int64)
        for i, a in enumerate(arrays):
            if a is not None:
                out[i, ..., : a.shape[-1]] = a
        return torch.from_numpy(out)


# ------------------------------------------------------------------ the policy's encoder
def _normalisation(processor) -> tuple[float, list[float], list[float]]:
    scale = float(getattr(processor, "rescale_factor", 1 / 255))
    if not getattr(processor, "do_rescale", True):
        scale = 1.0
    if not getattr(processor, "do_normalize", True):
        return scale, [0.0] * 3, [1.0] * 3
    mean = [float(v) for v in (getattr(processor, "image_mean", None) or [0.0] * 3)]
    std = [float(v) for v in (getattr(processor, "image_std", None) or [1.0] * 3)]
    return scale, mean, std


class AdaptedEncoder(nn.Module):
    """A pretrained encoder with LoRA adapters, its pooling and a trainable projection:
    ``"<m>_lora"`` inputs ``[N, ...]`` → ``[N, dim]`` (see the module docstring)."""

    def __init__(self, modality: str, spec: dict[str, Any], info: EncoderInfo,
                 projection: nn.Module):  # fmt: skip
        """``info``: the checked folder (``features.check_encoder_files``); ``projection``: the
        trainable layer from the embedding into the fusion (``features.EmbeddingProjection``) —
        both given by the caller, so this module does not import ``features``."""
        super().__init__()
        from peft import LoraConfig, inject_adapter_in_model

        from mmrl_desktop.core.learning.pretrained.hf_folder import load_encoder

        enc = load_encoder(info, modality, device="cpu", half=False)
        lora = spec["lora"]
        config = LoraConfig(
            r=int(lora["rank"]),
            lora_alpha=float(lora["alpha"]),
            lora_dropout=0.0,
            target_modules=attention_targets(enc.model, info),
            bias="none",
        )
        model = inject_adapter_in_model(config, enc.model).eval()
        adapters = {}
        for name, module in model.named_modules():
            if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
                pair = nn.ModuleDict({"A": module.lora_A["default"], "B": module.lora_B["default"]})
                adapters[name.replace(".", "__")] = pair
        for p in model.parameters():
            p.requires_grad_(False)
        self.info = info
        self._model = [model]  # not a registered child: its frozen weights stay out of state_dict
        self.adapters = nn.ModuleDict(adapters)  # the same modules, registered: these train
        for p in self.adapters.parameters():
            p.requires_grad_(True)
        self.projection = projection
        if modality == "image":
            scale, mean, std = _normalisation(enc.processor)
            self.scale = scale
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @property
    def model(self) -> nn.Module:
        """The encoder with its adapters (frozen base weights)."""
        return self._model[0]

    def frozen_tensors(self) -> list[torch.Tensor]:
        own = {id(p) for p in self.adapters.parameters()}
        return [t for t in [*self.model.parameters(), *self.model.buffers()] if id(t) not in own]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled encoder output ``[N, E]`` (before the projection)."""
        info = self.info
        if info.modality == "image":
            pixels = (x.float() * self.scale - self.mean) / self.std
            out = self.model(pixel_values=pixels)
            if info.pooling == "pooler" and getattr(out, "pooler_output", None) is not None:
                return out.pooler_output.flatten(1)
            return out.last_hidden_state[:, 0]
        x = x.long()
        mask = (x > 0).long()
        out = self.model(input_ids=(x - 1).clamp_min(0), attention_mask=mask)
        w = mask.to(out.last_hidden_state.dtype)[:, :, None]
        return (out.last_hidden_state * w).sum(1) / w.sum(1).clamp_min(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.features(x))

    def merged(self) -> nn.Module:
        """A copy of the encoder with the adapters merged into its weights (for an export)."""
        return _merged(self.model)

    # the frozen encoder moves with the module, stays in eval mode, and is shared by copies
    def _apply(self, fn, recurse=True):
        self.model._apply(fn, recurse)
        return super()._apply(fn, recurse)

    def train(self, mode: bool = True):
        super().train(mode)
        self.model.eval()
        return self

    def __deepcopy__(self, memo):
        for t in self.frozen_tensors():
            memo[id(t)] = t
        new = self.__class__.__new__(self.__class__)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            new.__dict__[key] = copy.deepcopy(value, memo)
        return new


def _merged(model: nn.Module) -> nn.Module:
    """``model``'s deep copy (own weights) with every LoRA layer merged and removed."""
    clone = copy.deepcopy(model)
    for name, module in list(clone.named_modules()):
        if hasattr(module, "merge") and hasattr(module, "base_layer"):
            module.merge()
            parent_name, _, child = name.rpartition(".")
            parent = clone.get_submodule(parent_name) if parent_name else clone
            setattr(parent, child, module.get_base_layer())
    return clone
