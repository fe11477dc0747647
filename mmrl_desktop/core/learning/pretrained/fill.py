"""Computing embeddings into the cache: the background job, and on demand for the trainer.

    result = fill_cache(project.root, items, info, progress=lambda done, total: ...)

``fill_cache`` embeds, in batches, every item of ``items`` whose content the cache lacks, and
stores a shard every ``shard_items`` items (so a ``kill -9`` loses at most that many; the next run
resumes with what is missing). It loads the encoder only when something is missing: on a GPU in
float16, else on the CPU in float32. ``should_stop()`` is polled between batches (a GUI's cancel).

What reaches the encoder: images as the viewer shows them (``loaders.load_image(...).display``:
a DICOM file decoded whole through its modality LUT and the viewer's window, MONOCHROME1
inverted; other images reduced while decoding to no less than the processor's resolution), then
the encoder's own image processor (resize, crop, normalise);
texts as read; sounds resampled to the feature extractor's rate, the first ``audio_seconds``.

``EmbeddingSource`` is the trainer's view: the embedding of one item's modality from the cache,
computed at once when missing (in the trainer's thread, never the GUI's).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mmrl_desktop.core.learning.pretrained.cache import ContentHashes, EmbeddingCache, item_key
from mmrl_desktop.core.learning.pretrained.hf_folder import (
    EncoderInfo,
    LoadedEncoder,
    load_encoder,
)

AUDIO_SECONDS = 10.0  # of each sound reaching an audio encoder
Progress = Callable[[int, int], None]


@dataclass
class FillResult:
    total: int = 0  # items with this modality
    cached: int = 0  # already in the cache before
    computed: int = 0  # embedded and stored now
    unreadable: dict[str, str] = field(default_factory=dict)  # item id → one-line reason
    seconds: float = 0.0
    stopped: bool = False  # should_stop() ended it early

    @property
    def items_per_s(self) -> float:
        return self.computed / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "cached": self.cached,
            "computed": self.computed,
            "unreadable": len(self.unreadable),
            "seconds": round(self.seconds, 3),
            "items_per_s": round(self.items_per_s, 2),
            "stopped": self.stopped,
        }


def has_modality(item, modality: str) -> bool:
    if modality == "text":
        return bool(item.text) or item.text_inline is not None
    return bool(getattr(item, modality, None))


def load_input(item, info: EncoderInfo, audio_seconds: float = AUDIO_SECONDS) -> Any:
    """What the encoder's processor receives for ``item`` (see the module docstring)."""
    from mmrl_desktop.core.data import loaders

    if info.modality == "image":
        path = loaders.item_file(item, "image")
        if loaders.is_dicom_path(
            path
        ):  # whole, so the window is the viewer's (not a reduced one's)
            return loaders.load_image(path).display
        side = max(info.input_size or 224, 32)
        return loaders.load_image(path, max_side=side).display
    if info.modality == "text":
        if item.text_inline is not None:
            return item.text_inline
        return loaders.load_text(path=loaders.item_file(item, "text"))
    path = loaders.item_file(item, "audio")
    return loaders.load_audio(path, info.sample_rate or 16000, max_seconds=audio_seconds)


def _reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:200]


def _todo(items, info, cache, hashes, result) -> list[tuple[Any, bytes]]:
    todo, seen = [], set()
    for it in items:
        if not has_modality(it, info.modality):
            continue
        result.total += 1
        try:
            key = item_key(it, info.modality, hashes)
        except Exception as err:  # unreadable or gone: reported, not fatal
            result.unreadable[it.item_id] = _reason(err)
            continue
        if key in cache or key in seen:
            result.cached += 1
            continue
        seen.add(key)
        todo.append((it, key))
    return todo


def embed_items(
    enc: LoadedEncoder, pairs: list[tuple[Any, bytes]], unreadable: dict[str, str]
) -> tuple[list[bytes], np.ndarray]:
    """Embed ``pairs`` (item, key) in one batch; items that cannot be read go to ``unreadable``."""
    from mmrl_desktop.core.learning.pretrained.embed import embed_batch

    inputs, keys = [], []
    for it, key in pairs:
        try:
            inputs.append(load_input(it, enc.info))
            keys.append(key)
        except Exception as err:
            unreadable[it.item_id] = _reason(err)
    z = embed_batch(enc, inputs)
    return keys, z


