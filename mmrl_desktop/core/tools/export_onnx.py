"""The ONNX export: torch's ``torch.export``-based exporter (``torch.onnx.export(dynamo=True)``,
which writes with ``onnxscript``) on an ONNX-ready copy of the policy.

    ready = onnx_ready(policy, sample)          # no complex STFT, no adaptive pools
    payload = onnx_bytes(ExportModule(ready, tasks), example, ins, outs, modalities, forbidden)

The legacy TorchScript-based exporter (``dynamo=False``) warns that it will be removed; both agree
with the live model far inside the tolerance (docs/adr/0010-exports-installed.md, amended). The bytes carry no doc strings
and no metadata properties (the exporter records each node's Python stack trace there, with the
file names of this install), and are refused if anything but tensor data still names a folder of
this computer.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tools.export_io import known_warnings, onnx_without_doc_strings

OPSET = 18  # the oldest opset torch's dynamo exporter writes


class OnnxMelSpectrogram(nn.Module):
    """torchaudio's MelSpectrogram without complex numbers (ONNX has none): the STFT is a strided
    conv1d with a windowed DFT basis, power = re² + im², then the same mel filter bank."""

    def __init__(self, mel: nn.Module):
        super().__init__()
        spec = mel.spectrogram
        if spec.power != 2.0 or spec.normalized or not spec.onesided or spec.pad != 0:
            raise UserError("this audio front end cannot be exported to ONNX.")
        n_fft, win = spec.n_fft, spec.win_length
        window = torch.zeros(n_fft, dtype=torch.float64)
        left = (n_fft - win) // 2
        window[left : left + win] = spec.window.double()
        k = torch.arange(n_fft // 2 + 1, dtype=torch.float64)[:, None]
        n = torch.arange(n_fft, dtype=torch.float64)[None, :]
        angle = 2 * torch.pi * k * n / n_fft
        basis = torch.cat([torch.cos(angle) * window, -torch.sin(angle) * window])
        self.register_buffer("basis", basis[:, None, :].float())
        self.register_buffer("fb", mel.mel_scale.fb.float().clone())
        self.n_fft, self.hop, self.center = n_fft, spec.hop_length, spec.center
        self.pad_mode = spec.pad_mode
        self.bins = n_fft // 2 + 1

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = wave[:, None, :]
        if self.center:
            p = self.n_fft // 2
            x = nn.functional.pad(x, (p, p), mode=self.pad_mode)
        frames = nn.functional.conv1d(x, self.basis, stride=self.hop)  # [B, 2F, frames]
        re, im = frames[:, : self.bins], frames[:, self.bins :]
        power = re * re + im * im
        return torch.matmul(power.transpose(1, 2), self.fb).transpose(1, 2)  # [B, mels, frames]


class OnnxMeanBag(nn.Module):
    """``nn.EmbeddingBag(mode="mean" or "sum", padding_idx=...)`` on 2-D ids, as gather + masked
    mean or sum; "sum" takes the ``per_sample_weights`` of the idf-weighted mean (ADR 0037)."""

    def __init__(self, bag: nn.EmbeddingBag):
        super().__init__()
        if bag.mode not in ("mean", "sum") or bag.max_norm is not None:
            raise UserError("this text encoder cannot be exported to ONNX.")
        self.weight = nn.Parameter(bag.weight.detach().clone(), requires_grad=False)
        self.pad = -1 if bag.padding_idx is None else int(bag.padding_idx)
        self.mode = bag.mode

    def forward(
        self, ids: torch.Tensor, per_sample_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        emb = nn.functional.embedding(ids, self.weight)  # [B, L, D]
        keep = (ids != self.pad).to(emb.dtype)[:, :, None]
        if self.mode == "sum":
            if per_sample_weights is not None:
                keep = keep * per_sample_weights[:, :, None].to(emb.dtype)
            return (emb * keep).sum(1)
        return (emb * keep).sum(1) / keep.sum(1).clamp_min(1.0)


def onnx_ready(policy: nn.Module, sample: dict[str, torch.Tensor]) -> nn.Module:
    """A copy of ``policy`` that the ONNX exporter can trace: the audio front end without complex
    tensors, and adaptive average pools (whose input size ONNX may not know) as fixed pools of the
    sizes they see on ``sample``."""
    clone = copy.deepcopy(policy).eval()
    if "audio" in clone.encoders:
        clone.encoders["audio"].mel = OnnxMelSpectrogram(policy.encoders["audio"].mel)
    if "text" in clone.encoders and isinstance(
        getattr(clone.encoders["text"], "bag", None), nn.EmbeddingBag
    ):
        clone.encoders["text"].bag = OnnxMeanBag(clone.encoders["text"].bag)
    seen: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, mod in clone.named_modules():
        if isinstance(mod, nn.AdaptiveAvgPool2d):

            def hook(m, args, out, name=name):
                seen[name] = tuple(args[0].shape[-2:])

            hooks.append(mod.register_forward_hook(hook))
    with torch.no_grad():  # every encoder on every row (the live model skips absent modalities)
        for m, enc in clone.encoders.items():
            if m in sample:
                enc(sample[m])
    for h in hooks:
        h.remove()
    for name, (h, w) in seen.items():
        parent_name, _, attr = name.rpartition(".")
        parent = clone.get_submodule(parent_name) if parent_name else clone
        size = getattr(parent, attr).output_size
        oh, ow = (size, size) if isinstance(size, int) else size
        if oh and ow and h % oh == 0 and w % ow == 0:
            kernel = (h // oh, w // ow)
            setattr(parent, attr, nn.Identity() if kernel == (1, 1) else nn.AvgPool2d(kernel))
    return clone


def _dynamic_shapes(modalities: list[str]) -> tuple:
    """One ``torch.export.Dim`` for the batch (every input shares it), one for the text length;
    a single entry because ``ExportModule.forward`` takes ``*xs``."""
    from torch.export import Dim

    batch, tokens = Dim("batch"), Dim("tokens")
    shapes: list[dict] = []
    for m in modalities:
        shapes += [{0: batch, 1: tokens} if m == "text" else {0: batch}, {0: batch}]
    return (tuple(shapes),)


def onnx_bytes(
    module: nn.Module,
    example: tuple,
    ins: list[str],
    outs: list[str],
    modalities: list[str],
    forbidden: list[bytes],
) -> bytes:
    """``module`` as an ONNX model (batch and text length dynamic), cleaned of what names this
    computer; ``UserError`` if a folder of ``forbidden`` is still named outside tensor data."""
    with known_warnings(), torch.no_grad():
        program = torch.onnx.export(
            module,
            example,
            input_names=ins,
            output_names=outs,
            dynamic_shapes=_dynamic_shapes(modalities),
            opset_version=OPSET,
            dynamo=True,
            verbose=False,
        )
    payload = onnx_without_doc_strings(program.model_proto.SerializeToString())
    _refuse_private(payload, forbidden)
    return payload


def _refuse_private(payload: bytes, forbidden: list[bytes]) -> None:
    import onnx

    model = onnx.load_from_string(payload)
    for init in model.graph.initializer:  # tensor data may hold any bytes
        init.ClearField("raw_data")
    text = model.SerializeToString()
    if any(s in text for s in forbidden):
        raise UserError("the ONNX program names a folder of this computer; nothing was exported.")
