"""Export the current model (TorchScript, ONNX) and the training metrics (TensorBoard).

    info = export_model(project, "onnx", "out/model.onnx")   # → model.onnx + model.onnx.json
    info = export_tensorboard(project, "out/tb")             # one event log per training run

The exported program takes plain tensors, one (input, mask) pair per modality of the model, in
this order (only the model's modalities are present; the sidecar lists them):

    image       float32 [B, C, S, S]  pixels / 255 in [0, 1], bilinear-resized to S×S; C = 1 (grey,
                                      ITU-R 601 luma) or 3 (RGB); no mean/std normalisation
    image_mask  float32 [B]           1 where the item has an image, 0 where it has none
    audio       float32 [B, T]        mono waveform at the model's sample rate, cut/zero-padded to T
    audio_mask  float32 [B]
    text        int64   [B, L]        hashed word/bigram/char-3-gram ids in [1, buckets), 0 = pad
                                      (``mmrl_desktop.core.learning.model.featurize.hash_text``)
    text_mask   float32 [B]
    volume      float32 [B, 1, V, V, V]  a volume (DICOM series, NIfTI) resampled to V³ in patient
                                      order (inferior→superior, anterior→posterior, right→left),
                                      CT clipped to [-1000, 1000] HU, / 255 after uint8 (ADR 0015:
                                      ``volume_encoder.volume_grid``)
    volume_mask float32 [B]

and returns, per task, ``probs_<task>`` float32 [B, K]: the model's greedy class probabilities
(what the app shows as confidence; argmax = the predicted label). ``B`` is dynamic, as is ``L``.
Everything a consumer needs (names, shapes, normalisation, label names, the check) is in the JSON
sidecar written next to the export (``<file>.json``).

Each export is re-loaded (``torch.jit.load`` / ``onnxruntime``) and compared with the live model on
sample inputs (real items of the project when it has some, two batch sizes); if the largest
absolute difference exceeds ``TOLERANCE`` the export is refused and nothing is left behind.
TorchScript is traced (``torch.jit.trace``; the format is in the command-line contract, and all of
TorchScript warns of its removal); ONNX is written by torch's ``torch.export``-based exporter
(``core.tools.export_onnx``), which needs ``onnx`` and ``onnxscript``, and checked with
``onnxruntime`` (dependencies of the app; ``core.tools.export_formats`` names what to install where
they are missing, before any work). Only the warnings these exporters are known to raise are
hidden, each by its text (``export_io.known_warnings``).
"""

from __future__ import annotations

import copy
import io
import json
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.evaluation.model_info import summary as model_summary
from mmrl_desktop.core.tools.export_formats import require
from mmrl_desktop.core.tools.export_io import (
    export_tensorboard,  # noqa: F401  (core.tools.export is where callers find it)
    known_warnings,
    private_strings,
    torchscript_bytes,
    write_files,
)
from mmrl_desktop.core.tools.export_onnx import (  # noqa: F401  (also found here)
    OPSET,
    OnnxMeanBag,
    OnnxMelSpectrogram,
    onnx_bytes,
    onnx_ready,
)

TOLERANCE = 1e-4
STAGES = 4  # export_model's progress: model opened, exported, checked, written
EXPORTER = {"torchscript": "torch.jit.trace", "onnx": "torch.onnx.export(dynamo=True)"}
SUFFIX = {"torchscript": ".pt", "onnx": ".onnx"}


class ExportModule(nn.Module):
    """The policy as a function of positional tensors (no dicts, no data-dependent branches).

    Every row is encoded; rows whose mask is 0 are then zeroed by the fusion, which is what the
    live model computes (it skips those rows and fuses zeros with weight 0).
    """

    def __init__(self, policy: nn.Module, tasks: list[str], temperature: float = 1.0):
        super().__init__()
        self.policy = policy
        self.modalities = list(policy.modalities)
        self.tasks = list(tasks)
        self.temperature = float(temperature)

    def forward(self, *xs: torch.Tensor):
        parts, masks = {}, {}
        for i, m in enumerate(self.modalities):
            x, mask = xs[2 * i], xs[2 * i + 1]
            parts[m] = self.policy.encoders[m](x).float()
            masks[m] = mask > 0.5
        logits = self.policy.heads(self.policy.fusion(parts, masks))
        return tuple(
            torch.softmax(logits[t].float() / self.temperature, dim=-1) for t in self.tasks
        )


def input_names(modalities: list[str]) -> list[str]:
    return [n for m in modalities for n in (m, f"{m}_mask")]


