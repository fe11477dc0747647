"""The embedding cache: each item's embedding computed once per (file content, encoder).

    cache = EmbeddingCache(project.root, info)     # <project>/embeddings/<modality>-<fingerprint>/
    z = cache.get(key)                             # float32 [D] or None
    cache.add(keys, matrix)                        # one new shard, written atomically

Layout. ``embeddings/<modality>-<fingerprint>/`` holds ``shard-<time>-<pid>-<n>.npz`` files, each
``keys`` (content hashes, ``S32``) and ``z`` (float16 ``[n, D]``), and ``index.json`` (the
encoder's ``EncoderInfo``, the shards and their row counts). A shard is written to a temporary
file, flushed and fsynced, then renamed: a reader (and a process started after a ``kill -9``) sees
a whole shard or none, never a half-written one; a temporary file left by a killed writer is
removed on the next open. Readers list the shard files themselves (``index.json`` is a summary
rewritten atomically after each shard), so two writers — the trainer filling what it needs now and
a background job filling the rest — never lose each other's shards; a shard that fails to load (a
damaged disk) is set aside as ``*.bad`` and its items are computed again.

Keys. An item's key for a modality is the SHA-256 (first 32 bytes) of its file's content (or of
its inline text), so a file changed on disk gets a new embedding and a copied project reuses them.
``ContentHashes`` remembers each file's hash by (path, size, mtime) in
``embeddings/content_hashes.json`` so a restart does not re-read every file. A different encoder
(another fingerprint) uses another folder: changing the encoder invalidates every embedding at
once; ``prune`` removes the folders of encoders no longer used.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from mmrl_desktop.core.data.project import atomic_write_bytes
from mmrl_desktop.core.learning.pretrained.hf_folder import EncoderInfo

EMBEDDINGS_DIR = "embeddings"
HASHES_FILE = "content_hashes.json"
INDEX_FILE = "index.json"
_KEY_BYTES = 32
SHARD_ROWS = 256  # a shard of fewer rows counts as small
COMPACT_AT = 32  # this many small shards are merged into one


def cache_folder(root: str | os.PathLike, info: EncoderInfo) -> Path:
    return Path(root) / EMBEDDINGS_DIR / f"{info.modality}-{info.fingerprint}"


# ------------------------------------------------------------------ content keys
def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:_KEY_BYTES]


def text_key(text: str) -> bytes:
    return _digest(b"text\0" + text.encode("utf-8", "surrogatepass"))


def file_key(path: str | os.PathLike) -> bytes:
    h = hashlib.sha256(b"file\0")
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.digest()[:_KEY_BYTES]


class ContentHashes:
    """File content hashes remembered by (path, size, mtime_ns); saved with ``save``."""

    def __init__(self, root: str | os.PathLike):
        self.path = Path(root) / EMBEDDINGS_DIR / HASHES_FILE
        self._memo: dict[str, list] = {}
        self._dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self._memo = {k: v for k, v in data.items() if isinstance(v, list) and len(v) == 3}
        except (OSError, ValueError):
            pass

    def key(self, path: str | os.PathLike) -> bytes:
        st = os.stat(path)
        name = os.path.abspath(path)
        hit = self._memo.get(name)
        if hit and hit[0] == st.st_size and hit[1] == st.st_mtime_ns:
            return bytes.fromhex(hit[2])
        key = file_key(path)
        self._memo[name] = [st.st_size, st.st_mtime_ns, key.hex()]
        self._dirty = True
        return key

    def save(self) -> None:
        if not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps(self._memo, separators=(",", ":")).encode()
        atomic_write_bytes(self.path, payload, durable=False)  # a memo: losing it costs re-reads
        self._dirty = False


def item_key(item, modality: str, hashes: ContentHashes) -> bytes:
    """The content key of ``item``'s ``modality`` (its file checked by ``loaders.item_file``)."""
    if modality == "text" and item.text_inline is not None:
        return text_key(item.text_inline)
    from mmrl_desktop.core.data.loaders import item_file

    return hashes.key(item_file(item, modality))


