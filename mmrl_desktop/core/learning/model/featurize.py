"""Items → fixed-size arrays the policy reads, with a bounded in-memory cache.

    cfg = resolve_model_config(ModelConfig(), items)      # adapt image size/channels, modalities
    fz = Featurizer(cfg, cache_mb=512)
    feats = fz.features(item)                              # {"image": uint8 [C,S,S], ...}
    inputs = fz.collate([fz.features(it) for it in items]) # tensors + "<m>_mask"

Features are stored compactly (images as uint8, audio as float16) and converted at collate time. The
cache drops the least recently used items beyond ``cache_mb``, so a 50k-item project never holds
more than that in memory. An unreadable file turns that modality off for the item (mask False)
instead of stopping training; ``Featurizer.errors`` counts them, and an item none of whose files
could be read is named in ``Featurizer.unreadable`` (item id → the reason, one sentence), so the
trainer leaves it out of training and ``evaluate`` out of its figures, and both report it.
"""

from __future__ import annotations

import hashlib
import math
import re
import statistics
from collections import OrderedDict

import numpy as np
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.learning.model.encoders import TINY

MODALITIES = ("image", "audio", "text", "volume")
MAX_AUTO_SIDE = 64  # the largest side ``image_side`` picks (see there)
MAX_AUTO_SECONDS = 2.0  # the longest window ``audio_window`` picks (see there)


# ------------------------------------------------------------------ loaders
# Every read goes through ``loaders.item_file`` (a regular file, still inside the folder the item
# was imported from) and reads only what the model uses: images reduced while decoding, the first
# ``audio_seconds`` of a sound.
def _load_image_display(item: Item) -> np.ndarray:
    from mmrl_desktop.core.data.loaders import MODEL_MAX_SIDE, item_file, load_image

    return load_image(item_file(item, "image"), max_side=MODEL_MAX_SIDE).display


def _is_volume(item: Item) -> bool:
    return isinstance((item.info or {}).get("volume"), dict)


def _load_volume_grid(item: Item, size: int) -> np.ndarray:
    """``size³`` uint8 grid of a volume item (``volume_encoder.volume_grid``, ADR 0015)."""
    from mmrl_desktop.core.data.volumes import volume_of_item
    from mmrl_desktop.core.learning.model.volume_encoder import volume_grid

    return volume_grid(volume_of_item(item), size)


def _load_audio(item: Item, sample_rate: int, seconds: float) -> np.ndarray:
    from mmrl_desktop.core.data.loaders import item_file, load_audio

    wave = load_audio(item_file(item, "audio"), sample_rate, max_seconds=seconds)
    return np.asarray(wave, dtype=np.float32)


def _load_text(item: Item) -> str:
    from mmrl_desktop.core.data.loaders import item_file, load_text

    if item.text_inline is not None:
        return item.text_inline
    return load_text(path=item_file(item, "text"))


# ------------------------------------------------------------------ text hashing
_WORD = re.compile(r"\w+", re.UNICODE)


def _bucket(token: str, buckets: int) -> int:
    h = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return 1 + int.from_bytes(h, "little") % (buckets - 1)  # 0 is padding