def output_names(tasks: list[str]) -> list[str]:
    names: list[str] = []
    for i, t in enumerate(tasks):
        name = "probs_" + re.sub(r"\W", "_", t)
        names.append(name if name not in names else f"{name}_{i}")
    return names


def _temperature(algorithm) -> float:
    """The temperature the algorithm's greedy() divides logits by (egreedy-q has one)."""
    return float(getattr(algorithm.options, "temperature", 1.0) or 1.0)


def as_positional(inputs: dict[str, torch.Tensor], modalities: list[str]) -> tuple:
    out = []
    for m in modalities:
        x = inputs[m]
        mask = inputs.get(f"{m}_mask")
        if mask is None:
            mask = torch.ones(x.shape[0], dtype=torch.bool)
        out += [x.contiguous(), mask.float()]
    return tuple(out)


def sample_batches(trainer, sizes=(8, 3, 1)) -> list[dict[str, torch.Tensor]]:
    """Inputs to check an export with: the project's own items (mixing items with different
    modalities, so every encoder sees real data; a batch of one, the usual call of a consumer),
    plus a synthetic batch with every modality."""
    groups: dict[tuple, list] = {}
    for it in trainer.store.items():
        groups.setdefault(it.modalities, []).append(it)
    mixed, lists, i = [], list(groups.values()), 0
    while len(mixed) < sum(sizes) and any(i < len(g) for g in lists):
        mixed += [g[i] for g in lists if i < len(g)]
        i += 1
    batches, start = [], 0
    for n in sizes:
        chosen = mixed[start : start + n]
        start += n
        if chosen:
            batches.append(trainer.featurizer.batch(chosen))
    batches.append(_synthetic(trainer.model_config, 5, seed=len(batches)))
    return batches


