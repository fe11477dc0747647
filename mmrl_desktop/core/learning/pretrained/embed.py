"""One embedding per input from a loaded encoder: the processor's preprocessing, batched, pooled.

    enc = load_encoder(folder, "image", device="auto")     # fp16 on a GPU
    z = embed_batch(enc, [rgb_uint8_hxwx3, ...])            # float32 [N, embedding_size]

Inputs per modality: images as ``uint8`` arrays (H×W grey or H×W×3 RGB, any size: the encoder's
image processor resizes them to the resolution it asks for, 224–518 px for real models); texts as
``str``; sounds as float waveforms at ``info.sample_rate``. Pooling (``EncoderInfo.pooling``):
``cls`` the first token of the last hidden state (ViT, DeiT, DINOv2), ``pooler`` the model's own
pooled output (CLIP, SigLIP, AST; ResNet and ConvNeXt: the global average of the last stage,
flattened), ``mean`` the mean of the last hidden states over the real tokens
or frames (BERT family, wav2vec2, HuBERT, WavLM, Whisper's encoder).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mmrl_desktop.core.learning.pretrained.hf_folder import LoadedEncoder

WHISPER_FRAMES_PER_S = 50  # Whisper's encoder: 1,500 output frames for its 30 s window


def _rgb(arr: np.ndarray) -> np.ndarray:
    a = np.asarray(arr)
    if a.dtype != np.uint8:
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a)


def _inputs(enc: LoadedEncoder, batch: list[Any]) -> dict:
    info, proc = enc.info, enc.processor
    if info.modality == "image":  # H×W×3: said, not guessed (a 1-px-high image looks 1×W×3)
        images = [_rgb(x) for x in batch]
        try:
            return dict(proc(images=images, return_tensors="pt", input_data_format="channels_last"))
        except TypeError:  # a processor without the argument: it guesses
            return dict(proc(images=images, return_tensors="pt"))
    if info.modality == "text":
        return dict(
            proc([str(t) for t in batch], padding=True, truncation=True, return_tensors="pt")
        )
    waves = [np.asarray(w, dtype=np.float32).reshape(-1) for w in batch]  # one length (above)
    return dict(proc(waves, sampling_rate=info.sample_rate, return_tensors="pt"))


def _frame_mask(enc: LoadedEncoder, mask, length: int):
    """The attention mask of the inputs brought to the model's output frames (audio)."""
    import torch

    model = enc.model
    if hasattr(model, "_get_feat_extract_output_lengths"):
        lengths = model._get_feat_extract_output_lengths(mask.sum(-1)).long()
        return torch.arange(length, device=mask.device)[None, :] < lengths[:, None]
    return None


def _pool(enc: LoadedEncoder, out, inputs: dict):
    info = enc.info
    if info.pooling == "pooler" and getattr(out, "pooler_output", None) is not None:
        return out.pooler_output.flatten(1)  # a ResNet pools to [B, C, 1, 1]
    hidden = out.last_hidden_state
    if info.pooling == "cls":
        return hidden[:, 0]
    mask = inputs.get("attention_mask")
    if mask is not None and info.modality == "audio" and info.model_type != "whisper":
        mask = _frame_mask(enc, mask, hidden.shape[1])
    if mask is None or mask.shape[1] != hidden.shape[1]:
        return hidden.mean(1)
    w = mask.to(hidden.dtype)[:, :, None]
    return (hidden * w).sum(1) / w.sum(1).clamp_min(1.0)


def embed_batch(enc: LoadedEncoder, batch: list[Any]) -> np.ndarray:
    """float32 ``[len(batch), embedding_size]`` embeddings of ``batch``: one forward pass, or for
    sounds one per length (padding changes a group-normed wav2vec2's features: a sound's
    embedding must not depend on the sounds it is batched with)."""
    if not batch:
        return np.zeros((0, enc.info.embedding_size), np.float32)
    if enc.info.modality != "audio":
        return _forward(enc, batch)
    waves = [np.asarray(w, dtype=np.float32).reshape(-1) for w in batch]
    out = np.zeros((len(waves), enc.info.embedding_size), np.float32)
    for length in sorted({len(w) for w in waves}):
        rows = [i for i, w in enumerate(waves) if len(w) == length]
        out[rows] = _forward(enc, [waves[i] for i in rows])
    return out


def _forward(enc: LoadedEncoder, batch: list[Any]) -> np.ndarray:
    import torch

    inputs = _inputs(enc, batch)
    moved = {}
    for k, v in inputs.items():
        if not isinstance(v, torch.Tensor):
            continue
        v = v.to(enc.device)
        if v.is_floating_point():
            v = v.to(enc.dtype)
        moved[k] = v
    whisper = enc.info.model_type == "whisper"
    if whisper:  # its encoder reads a 30 s window: pool only the frames of the sound itself
        moved.pop("attention_mask", None)
    with torch.inference_mode():
        out = enc.model(**moved)
        if whisper:
            seconds = len(batch[0]) / float(enc.info.sample_rate or 16000)
            frames = max(1, math.ceil(seconds * WHISPER_FRAMES_PER_S))
            length = out.last_hidden_state.shape[1]
            mask = torch.arange(length, device=out.last_hidden_state.device)[None, :] < frames
            moved["attention_mask"] = mask.expand(len(batch), -1)
        z = _pool(enc, out, moved)
    return z.float().cpu().numpy().astype(np.float32, copy=False)


def blank_input(enc: LoadedEncoder) -> Any:
    """One neutral input of the encoder's modality (``encoders check --load``)."""
    if enc.info.modality == "image":
        side = enc.info.input_size or 224
        return np.full((side, side, 3), 128, np.uint8)
    if enc.info.modality == "text":
        return "a"
    return np.zeros(enc.info.sample_rate or 16000, np.float32)