def fill_cache(
    root,
    items: list,
    encoder: EncoderInfo | LoadedEncoder,
    *,
    device: str = "auto",
    batch_size: int = 16,
    shard_items: int = 256,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> FillResult:
    """Embed what the cache of ``encoder`` in project ``root`` lacks (see the module docstring)."""
    t0 = time.perf_counter()
    info = encoder.info if isinstance(encoder, LoadedEncoder) else encoder
    cache, hashes = EmbeddingCache(root, info), ContentHashes(root)
    result = FillResult()
    todo = _todo(items, info, cache, hashes, result)
    hashes.save()
    done = result.cached
    if progress:
        progress(done, result.total)
    enc = encoder if isinstance(encoder, LoadedEncoder) or not todo else None
    if enc is None:
        enc = load_encoder(info, device=device)
    keys: list[bytes] = []
    parts: list[np.ndarray] = []
    for start in range(0, len(todo), batch_size):
        if should_stop is not None and should_stop():
            result.stopped = True
            break
        batch = todo[start : start + batch_size]
        k, z = embed_items(enc, batch, result.unreadable)
        keys += k
        parts.append(z)
        done += len(batch)
        if len(keys) >= shard_items:
            result.computed += _flush(cache, keys, parts)
            keys, parts = [], []
        if progress:
            progress(done, result.total)
    result.computed += _flush(cache, keys, parts)
    result.seconds = time.perf_counter() - t0
    return result


def _flush(cache: EmbeddingCache, keys: list[bytes], parts: list[np.ndarray]) -> int:
    if not keys:
        return 0
    cache.add(keys, np.concatenate(parts))
    return len(keys)


class EmbeddingSource:
    """One modality's embeddings for the trainer: from the cache, else computed now (batched).

    ``vectors(items)`` → ``{item_id: float32 [D]}`` for the items it could embed; the others
    (unreadable) are in ``unreadable``. The encoder is loaded on the first miss only. What it
    computes is served from memory at once and stored as one shard per ``FLUSH_ROWS`` embeddings
    or ``FLUSH_S`` seconds (``flush``): a few items at a time would make thousands of files."""

    FLUSH_ROWS = 256
    FLUSH_S = 30.0

    def __init__(self, root, info: EncoderInfo, device: str = "cpu", batch_size: int = 16):
        self.root, self.info, self.device = root, info, device
        self.batch_size = batch_size
        self.cache = EmbeddingCache(root, info)
        self.hashes = ContentHashes(root)
        self.encoder: LoadedEncoder | None = None
        self.unreadable: dict[str, str] = {}
        self.computed = 0
        self._pending: dict[bytes, np.ndarray] = {}  # computed, not yet in a shard
        self._flushed_at = time.monotonic()

    def _has(self, key: bytes) -> bool:
        return key in self._pending or key in self.cache

    def vectors(self, items: list) -> dict[str, np.ndarray]:
        keys: dict[str, bytes] = {}
        for it in items:
            if not has_modality(it, self.info.modality) or it.item_id in self.unreadable:
                continue
            try:
                keys[it.item_id] = item_key(it, self.info.modality, self.hashes)
            except Exception as err:
                self.unreadable[it.item_id] = _reason(err)
        missing = [it for it in items if it.item_id in keys and not self._has(keys[it.item_id])]
        if missing:
            self.cache.refresh()  # another process may have filled them
            missing = [it for it in missing if not self._has(keys[it.item_id])]
        if missing:
            self._compute([(it, keys[it.item_id]) for it in missing])
        out = {}
        for item_id, key in keys.items():
            z = self._pending.get(key)
            z = self.cache.get(key) if z is None else z
            if z is not None:
                out[item_id] = z
        return out

    def fill(self, items: list, progress: Progress | None = None) -> FillResult:
        """``fill_cache`` for ``items`` with this source's encoder (loaded only if needed)."""
        self.flush()
        result = fill_cache(
            self.root,
            items,
            self.encoder or self.info,
            device=self.device,
            batch_size=self.batch_size,
            progress=progress,
        )
        self.cache.refresh()
        self.computed += result.computed
        self.unreadable.update(result.unreadable)
        return result

    def _compute(self, pairs: list[tuple[Any, bytes]]) -> None:
        if self.encoder is None:
            self.encoder = load_encoder(self.info, device=self.device)
        for start in range(0, len(pairs), self.batch_size):
            k, z = embed_items(
                self.encoder, pairs[start : start + self.batch_size], self.unreadable
            )
            z = z.astype(np.float16).astype(np.float32)  # as a shard will give it back
            self._pending.update(zip(k, z, strict=True))
            self.computed += len(k)
        if len(self._pending) >= self.FLUSH_ROWS or (
            time.monotonic() - self._flushed_at >= self.FLUSH_S
        ):
            self.flush()

    def flush(self) -> None:
        """Store what was computed since the last flush as one shard."""
        self._flushed_at = time.monotonic()
        if self._pending:
            keys = list(self._pending)
            self.cache.add(keys, np.stack([self._pending[k] for k in keys]))
            self._pending.clear()
        self.hashes.save()