def _synthetic(cfg, n: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    mods = cfg.modality_list()
    if "image" in mods:
        s, c = cfg.image_size, cfg.image_channels
        out["image"] = torch.rand((n, c, s, s), generator=g)
    if "audio" in mods:
        t = int(cfg.audio_sample_rate * cfg.audio_seconds)
        out["audio"] = torch.randn((n, t), generator=g) * 0.1
    if "text" in mods:
        out["text"] = torch.randint(1, cfg.text_buckets, (n, 5 + seed), generator=g)
    if "volume" in mods:
        v = cfg.volume_size
        out["volume"] = torch.rand((n, 1, v, v, v), generator=g)
    for m in mods:
        mask = torch.ones(n, dtype=torch.bool)
        if n > 1 and len(mods) > 1:
            mask[seed % n] = False  # one item lacks this modality
        out[f"{m}_mask"] = mask
    return out


def _max_diff(live: dict[str, torch.Tensor], got, tasks: list[str]) -> float:
    return max(
        float(np.abs(live[t].double().numpy() - np.asarray(g, dtype=np.float64)).max())
        for t, g in zip(tasks, got, strict=True)
    )


def _torchscript(module: ExportModule, example: tuple, forbidden: list[bytes]) -> bytes:
    """Traced (``torch.jit.script`` cannot compile ``forward(*xs)`` nor the encoders' dict
    lookups); TorchScript's deprecation warnings are expected (``known_warnings``)."""
    with known_warnings():
        traced = torch.jit.trace(
            module, example, check_trace=False, strict=False, _store_inputs=False
        )
        return torchscript_bytes(traced, forbidden)


def _check_torchscript(payload: bytes, batches, modalities, tasks, live) -> float:
    with known_warnings():
        loaded = torch.jit.load(io.BytesIO(payload), map_location="cpu")
    diffs = []
    with torch.no_grad():
        for b, ref in zip(batches, live, strict=True):
            diffs.append(
                _max_diff(ref, [o.numpy() for o in loaded(*as_positional(b, modalities))], tasks)
            )
    return max(diffs)


def _check_onnx(payload: bytes, batches, modalities, tasks, live) -> float:
    import onnxruntime as ort  # export_formats.require("onnx") checked it is there

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(payload, opts, providers=["CPUExecutionProvider"])
    names = input_names(modalities)
    diffs = []
    for b, ref in zip(batches, live, strict=True):
        feed = {n: t.numpy() for n, t in zip(names, as_positional(b, modalities), strict=True)}
        diffs.append(_max_diff(ref, sess.run(output_names(tasks), feed), tasks))
    return max(diffs)


def _mask(name: str, preprocessing: str) -> dict:
    return {"name": name, "dtype": "float32", "shape": ["batch"], "preprocessing": preprocessing}


def _input_specs(cfg) -> list[dict]:
    """The exported model's inputs (name, dtype, shape, how to prepare them), modality by
    modality, each with its presence mask."""
    mods = cfg.modality_list()
    inputs = []
    if "image" in mods:
        inputs += [
            {
                "name": "image",
                "dtype": "float32",
                "shape": ["batch", cfg.image_channels, cfg.image_size, cfg.image_size],
                "preprocessing": (
                    "decode (DICOM: modality LUT, then the file's window to 8 bit, as "
                    "mmrl_desktop.core.data.loaders.load_image(path).display), "
                    f"convert to {'RGB' if cfg.image_channels == 3 else 'grey (ITU-R 601 luma)'}, "
                    f"resize bilinear to {cfg.image_size}x{cfg.image_size}, channels first, "
                    "divide uint8 pixels by 255 (range [0, 1]); no mean/std normalisation"
                ),
            },
            _mask("image_mask", "1.0 where the item has an image, else 0.0 (the image is ignored)"),
        ]
    if "audio" in mods:
        n = int(cfg.audio_sample_rate * cfg.audio_seconds)
        inputs += [
            {
                "name": "audio",
                "dtype": "float32",
                "shape": ["batch", n],
                "preprocessing": (
                    f"mono (mean of channels), resampled to {cfg.audio_sample_rate} Hz, float "
                    f"samples in [-1, 1], cut or zero-padded to {n} samples "
                    f"({cfg.audio_seconds} s); the log-mel spectrogram is inside the model"
                ),
            },
            _mask("audio_mask", "1.0 where the item has audio, else 0.0"),
        ]
    if "text" in mods:
        inputs += [
            {
                "name": "text",
                "dtype": "int64",
                "shape": ["batch", "tokens"],
                "preprocessing": (
                    "lower-cased \\w+ words → tokens 'w:<word>', 'b:<w1> <w2>' and character "
                    "3-grams 'c:<xyz>' of '<word>'; each token → 1 + (blake2b-64 little-endian of "
                    f"its UTF-8) mod {cfg.text_buckets - 1}; first {cfg.text_max_tokens} ids; "
                    "right-padded with 0 (mmrl_desktop.core.learning.model.featurize.hash_text)"
                ),
            },
            _mask("text_mask", "1.0 where the item has text, else 0.0"),
        ]
    if "volume" in mods:
        v = cfg.volume_size
        inputs += [
            {
                "name": "volume",
                "dtype": "float32",
                "shape": ["batch", 1, v, v, v],
                "preprocessing": (
                    "a volume (DICOM series sorted along the slice normal, multi-frame DICOM or "
                    "NIfTI) in stored values × slope + intercept; each slice area-averaged to "
                    f"{v}x{v}, then resampled along the slices to {v}; axes in patient order "
                    "(inferior→superior, anterior→posterior, patient right→left); CT (or data "
                    "whose minimum is ≤ -900) clipped to [-1000, 1000] HU, other data to its 1st-"
                    "99th percentiles; scaled to uint8 and divided by 255 "
                    "(mmrl_desktop.core.learning.model.volume_encoder.volume_grid)"
                ),
            },
            _mask("volume_mask", "1.0 where the item is a volume, else 0.0"),
        ]
    return inputs


def sidecar(fmt: str, trainer, file_name: str, check: dict) -> dict:
    cfg = trainer.model_config
    inputs = _input_specs(cfg)
    tasks = list(trainer.labels)
    outputs = [
        {
            "name": name,
            "task": t,
            "dtype": "float32",
            "shape": ["batch", len(trainer.labels[t])],
            "labels": trainer.labels[t],
            "meaning": "class probabilities; argmax is the predicted label, labels in this order",
        }
        for name, t in zip(output_names(tasks), tasks, strict=True)
    ]
    return {
        "format": fmt,
        "file": file_name,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "project": trainer.project.name,
        "algorithm": trainer.config.algorithm,
        "model_version": trainer.model_version,
        "step": trainer.updates,
        "model": model_summary(trainer),  # version, step, written (core/evaluation/model_info.py)
        "inputs": inputs,
        "outputs": outputs,
        "labels": trainer.labels,
        "model_config": cfg.to_dict(),
        "opset": OPSET if fmt == "onnx" else None,
        "check": check,
    }


def _target(out: str | Path, fmt: str) -> Path:
    from mmrl_desktop.core.tools.feedback_export import output_path

    return output_path(out, f"model{SUFFIX[fmt]}")


def first_line(err: BaseException) -> str:
    """The first line of an exporter's message, without the terminal colour codes torch.onnx puts
    in it (``\x1b[96m``), at most 200 characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()
    return (text.splitlines() or [type(err).__name__])[0][:200].rstrip(".")


def _export_checked(fmt, module, example, batches, mods, tasks, live, project, step) -> tuple:
    """The exported program's bytes, re-loaded from those very bytes and compared with the live
    model; nothing is written here. ``step()`` is called between exporting and checking."""
    forbidden = private_strings(project.root)
    try:
        with torch.no_grad():
            if fmt == "torchscript":
                payload = _torchscript(module, example, forbidden)
                step()
                diff = _check_torchscript(payload, batches, mods, tasks, live)
            else:
                ins, outs = input_names(mods), output_names(tasks)
                payload = onnx_bytes(module, example, ins, outs, mods, forbidden)
                step()
                diff = _check_onnx(payload, batches, mods, tasks, live)
    except UserError:
        raise
    except MemoryError:
        raise UserError(f"there is not enough memory to export this model to {fmt}.") from None
    except Exception as err:  # an exporter limitation: one sentence, not a traceback
        raise UserError(f"this model cannot be exported to {fmt} ({first_line(err)}).") from None
    if not diff <= TOLERANCE:
        raise UserError(
            f"the {fmt} export differs from the live model by {diff:.2e} (more than "
            f"{TOLERANCE:g}); nothing was written."
        )
    return payload, diff


def export_model(
    project: Project,
    fmt: str,
    out: str | Path,
    progress: Callable[[int, int], object] | None = None,
) -> dict:
    """Export the current model as ``torchscript`` or ``onnx``; returns the sidecar dict.
    Runs on the CPU (the exported program is device-neutral; the check compares on the CPU).
    ``progress(done, STAGES)`` after each stage: model opened, exported, checked, written."""
    from mmrl_desktop.core.evaluation.evaluate import open_trainer

    if fmt not in SUFFIX:
        raise UserError(f"unknown model format {fmt!r}; use torchscript or onnx.")
    require(fmt)  # what to install, before any work and before any folder is made
    target = _target(out, fmt)
    stage = iter(range(1, STAGES + 1))

    def step() -> None:
        done = next(stage)
        if progress is not None:
            progress(done, STAGES)

    trainer = open_trainer(project, "cpu")
    step()
    try:
        pre = None  # a pretrained image encoder goes into the file (export_pretrained.py)
        if trainer.model_config.pretrained:
            from mmrl_desktop.core.tools import export_pretrained

            pre = export_pretrained.prepare(trainer, fmt)
        policy = trainer.algorithm.shown.eval() if pre is None else pre.policy
        tasks = list(trainer.labels)
        mods = list(policy.modalities)
        batches = sample_batches(trainer) if pre is None else pre.batches
        exported = onnx_ready(policy, batches[0]) if fmt == "onnx" else copy.deepcopy(policy)
        exported.requires_grad_(False)  # consumers get plain outputs
        module = ExportModule(exported, tasks, _temperature(trainer.algorithm)).eval()
        if pre is None:
            live = [trainer.algorithm.greedy(b) for b in batches]
        else:  # the eager module with the encoder inside (its distance to the live: pre)
            live = [export_pretrained.reference(module, b, tasks) for b in batches]
        example = as_positional(batches[0], mods)
        payload, diff = _export_checked(
            fmt, module, example, batches, mods, tasks, live, project, step
        )
        step()
        check = {
            "max_abs_diff": diff,
            "tolerance": TOLERANCE,
            "samples": sum(len(next(iter(b.values()))) for b in batches),
            "batch_sizes": [len(next(iter(b.values()))) for b in batches],
            "reloaded_with": "torch.jit.load" if fmt == "torchscript" else "onnxruntime",
            "exported_with": EXPORTER[fmt],
        }
        info = sidecar(fmt, trainer, target.name, check)
        if pre is not None:
            info["inputs"][0] = pre.image_spec()
            check["pretrained_max_abs_diff"] = pre.consistency
        side = target.with_name(target.name + ".json")
        write_files({target: payload, side: json.dumps(info, indent=2).encode("utf-8")})
        step()
        info["path"], info["sidecar"] = str(target), str(side)
        try:
            trainer.store.audit("export", what=fmt, path=str(target), max_abs_diff=diff)
        except sqlite3.Error:  # a read-only database still gets its export (as the feedback log)
            pass
        return info
    finally:
        trainer.close(checkpoint=False)