# ------------------------------------------------------------------ the cache
class EmbeddingCache:
    """The embeddings of one encoder in one project (see the module docstring)."""

    def __init__(self, root: str | os.PathLike, info: EncoderInfo):
        self.info = info
        self.folder = cache_folder(root, info)
        self.dim = int(info.embedding_size)
        self._rows: dict[bytes, tuple[int, int]] = {}  # key → (shard number, row)
        self._shards: list[np.ndarray] = []  # float16 [n, D] per loaded shard
        self._names: list[str] = []
        self._seen: set[str] = set()
        self._written = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self._remove_temp_files()
        self.refresh()

    def _remove_temp_files(self) -> None:
        for tmp in self.folder.glob(".shard-*.tmp"):
            try:
                if time.time() - tmp.stat().st_mtime > 60:  # no live writer takes a minute
                    tmp.unlink()
            except OSError:
                pass

    def refresh(self) -> int:
        """Load shards written since the last look (by this or another process); returns how
        many new keys."""
        before = len(self._rows)
        for path in sorted(self.folder.glob("shard-*.npz")):
            if path.name in self._seen:
                continue
            self._seen.add(path.name)
            loaded = self._load_shard(path)
            if loaded is None:
                continue
            self._register(path.name, *loaded)
        return len(self._rows) - before

    def _register(self, name: str, keys: np.ndarray, z: np.ndarray) -> None:
        self._seen.add(name)
        n = len(self._shards)
        self._shards.append(z)
        self._names.append(name)
        for i, k in enumerate(keys):
            self._rows[bytes(k)] = (n, i)

    def _load_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, z = data["keys"], data["z"]
            if z.ndim != 2 or z.shape[1] != self.dim or len(keys) != len(z):
                raise ValueError("shape")
            if keys.dtype != np.dtype(f"S{_KEY_BYTES}"):
                raise ValueError("keys")
            return keys, z.astype(np.float16, copy=False)
        except FileNotFoundError:
            return None
        except Exception:  # damaged: any error of numpy's reader
            try:
                path.rename(path.with_suffix(".bad"))
            except OSError:
                pass
            return None

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, key: bytes) -> bool:
        return key in self._rows

    def get(self, key: bytes) -> np.ndarray | None:
        where = self._rows.get(key)
        if where is None:
            return None
        return self._shards[where[0]][where[1]].astype(np.float32)

    def add(self, keys: list[bytes], z: np.ndarray) -> str:
        """Store ``z`` (``[len(keys), D]``) as one new shard, atomically; returns its name."""
        z = np.asarray(z, dtype=np.float32)
        if z.shape != (len(keys), self.dim):
            raise ValueError(f"expected [{len(keys)}, {self.dim}] embeddings, got {list(z.shape)}")
        if not np.isfinite(z).all():
            raise ValueError("an embedding is not finite")
        name = self._write_shard(np.asarray(keys, dtype=f"S{_KEY_BYTES}"), z.astype(np.float16))
        self._compact()
        self._write_index()
        return name

    def _write_shard(self, keys: np.ndarray, z16: np.ndarray) -> str:
        self._written += 1
        name = f"shard-{time.time_ns():020d}-{os.getpid()}-{self._written:06d}.npz"
        buf = io.BytesIO()
        np.savez(buf, keys=keys, z=z16)
        _write_atomic(self.folder / name, self.folder / f".{name}.tmp", buf.getvalue())
        self._register(name, keys, z16)
        return name

    def _compact(self) -> None:
        """Many small shards (embeddings computed a few at a time) → one: their rows are
        written as a new shard first, then the small files removed (a reader sees the rows in
        one or the other; one that listed a removed file skips it and computes nothing twice
        that the new shard does not hold)."""
        small = [i for i, z in enumerate(self._shards) if 0 < len(z) < SHARD_ROWS]
        if len(small) < COMPACT_AT:
            return
        where = set(small)
        keys = [k for k, (n, _) in self._rows.items() if n in where]
        if not keys:
            return
        z16 = np.stack([self._shards[self._rows[k][0]][self._rows[k][1]] for k in keys])
        self._write_shard(np.asarray(keys, dtype=f"S{_KEY_BYTES}"), z16)
        for i in small:
            try:
                (self.folder / self._names[i]).unlink()
            except OSError:
                pass
            self._shards[i] = self._shards[i][:0]  # rows now live in the new shard

    def _write_index(self) -> None:
        counts = {n: int(len(s)) for n, s in zip(self._names, self._shards, strict=True) if len(s)}
        index = {
            "format": 1,
            "encoder": self.info.to_dict(),
            "items": len(self._rows),
            "shards": counts,
        }
        payload = json.dumps(index, indent=1).encode()
        atomic_write_bytes(self.folder / INDEX_FILE, payload)


def _write_atomic(path: Path, tmp: Path, payload: bytes) -> None:
    """``payload`` to ``tmp``, flushed and fsynced, then renamed to ``path`` (and the folder
    fsynced): ``path`` is a whole file or absent."""
    try:
        with open(tmp, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    if os.name == "posix":
        fd = os.open(str(path.parent), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def prune(root: str | os.PathLike, keep: list[EncoderInfo]) -> list[str]:
    """Remove the embedding folders of encoders not in ``keep``; returns their names."""
    base = Path(root) / EMBEDDINGS_DIR
    wanted = {f"{i.modality}-{i.fingerprint}" for i in keep}
    gone = []
    for folder in sorted(base.glob("*-*")):
        if folder.is_dir() and folder.name not in wanted:
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(folder.name)
    return gone
