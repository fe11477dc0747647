"""TorchScript/ONNX export of a model on a pretrained *image* encoder: the encoder goes into the
file (issue 14, docs/adr/0014-pretrained-encoders.md).

The live model reads cached embeddings (or, with LoRA adapters, the processor's resized pixels
through the adapted encoder); the exported one reads pixels, the adapters merged into the
encoder's weights. ``prepare`` loads the
encoder the model was trained on (its fingerprint checked), puts it in front of the trained
projection (``ImageTower``: the processor's mean/std normalisation, the encoder, its pooling, the
projection) and gives ``export_model`` the policy to trace, sample batches of the project's own
images at the processor's resolution, and the reference outputs: the eager module's on those
batches (the export must match it to ``TOLERANCE``). How far that module is from the live model
on cached embeddings (float16 storage) is measured too and recorded in the sidecar's check as
``pretrained_max_abs_diff``; above ``CONSISTENCY`` nothing is written.

Text and audio encoders are refused in one sentence: their tokenizer or feature extractor (Python
code, a vocabulary) cannot be inside a TorchScript or ONNX file.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from mmrl_desktop.core.errors import UserError

CONSISTENCY = 5e-2  # eager pixels → probabilities vs the live model on float16 embeddings
SIZES = (8, 3, 1)


class ImageTower(nn.Module):
    """Pixels ``[B, 3, S, S]`` in [0, 1] → the projected embedding the fusion reads."""

    def __init__(self, model: nn.Module, pooling: str, mean, std, projection: nn.Module):
        super().__init__()
        self.model = model
        self.pooling = pooling
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))
        self.projection = projection

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=(x - self.mean) / self.std, return_dict=False)
        z = out[1].flatten(1) if self.pooling == "pooler" else out[0][:, 0]
        return self.projection(z)


@dataclass
class Prepared:
    policy: nn.Module
    batches: list[dict[str, torch.Tensor]]
    input_size: int
    processor: str
    resample: str
    consistency: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)

    def image_spec(self) -> dict:
        s = self.input_size
        return {
            "name": "image",
            "dtype": "float32",
            "shape": ["batch", 3, s, s],
            "preprocessing": (
                "decode (DICOM: modality LUT and the viewer's window to 8 bit, as "
                "mmrl_desktop.core.data.loaders.load_image(path).display), convert to RGB, "
                f"resize to {s}x{s} as the encoder's {self.processor} does ({self.resample}; "
                "a centre crop where it crops), channels first, divide uint8 pixels by 255 "
                "(range [0, 1]); the encoder's mean/std normalisation is inside the model"
            ),
        }


def _normalisation(processor) -> tuple[list[float], list[float]]:
    if not getattr(processor, "do_normalize", True):
        return [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    mean = list(getattr(processor, "image_mean", None) or [0.0, 0.0, 0.0])
    std = list(getattr(processor, "image_std", None) or [1.0, 1.0, 1.0])
    return [float(v) for v in mean], [float(v) for v in std]


def _pixels(enc, items: list, mean, std) -> torch.Tensor:
    """The processor's resized images, the normalisation undone: [0, 1] as a consumer passes."""
    from mmrl_desktop.core.learning.pretrained.embed import _inputs
    from mmrl_desktop.core.learning.pretrained.fill import load_input

    pv = _inputs(enc, [load_input(it, enc.info) for it in items])["pixel_values"].float()
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (pv * s + m).clamp(0.0, 1.0)


def prepare(trainer, fmt: str) -> Prepared:
    """See the module docstring; ``UserError`` for what cannot go into the file."""
    from mmrl_desktop.core.learning.pretrained import load_encoder
    from mmrl_desktop.core.learning.pretrained.features import check_encoder_files

    spec = trainer.model_config.pretrained
    other = sorted(m for m in spec if m != "image")
    if other:
        raise UserError(
            f"this model reads a pretrained {other[0]} encoder, whose "
            f"{'tokenizer' if other[0] == 'text' else 'feature extractor'} cannot be inside a "
            f"{fmt} file; label new files with 'mmrl-desktop predict', which uses the encoder "
            "from its folder."
        )
    if len(trainer.model_config.modality_list()) != 1:
        raise UserError(
            f"a {fmt} export of a model on a pretrained image encoder reads images only; this "
            "model also reads other modalities."
        )
    import warnings

    # the trace is for the processor's fixed size, as the sidecar says: transformers' size checks
    # are constants there; its deprecation notices are not the user's concern
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"transformers\.")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\.")
    info = check_encoder_files(spec)["image"]
    enc = load_encoder(info, "image", device="cpu", half=False)
    mean, std = _normalisation(enc.processor)
    policy = copy.deepcopy(trainer.algorithm.shown).eval()
    model, projection = enc.model, policy.encoders["image"]
    if hasattr(projection, "merged"):  # LoRA adapters: merged into a copy of the encoder
        model, projection = projection.merged().eval(), projection.projection
    policy.encoders["image"] = ImageTower(model, info.pooling, mean, std, projection)
    policy.input_keys = {}
    batches, live_diff = _batches(trainer, enc, policy, mean, std)
    x = batches[0]["image"]
    if live_diff > CONSISTENCY:
        raise UserError(
            f"the model with its image encoder inside differs from the live model by "
            f"{live_diff:.2e} (more than {CONSISTENCY:g}); nothing was written."
        )
    resample = {0: "nearest", 1: "Lanczos", 2: "bilinear", 3: "bicubic"}.get(
        int(getattr(enc.processor, "resample", 2) or 2), "bilinear"
    )
    return Prepared(
        policy=policy,
        batches=batches,
        input_size=int(x.shape[-1]),
        processor=type(enc.processor).__name__,
        resample=resample,
        consistency=live_diff,
    )


def _batches(trainer, enc, policy, mean, std) -> tuple[list[dict[str, torch.Tensor]], float]:
    """Batches of the project's own images (8, 3, 1) at the processor's size, and the largest
    distance of the eager module from the live model on them."""
    items = [it for it in trainer.store.items() if it.image][: sum(SIZES)]
    if not items:
        raise UserError("the project has no image to check the export with.")
    batches, live_diff, start = [], 0.0, 0
    for n in SIZES:
        chosen = items[start : start + n]
        start += n
        if not chosen:
            continue
        x = _pixels(enc, chosen, mean, std)
        batches.append({"image": x, "image_mask": torch.ones(len(chosen), dtype=torch.bool)})
        live_diff = max(live_diff, _consistency(trainer, policy, chosen, x))
    return batches, live_diff


def _consistency(trainer, policy, items, x: torch.Tensor) -> float:
    """Max |p_eager(pixels) − p_live(cached embedding)| over the tasks."""
    with torch.no_grad():
        z = policy.heads(
            policy.fusion(
                {"image": policy.encoders["image"](x).float()},
                {"image": torch.ones(len(items), dtype=torch.bool)},
            )
        )
        live = trainer.algorithm.greedy(trainer.featurizer.batch(items))
    temperature = float(getattr(trainer.algorithm.options, "temperature", 1.0) or 1.0)
    diffs = []
    for t, logits in z.items():
        p = torch.softmax(logits.float() / temperature, -1).numpy()
        diffs.append(float(np.abs(p - np.asarray(live[t], dtype=np.float32)).max()))
    return max(diffs)


def reference(module: nn.Module, batch: dict[str, torch.Tensor], tasks: list[str]) -> dict:
    """The eager export module's probabilities on ``batch`` (what the file must reproduce)."""
    with torch.no_grad():
        out = module(batch["image"].contiguous(), batch["image_mask"].float())
    return {t: p for t, p in zip(tasks, out, strict=True)}
