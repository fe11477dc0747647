"""project.toml ``[encoders]``: which pretrained folder encodes each modality, and the job that
fills a project's embedding cache for them.

    [encoders]
    image = "/models/dinov2-base"     # a Hugging Face folder; relative paths: to the project
    text = "/models/bert-base"
    lora = true                       # LoRA adapters on the encoder (absent: on with CUDA)
    lora_rank = 8                     # their rank (query and value projections)
    lora_alpha = 16                   # their scale is lora_alpha / lora_rank
    batch_size = 16                   # items per forward pass of the background job
    first_pool = 512                  # pool items embedded before the first model

``encoder_infos(root, table)`` checks every folder (``inspect_encoder``: refusals are one
sentence) and returns ``{modality: EncoderInfo}``; ``fill_project`` embeds every item of the
project that its cache lacks, modality by modality, with one progress callback
``progress(done, total, modality)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from mmrl_desktop.core.config_fields import KIND_WORDS
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.pretrained.hf_folder import (
    ENCODER_MODALITIES,
    EncoderInfo,
    inspect_encoder,
)

OPTIONS: dict[str, type] = {
    "lora": bool,
    "lora_rank": int,
    "lora_alpha": float,
    "batch_size": int,
    "first_pool": int,
}
DEFAULT_BATCH = 16
FIRST_POOL = 512  # pool items embedded before the first model; the rest join as they are


def split_table(table: dict | None) -> tuple[dict[str, str], dict[str, Any]]:
    """``[encoders]`` → (modality → folder, options), or ``UserError`` for a bad key or value."""
    paths: dict[str, str] = {}
    options: dict[str, Any] = {
        "lora": None,  # not set: on for a new model on a CUDA device (lora.with_lora)
        "lora_rank": 8,
        "lora_alpha": 16.0,
        "batch_size": DEFAULT_BATCH,
        "first_pool": FIRST_POOL,
    }
    for key, value in (table or {}).items():
        if key in ENCODER_MODALITIES:
            if not isinstance(value, str):
                raise UserError(f"[encoders] {key} must be a folder path, not {value!r}.")
            if value.strip():
                paths[key] = value.strip()
        elif key in OPTIONS:
            kind = OPTIONS[key]
            ok = isinstance(value, (int, float) if kind is float else kind)
            if not ok or (kind is not bool and isinstance(value, bool)):
                what = KIND_WORDS.get(kind.__name__, kind.__name__)
                raise UserError(f"[encoders] {key} must be {what}, not {value!r}.")
            options[key] = float(value) if kind is float else value
        else:
            known = ", ".join([*ENCODER_MODALITIES, *OPTIONS])
            raise UserError(f"unknown [encoders] setting {key!r}; known: {known}.")
    if options["batch_size"] < 1 or options["first_pool"] < 1:
        raise UserError("[encoders] batch_size and first_pool must be at least 1.")
    check_lora_options(options)
    return paths, options


def check_lora_options(options: dict[str, Any]) -> None:
    """``[encoders]`` lora_rank and lora_alpha in range, else one sentence."""
    rank, alpha = options.get("lora_rank", 8), options.get("lora_alpha", 16.0)
    if not 1 <= int(rank) <= 256:
        raise UserError(f"[encoders] lora_rank must be between 1 and 256, not {rank!r}.")
    if not 0 < float(alpha) <= 4096:
        raise UserError(f"[encoders] lora_alpha must be above 0 (at most 4096), not {alpha!r}.")


def resolve_folder(root: str | Path, folder: str) -> Path:
    p = Path(folder).expanduser()
    return p if p.is_absolute() else Path(root) / p


def encoder_infos(root: str | Path, table: dict | None) -> dict[str, EncoderInfo]:
    """Each configured modality's checked encoder (raises the refusal's sentence)."""
    paths, _ = split_table(table)
    out = {}
    for modality, folder in paths.items():
        try:
            out[modality] = inspect_encoder(resolve_folder(root, folder), modality)
        except UserError as err:
            raise UserError(f"the {modality} encoder in project.toml [encoders]: {err}") from None
    return out


def fill_project(
    project,
    progress: Callable[[int, int, str], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    device: str = "auto",
    modalities: list[str] | None = None,
) -> dict[str, Any]:
    """Embed every item of ``project`` its caches lack; ``{modality: FillResult}``."""
    from mmrl_desktop.core.learning.pretrained.fill import fill_cache

    infos = encoder_infos(project.root, project.encoders)
    _, options = split_table(project.encoders)
    if modalities:
        infos = {m: i for m, i in infos.items() if m in modalities}
    store = project.open_store()
    try:
        items = store.items()
    finally:
        store.close()
    results = {}
    for modality, info in infos.items():

        def report(done: int, total: int, modality: str = modality) -> None:
            if progress is not None:
                progress(done, total, modality)

        results[modality] = fill_cache(
            project.root,
            items,
            info,
            device=device,
            batch_size=int(options["batch_size"]),
            progress=report,
            should_stop=should_stop,
        )
        if results[modality].stopped:
            break
    return results


def check_encoders(root: str | Path, encoders: dict[str, str] | None) -> dict[str, EncoderInfo]:
    """``--encoder MODALITY=PATH`` pairs checked before anything runs (one sentence each)."""
    out = {}
    for modality, folder in (encoders or {}).items():
        try:
            out[modality] = inspect_encoder(resolve_folder(root, folder), modality)
        except UserError as err:
            raise UserError(f"--encoder {modality}={folder}: {err}") from None
    return out


def describe_infos(infos: dict[str, EncoderInfo]) -> dict[str, dict[str, Any]]:
    keys = ("architecture", "model_type", "parameters", "embedding_size", "fingerprint", "path")
    return {m: {k: getattr(i, k) for k in keys} for m, i in infos.items()}


def share_embeddings(root: str | Path, shared: str | Path | None) -> bool:
    """Make ``root``'s embedding cache a link to ``shared`` (the bench's temporary projects reuse
    what an earlier run computed: the cache is keyed by content). False where links fail."""
    import os

    if not shared:
        return False
    link = Path(root) / "embeddings"
    try:
        Path(shared).mkdir(parents=True, exist_ok=True)
        if not link.exists():
            os.symlink(Path(shared).resolve(), link, target_is_directory=True)
        return True
    except OSError:
        return False


def default_shared_cache() -> Path | None:
    """The bench's shared embedding cache: ``$MMRL_BENCH_EMBEDDINGS`` (empty: none), else the
    user's cache folder."""
    import os

    env = os.environ.get("MMRL_BENCH_EMBEDDINGS")
    if env is not None:
        return Path(env) if env else None
    import platformdirs

    return Path(platformdirs.user_cache_dir("mmrl-desktop")) / "bench-embeddings"


def embed_for_bench(
    project,
    infos: dict[str, EncoderInfo],
    device: str,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """The bench's project with ``[encoders]`` set and every item embedded once, before the
    protocol; the JSON's ``encoders`` and ``embedding``."""
    if not infos:
        return {}
    project.encoders = {m: i.path for m, i in infos.items()}
    project.save()
    share_embeddings(project.root, default_shared_cache())
    results = fill_project(project, progress=progress, device=device)
    return {
        "encoders": describe_infos(infos),
        "embedding": {m: r.to_dict() for m, r in results.items()},
    }
