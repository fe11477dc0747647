"""The policy's view of a pretrained encoder: its cached embedding as one modality's input.

``ModelConfig.pretrained`` (filled from project.toml ``[encoders]`` by ``pretrained_spec``) maps a
modality to the encoder whose embedding it reads: ``{"image": {"path", "fingerprint",
"embedding_size", "architecture", "model_type"}}``. For such a modality the featurizer gives the
policy ``"<modality>_emb"`` (float ``[B, embedding_size]``, from the embedding cache, computed at
once when missing) and ``"<modality>_mask"``, instead of pixels, a waveform or hashed ids; the
policy's encoder for it is a small trainable projection (``EmbeddingProjection``), the encoder
itself stays frozen and outside the policy (a checkpoint holds the projection and heads, and the
encoder's fingerprint and path — never a copy of the encoder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.pretrained import progress
from mmrl_desktop.core.learning.pretrained.hf_folder import EncoderInfo, inspect_encoder

SPEC_KEYS = ("path", "fingerprint", "embedding_size", "architecture", "model_type")


def input_key(modality: str) -> str:
    return f"{modality}_emb"


def spec_of(info: EncoderInfo) -> dict[str, Any]:
    return {k: getattr(info, k) for k in SPEC_KEYS}


def pretrained_spec(root: str | Path, table: dict | None) -> dict[str, dict[str, Any]]:
    """``ModelConfig.pretrained`` for project.toml ``[encoders]`` (each folder checked)."""
    from mmrl_desktop.core.learning.pretrained.settings import encoder_infos

    return {m: spec_of(info) for m, info in encoder_infos(root, table).items()}


def encoder_changed(used: dict | None, wanted: dict | None) -> str:
    """'' when a model built on ``used`` (a checkpoint's ``pretrained``) fits ``wanted`` (the
    project's), else the sentence saying which encoder changed."""
    used, wanted = used or {}, wanted or {}
    for m in sorted(set(used) | set(wanted)):
        a, b = used.get(m), wanted.get(m)
        if a and b and a.get("fingerprint") == b.get("fingerprint"):
            continue
        if a and b:
            return (
                f"the {m} encoder changed (the model was trained on {a.get('architecture')} "
                f"{a.get('fingerprint')} at {a.get('path')}, the project now names "
                f"{b.get('architecture')} {b.get('fingerprint')} at {b.get('path')})"
            )
        if a:
            return (
                f"the model was trained on the pretrained {m} encoder at {a.get('path')} "
                f"({a.get('fingerprint')}), which project.toml [encoders] no longer names"
            )
        return (
            f"project.toml [encoders] names a pretrained {m} encoder ({b.get('path')}) the model "
            "was not trained on"
        )
    return ""


def check_encoder_files(spec: dict[str, dict[str, Any]]) -> dict[str, EncoderInfo]:
    """The encoders a model was trained on, checked on disk now: a folder that is gone, refused or
    whose files changed (another fingerprint) is one sentence."""
    out = {}
    for m, s in spec.items():
        try:
            info = inspect_encoder(s["path"], m)
        except UserError as err:
            raise UserError(f"the model's {m} encoder cannot be used: {err}") from None
        if info.fingerprint != s.get("fingerprint"):
            raise UserError(
                f"the {m} encoder at {s['path']} has changed since the model was trained "
                f"(fingerprint {s.get('fingerprint')}, now {info.fingerprint}); put the "
                "original back or train a new model on this one."
            )
        out[m] = info
    return out


class EmbeddingProjection(nn.Module):
    """A frozen encoder's embedding ``[N, E]`` → ``[N, dim]``: LayerNorm, Linear, ReLU."""

    def __init__(self, size: int, dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(size)
        self.proj = nn.Sequential(nn.Linear(size, dim), nn.ReLU())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(z.float()))


class PretrainedInputs:
    """The featurizer's helper for the pretrained modalities of ``config`` in project ``root``."""

    def __init__(self, pretrained: dict[str, dict[str, Any]], root: str | Path, device="auto"):
        from mmrl_desktop.core.learning.pretrained.fill import EmbeddingSource

        infos = check_encoder_files(pretrained)
        self.modalities = list(pretrained)
        self.sizes = {m: int(s["embedding_size"]) for m, s in pretrained.items()}
        self.sources = {m: EmbeddingSource(root, infos[m], device=device) for m in infos}
        self.lora = {}  # adapted modalities: their encoder's input too (pretrained/lora.py)
        if any(s.get("lora") for s in pretrained.values()):
            from mmrl_desktop.core.learning.pretrained.lora import LoraInputs

            self.lora = {m: LoraInputs(infos[m]) for m, s in pretrained.items() if s.get("lora")}
        self.lora_unreadable: dict[str, str] = {}
        self._cursor = 0  # fill_step's position in the trainer's pool
        self.pending_pool: list[str] = []  # pool sample waiting for embeddings (first_pool)
        self.ready_pool: list[str] = []  # embedded, not yet added to the algorithm's pool

    def compute(self, items: list) -> dict[str, dict[str, np.ndarray]]:
        """``{item_id: {"<m>_emb": float16 [E]}}`` for the items each encoder could embed."""
        out: dict[str, dict[str, np.ndarray]] = {}
        for m, source in self.sources.items():
            for item_id, z in source.vectors(items).items():
                out.setdefault(item_id, {})[input_key(m)] = z.astype(np.float16)
        for m, inputs in self.lora.items():
            self._lora_inputs(m, inputs, items, out)
        return out

    def _lora_inputs(self, m: str, inputs, items: list, out: dict) -> None:
        """An adapted modality's encoder input (``lora.lora_key``) of the items it embedded."""
        from mmrl_desktop.core.learning.pretrained.fill import _reason, load_input
        from mmrl_desktop.core.learning.pretrained.lora import lora_key

        for it in items:
            if input_key(m) not in out.get(it.item_id, {}):
                continue
            try:
                out[it.item_id][lora_key(m)] = inputs.encode(load_input(it, inputs.info))
            except Exception as err:  # unreadable now: the modality is off for the item
                self.lora_unreadable[it.item_id] = f"{m}: {_reason(err)}"
                out[it.item_id].pop(input_key(m))

    def failure(self, item_id: str) -> list[str]:
        out = [
            f"{m}: {s.unreadable[item_id]}"
            for m, s in self.sources.items()
            if item_id in s.unreadable
        ]
        return out + ([self.lora_unreadable[item_id]] if item_id in self.lora_unreadable else [])

    def collate(self, feats: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        n = len(feats)
        for m, size in self.sizes.items():
            key = input_key(m)
            z = np.zeros((n, size), np.float32)
            mask = np.zeros(n, bool)
            for i, f in enumerate(feats):
                if key in f:
                    z[i], mask[i] = f[key], True
            out[key] = torch.from_numpy(z)
            out[f"{m}_mask"] = torch.from_numpy(mask)
            if m in self.lora:
                from mmrl_desktop.core.learning.pretrained.lora import LoraInputs, lora_key

                arrays = [f.get(lora_key(m)) for f in feats]
                out[lora_key(m)] = LoraInputs.collate(arrays, m)
                out[f"{m}_mask"] = torch.tensor([a is not None for a in arrays])
        return out

    def flush(self) -> None:
        """Embeddings computed but not yet in a shard, into one now (the trainer's close)."""
        for source in self.sources.values():
            source.flush()

    @property
    def computed(self) -> int:
        return sum(s.computed for s in self.sources.values())

    def prefill(self, items: list) -> None:
        """Every item's embedding into the cache now, in batches, reporting to the progress sink
        (``report_progress_to``): the trainer calls it before it places the pool."""
        for source in self.sources.values():
            source.fill(items, progress=progress.sink())

    def fill_step(self, ids: list[str], items_of, batch: int = 4) -> bool:
        """The next ``batch`` items of ``ids`` (the trainer's pool, in order) embedded when the
        cache lacks them; False once the end is reached (nothing done)."""
        if self._cursor >= len(ids):
            return False
        chunk = items_of(ids[self._cursor : self._cursor + batch])
        self._cursor += batch
        for source in self.sources.values():
            source.vectors(chunk)  # computes only the missing ones
            if self._cursor >= len(ids):
                source.flush()  # the last of them into a shard now
        progress.report(min(self._cursor, len(ids)), len(ids))
        return True


def first_pool(trainer) -> list[str]:
    """The pool the trainer attaches first. With a pretrained encoder: of the default algorithm's
    pool sample, what the cache holds plus up to ``[encoders] first_pool`` more, embedded now
    with the first hold-out items (progress to the status bar); the rest of the sample joins the
    pool as the idle trainer embeds it (``idle_fill``). The first model waits for minutes of a
    CPU, not for a whole project."""
    from mmrl_desktop.core.learning.pretrained.cache import item_key
    from mmrl_desktop.core.learning.pretrained.settings import split_table

    pre = getattr(trainer.featurizer, "pretrained", None)
    if pre is None:
        return trainer.pool_ids
    sample = getattr(trainer.algorithm, "pool_sample", lambda ids: [])(trainer.pool_ids)
    first_n = split_table(getattr(trainer.project, "encoders", None))[1]["first_pool"]
    cached, rest = [], []
    for it in trainer._items(sample):
        try:
            have = all(item_key(it, m, s.hashes) in s.cache for m, s in pre.sources.items())
        except Exception:
            have = False  # unreadable: let the featurizer say so
        (cached if have else rest).append(it.item_id)
    first = cached + rest[: max(0, first_n - len(cached))]
    pre.prefill(trainer._items(first + trainer.holdout_ids[:HOLDOUT_FIRST]))
    pre.pending_pool = rest[len(first) - len(cached) :]
    return first if sample else trainer.pool_ids


HOLDOUT_FIRST = 128  # hold-out items embedded before the first model (the rest when evaluated)


def idle_fill(trainer) -> bool:
    """Between updates, when the trainer has nothing to train: the next few pool items waiting
    for their embedding, added to the default algorithm's pool every ``POOL_STEP`` (then the
    rest of a large project, so later predictions find them cached). False when there is
    nothing left (or no pretrained encoder)."""
    featurizer = getattr(trainer, "featurizer", None)
    pre = getattr(featurizer, "pretrained", None)
    if pre is None:
        return False
    if pre.pending_pool:
        chunk, pre.pending_pool = pre.pending_pool[:4], pre.pending_pool[4:]
        for source in pre.sources.values():
            source.vectors(trainer._items(chunk))
        pre.ready_pool += chunk
        if len(pre.ready_pool) >= POOL_STEP or not pre.pending_pool:
            trainer.algorithm.extend_pool(pre.ready_pool)
            pre.ready_pool = []
        total = len(trainer.algorithm.pool_ids) + len(pre.ready_pool) + len(pre.pending_pool)
        progress.report(total - len(pre.pending_pool), total)
        return True
    return pre.fill_step(trainer.pool_ids, trainer._items)


POOL_STEP = 256  # embedded items added to the pool at once (each addition rebuilds the graphs)


# ------------------------------------------------------------------ the trainer's two hooks
def project_spec(project, device=None) -> dict[str, dict[str, Any]]:
    """``ModelConfig.pretrained`` for ``project``'s ``[encoders]`` on ``device``: LoRA adapters
    where asked, or by default on a CUDA device (``lora.with_lora``)."""
    from mmrl_desktop.core.learning.pretrained.settings import split_table

    table = getattr(project, "encoders", None)
    spec = pretrained_spec(project.root, table)
    if not spec:
        return spec
    from mmrl_desktop.core.learning.pretrained.lora import with_lora

    return with_lora(spec, split_table(table)[1], device)


def with_encoders(config, project, device=None):
    """``config`` with ``pretrained`` from ``project``'s ``[encoders]`` (the project decides);
    a config that already names encoders (a caller's own, a resumed checkpoint's) is kept."""
    if config.pretrained:
        return config
    spec = project_spec(project, device)
    return config.replace(pretrained=spec) if spec else config


def policy_encoder(modality: str, spec: dict[str, Any], dim: int) -> tuple[nn.Module, str]:
    """The policy's encoder for a pretrained modality and the input key it reads: the encoder
    with LoRA adapters on its input (``spec["lora"]``), else a projection of its embedding."""
    if spec.get("lora"):
        from mmrl_desktop.core.learning.pretrained.lora import AdaptedEncoder, lora_key

        info = check_encoder_files({modality: spec})[modality]
        projection = EmbeddingProjection(int(info.embedding_size), dim)
        return AdaptedEncoder(modality, spec, info, projection), lora_key(modality)
    return EmbeddingProjection(int(spec["embedding_size"]), dim), input_key(modality)


def fit_encoders(trainer, plan):
    """The resume plan without its checkpoint when that was trained on other encoders than the
    project's ``[encoders]`` now names, or with other LoRA adapters than an explicit ``lora``
    setting asks for (a warning says so; the model starts afresh). Without ``lora`` in
    ``[encoders]`` a resumed model keeps what it was trained with."""
    import dataclasses

    from mmrl_desktop.core.learning.pretrained.lora import lora_changed, lora_notes
    from mmrl_desktop.core.learning.pretrained.settings import split_table

    wanted = project_spec(trainer.project, getattr(trainer, "device", None))
    ckpt = plan.checkpoint
    used = ((ckpt.meta.get("model_config") or {}).get("pretrained")) if ckpt else None
    explicit = split_table(getattr(trainer.project, "encoders", None))[1]["lora"] is not None
    why = encoder_changed(used, wanted) if ckpt else ""
    if ckpt and not why and explicit:
        why = lora_changed(used, wanted)
    device = getattr(trainer, "device", None)
    trainer.checkpoint_warnings.extend(lora_notes(used if ckpt and not why else wanted, device))
    if not why:
        return plan
    trainer.incompatible_checkpoint = f"{ckpt.path.name}: {why}"
    trainer.checkpoint_warnings.append(
        f"checkpoint {ckpt.path.stem} is not used: {why}; the model starts afresh (move the "
        "checkpoints out of the project's checkpoints folder to keep them)."
    )
    return dataclasses.replace(plan, checkpoint=None)