def hash_text(text: str, buckets: int, max_tokens: int) -> np.ndarray:
    """Word unigrams + bigrams + character 3-grams of words, hashed to ids in [1, buckets)."""
    words = []
    for match in _WORD.finditer(text):  # with max_tokens words only their unigrams are kept
        words.append(match.group().lower())
        if len(words) >= max_tokens:
            break
    tokens = [f"w:{w}" for w in words]
    tokens += [f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    for w in words:
        padded = f"<{w}>"
        tokens += [f"c:{padded[i : i + 3]}" for i in range(max(1, len(padded) - 2))]
    ids = [_bucket(t, buckets) for t in tokens[:max_tokens]]
    return np.asarray(ids or [0], dtype=np.int32)


def text_document_frequencies(items, buckets: int, max_tokens: int) -> tuple[np.ndarray, int]:
    """How many of ``items``' texts hold each n-gram id ([buckets]), and how many texts were
    read (the idf of ``TextEncoder.fit_idf``). Only the texts are read; one that cannot be is
    left out (the featurizer reports it when the item is drawn)."""
    df = np.zeros(buckets, np.int64)
    docs = 0
    for item in items:
        if not (item.text or item.text_inline is not None):
            continue
        try:
            ids = hash_text(_load_text(item), buckets, max_tokens)
        except Exception:  # an unreadable text weighs nothing here
            continue
        df[np.unique(ids[ids > 0])] += 1
        docs += 1
    return df, docs


# ------------------------------------------------------------------ image shaping
def _to_chw(display: np.ndarray, channels: int, size: int) -> np.ndarray:
    from PIL import Image

    arr = np.asarray(display)
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if channels == 1 and arr.ndim == 3:
        arr = (arr.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)).astype(
            np.uint8
        )
    if channels == 3 and arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[0] != size or arr.shape[1] != size:
        arr = np.asarray(Image.fromarray(arr).resize((size, size), Image.BILINEAR))
    if arr.ndim == 2:
        arr = arr[None]
    else:
        arr = arr.transpose(2, 0, 1)
    return np.ascontiguousarray(arr)


def image_side(sides: list[int]) -> int:
    """The side images are resized to, from the sides of a sample of them (longest side each).

    Tiny images (median ≤ 8 px: 8×8 digits) keep 8 px, read by the 8×8-digits design. Larger
    ones get the power of two nearest their median, clamped to 32..64: 16 px icons and 24 px ones
    become 32 (upsampled: the tiny design did not learn 16 px letters or shapes, the large one
    did; docs/benchmarks.md §5j), 64 px shapes stay 64, photos 64. Not 128: the image model averages
    2×2 blocks down to 32 px whatever the side (``encoders.SmallCNN``), so a larger side only costs
    memory in the cache and the pool (the default algorithm's pixel and gradient views read it)."""
    if not sides:
        return 32
    median = float(statistics.median(sides))
    if median <= TINY:
        return int(max(8, median))
    return int(min(MAX_AUTO_SIDE, max(32, 2 ** round(math.log2(median)))))


def audio_window(seconds: list[float]) -> float:
    """The length sounds are cut or padded to, from the lengths of a sample of them: the 90th
    percentile (a few long clips do not set it), rounded up to a quarter second, at most
    ``MAX_AUTO_SECONDS`` (longer clips are cut there, as the fixed 2 s window always did).

    The audio model reads a 64-frame log-mel map whatever the window (``AudioEncoder``), so a
    window mostly of padding halves the frames that hold the sound: on the own-folder spoken
    words (1 s clips), three unseen seeds, `supervised` was right .38 of the time after 30
    answers with the 2 s window and .62 with the 1 s one (docs/benchmarks.md §5zn, ADR 0031)."""
    if not seconds:
        return MAX_AUTO_SECONDS
    p90 = float(np.percentile(seconds, 90, method="lower"))  # 90 % of the clips fit
    return float(min(MAX_AUTO_SECONDS, max(0.25, math.ceil(p90 * 4 - 1e-6) / 4)))


def resolve_model_config(config: ModelConfig, items: list[Item], sample: int = 64) -> ModelConfig:
    """Fill what is left to adapt: modalities present, image side (``image_side``), channels,
    the sounds' window (``audio_window``).

    Deterministic: reads at most ``sample`` evenly spaced images (headers and pixels) and the
    headers of at most ``sample`` evenly spaced sounds."""
    changes: dict = {}
    if not config.modality_list():
        present = [m for m in MODALITIES if any(m in it.modalities for it in items)]
        changes["modalities"] = ",".join(present or ["image"])
    mods = changes.get("modalities", config.modalities).split(",")
    if "image" in mods and (config.image_size == 0 or config.image_channels == 0):
        with_image = [it for it in items if it.image and not _is_volume(it)]
        step = max(1, len(with_image) // sample)
        sides, colour = [], False
        for it in with_image[::step][:sample]:
            try:
                arr = _load_image_display(it)
            except Exception:
                continue
            sides.append(max(arr.shape[0], arr.shape[1]))
            if arr.ndim == 3 and arr.shape[2] >= 3:
                rgb = arr[:, :, :3].astype(np.int16)
                colour |= bool(np.abs(rgb - rgb[:, :, :1]).max() > 8)
        if config.image_size == 0:
            changes["image_size"] = image_side(sides)
        if config.image_channels == 0:
            changes["image_channels"] = 3 if colour else 1
    if "audio" in mods and config.audio_seconds == 0:
        from mmrl_desktop.core.data.loaders import check_file, item_file

        with_audio = [it for it in items if "audio" in it.modalities]
        step = max(1, len(with_audio) // sample)
        lengths = []
        for it in with_audio[::step][:sample]:
            try:
                lengths.append(float(check_file(str(item_file(it, "audio")), "audio")["seconds"]))
            except Exception:
                continue
        changes["audio_seconds"] = audio_window(lengths)
    return config.replace(**changes) if changes else config


def _reason(err: Exception) -> str:
    """One line for a user: the loader's sentence, else the exception's first line."""
    if isinstance(err, OSError) and err.strerror:  # without the path
        return f"file cannot be read ({err.strerror})"
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text[:200]


class Featurizer:
    """Turns an Item into compact arrays; LRU cache bounded in bytes; collates batches."""

    def __init__(self, config: ModelConfig, cache_mb: int = 512, root=None):
        self.config = config
        # a pretrained modality (``config.pretrained``, issue 14) is read as its encoder's cached
        # embedding ("<m>_emb", computed at once when missing), not decoded here; images also
        # as small pixels, which only the default algorithm's graph views read (pixels, gradients
        # against the pretrained view: the answers choose, docs/adr/0014)
        self.modalities = [
            m for m in config.modality_list() if m not in config.pretrained or m == "image"
        ]
        self.pretrained = None
        if config.pretrained:
            from mmrl_desktop.core.learning.pretrained.features import PretrainedInputs

            self.pretrained = PretrainedInputs(config.pretrained, root or ".")
        self._ready: dict[str, dict[str, np.ndarray]] = {}  # embedded ahead, not yet cached
        self.cache_bytes = int(cache_mb) << 20
        self._cache: OrderedDict[str, dict[str, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self.errors = 0
        self.unreadable: dict[str, str] = {}  # items none of whose files could be read
        self.hits = 0
        self.misses = 0

    # ---------------------------------------------------------------- one item
    def _compute(self, item: Item) -> dict[str, np.ndarray]:
        cfg = self.config
        out: dict[str, np.ndarray] = {}
        failed: list[str] = []
        if self.pretrained is not None:
            vecs = self._ready.pop(item.item_id, None)
            if vecs is None:
                vecs = self.pretrained.compute([item]).get(item.item_id, {})
            out.update(vecs)
            failed += self.pretrained.failure(item.item_id)
        if "volume" in self.modalities and item.image and _is_volume(item):
            try:
                out["volume"] = _load_volume_grid(item, cfg.volume_size)
            except Exception as err:
                failed.append(f"volume: {_reason(err)}")
        if "image" in self.modalities and item.image and not _is_volume(item):
            try:
                disp = _load_image_display(item)
                out["image"] = _to_chw(disp, cfg.image_channels, cfg.image_size)
            except Exception as err:
                failed.append(f"image: {_reason(err)}")
        if "audio" in self.modalities and item.audio:
            try:
                wave = _load_audio(item, cfg.audio_sample_rate, cfg.audio_seconds)
                n = int(cfg.audio_sample_rate * cfg.audio_seconds)
                fixed = np.zeros(n, np.float16)
                fixed[: min(n, len(wave))] = wave[:n]
                out["audio"] = fixed
            except Exception as err:
                failed.append(f"audio: {_reason(err)}")
        if "text" in self.modalities and (item.text or item.text_inline is not None):
            try:
                out["text"] = hash_text(_load_text(item), cfg.text_buckets, cfg.text_max_tokens)
            except Exception as err:
                failed.append(f"text: {_reason(err)}")
        self.errors += len(failed)
        if failed and not out:
            self.unreadable[item.item_id] = "; ".join(failed)
        return out

    def features(self, item: Item) -> dict[str, np.ndarray]:
        hit = self._cache.get(item.item_id)
        if hit is not None:
            self._cache.move_to_end(item.item_id)
            self.hits += 1
            return hit
        self.misses += 1
        feats = self._compute(item)
        size = sum(a.nbytes for a in feats.values()) + 200
        if size <= self.cache_bytes:
            self._cache[item.item_id] = feats
            self._bytes += size
            while self._bytes > self.cache_bytes:
                _, old = self._cache.popitem(last=False)
                self._bytes -= sum(a.nbytes for a in old.values()) + 200
        return feats

    def readable(self, items: list[Item]) -> list[Item]:
        """``items`` without those none of whose files can be read (now featurized, cached)."""
        self._prefetch(items)
        for it in items:
            self.features(it)
        return [it for it in items if it.item_id not in self.unreadable]

    def unreadable_report(self) -> list[dict[str, str]]:
        """``[{"item_id", "reason"}]`` of the items found unreadable so far, sorted by id."""
        return [{"item_id": i, "reason": r} for i, r in sorted(self.unreadable.items())]

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._cache)

    # ---------------------------------------------------------------- batches
    def collate(self, feats: list[dict[str, np.ndarray]]) -> dict[str, torch.Tensor]:
        cfg, n = self.config, len(feats)
        out: dict[str, torch.Tensor] = {}
        if "image" in self.modalities:
            img = np.zeros((n, cfg.image_channels, cfg.image_size, cfg.image_size), np.uint8)
            mask = np.zeros(n, bool)
            for i, f in enumerate(feats):
                if "image" in f:
                    img[i], mask[i] = f["image"], True
            out["image"] = torch.from_numpy(img).float().div_(255.0)
            out["image_mask"] = torch.from_numpy(mask)
        if "volume" in self.modalities:
            side = cfg.volume_size
            vol = np.zeros((n, 1, side, side, side), np.uint8)
            mask = np.zeros(n, bool)
            for i, f in enumerate(feats):
                if "volume" in f:
                    vol[i, 0], mask[i] = f["volume"], True
            out["volume"] = torch.from_numpy(vol).float().div_(255.0)
            out["volume_mask"] = torch.from_numpy(mask)
        if "audio" in self.modalities:
            length = int(cfg.audio_sample_rate * cfg.audio_seconds)
            wav = np.zeros((n, length), np.float32)
            mask = np.zeros(n, bool)
            for i, f in enumerate(feats):
                if "audio" in f:
                    wav[i], mask[i] = f["audio"], True
            out["audio"] = torch.from_numpy(wav)
            out["audio_mask"] = torch.from_numpy(mask)
        if "text" in self.modalities:
            width = max([len(f["text"]) for f in feats if "text" in f] or [1])
            ids = np.zeros((n, width), np.int64)
            mask = np.zeros(n, bool)
            for i, f in enumerate(feats):
                if "text" in f:
                    ids[i, : len(f["text"])], mask[i] = f["text"], True
            out["text"] = torch.from_numpy(ids)
            out["text_mask"] = torch.from_numpy(mask)
        if self.pretrained is not None:
            out.update(self.pretrained.collate(feats))
        return out

    def batch(self, items: list[Item]) -> dict[str, torch.Tensor]:
        self._prefetch(items)
        return self.collate([self.features(it) for it in items])

    def prefill(self, items: list[Item]) -> None:
        """The pretrained modalities' embeddings of ``items`` into the project's cache, in
        batches, with progress (``pretrained.progress.report_progress_to``); else nothing."""
        if self.pretrained is not None:
            self.pretrained.prefill(items)

    def _prefetch(self, items: list[Item]) -> None:
        """The pretrained embeddings of items not featurized yet, computed in batches."""
        if self.pretrained is None:
            return
        todo = [it for it in items if it.item_id not in self._cache]
        todo = [it for it in todo if it.item_id not in self._ready]
        for start in range(0, len(todo), 256):
            self._ready.update(self.pretrained.compute(todo[start : start + 256]))
