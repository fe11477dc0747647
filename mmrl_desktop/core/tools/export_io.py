"""Writing exports: nothing that names a folder of this machine, and nothing half-written.

- :func:`write_files` writes each payload to a temp file in the target's folder, fsyncs it, and only
  when every temp is complete replaces the targets; on any write error (disk full, a size limit,
  a read-only folder) the temps are removed and one sentence is raised (:func:`write_failed`).
  Temps of the same target that a killed export left (over a minute old) are removed first
  (:func:`remove_stale_temps`).
- :func:`torchscript_bytes` saves a traced module in memory and drops TorchScript's debug entries
  (``*.debug_pkl``: the source file names and text of every traced module, i.e. the install folder,
  which on a user's machine is under their home folder); the archive's root folder is ``model``.
- :func:`onnx_without_doc_strings` clears the ONNX doc strings and metadata properties (torch's
  exporters put Python stack traces with file names there).
- :func:`known_warnings` hides the warnings an export is known to raise, each by its own text
  (docs/adr/0010-exports-installed.md says why each is expected); any other warning is shown.
- :func:`private_strings` are the folders an export must never name: the home folder, the install
  folders of mmrl-desktop and torch, the working folder, plus any the caller adds.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import io
import os
import re
import struct
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

from mmrl_desktop.core.errors import UserError

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "the file is larger than this system allows (a file size limit or a full disk)",
    errno.EROFS: "the disk is read-only",
    errno.EACCES: "the folder is not writable (permission denied)",
    errno.EPERM: "the folder is not writable (operation not permitted)",
}
ARCHIVE_ROOT = "model"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip entry times: the same model gives the same bytes
STALE_TEMP_S = 60.0  # a target's temp file older than this has no live writer (a killed export)
# (category, message regex, module regex) of the warnings an export expects (docs/adr/0010, amended):
KNOWN_WARNINGS = (
    # TorchScript as a whole is deprecated (trace, script, save and load alike); the torchscript
    # format is in the command-line contract, so it is still written and re-loaded with them
    (DeprecationWarning, r"`torch\.jit\.(trace|trace_method|save|load)` is deprecated", ""),
    # torch.onnx (dynamo): every input's batch axis is one Dim, named once in the ONNX model
    (UserWarning, r"# The axis name: \w+ will not be used, since it shares the same shape", ""),
    # torch.export copying its own pytree specs (torch-internal, raised from copyreg)
    (FutureWarning, r"`isinstance\(treespec, LeafSpec\)` is deprecated", ""),
)
# torch.jit.trace through GroupNorm: F.group_norm's "more than 1 value per channel" check reads a
# size as a Python int; only that check in torch.nn.functional (the export is compared with the
# live model at four batch sizes, one of them 1, which a trace that baked in a size would fail)
TRACER_SIZE_CHECK = (r"Converting a tensor to a Python boolean", r"torch\.nn\.functional")


@contextlib.contextmanager
def known_warnings():
    """Hide the :data:`KNOWN_WARNINGS` (by category and text) inside the block; every other
    warning goes where it would have gone."""
    from torch.jit import TracerWarning

    with warnings.catch_warnings():
        for category, pattern, module in KNOWN_WARNINGS:
            warnings.filterwarnings("ignore", pattern, category, module)
        warnings.filterwarnings("ignore", TRACER_SIZE_CHECK[0], TracerWarning, TRACER_SIZE_CHECK[1])
        yield


def write_failed(err: BaseException, path: Path | str, done: list[Path] | None = None) -> UserError:
    """The one sentence for an export that could not be written (``done``: targets already
    replaced, if any)."""
    reason = _REASONS.get(getattr(err, "errno", None))
    if reason is None:
        text = getattr(err, "strerror", None) or str(err).strip() or type(err).__name__
        reason = text.splitlines()[0][:160].rstrip(".")
    changed = f"only {', '.join(p.name for p in done)} was replaced" if done else "nothing changed"
    return UserError(f"the export could not be written to {path}: {reason}; {changed}.")


def write_files(files: dict[Path, bytes]) -> None:
    """Write every payload next to its target as a temp file, then replace all the targets.

    A failure before the first replace leaves every target as it was and no temp file behind."""
    temps: list[str] = []
    done: list[Path] = []
    current = next(iter(files), Path("."))
    for path in files:
        remove_stale_temps(path)
    try:
        for path, payload in files.items():
            current = path
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            temps.append(tmp)
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in zip(temps, files, strict=True):
            current = path
            os.replace(tmp, path)
            done.append(path)
    except (OSError, RuntimeError) as err:
        raise write_failed(err, current, done) from None
    finally:
        for tmp in temps:
            try:
                os.unlink(tmp)
            except OSError:  # already replaced into place
                pass
    for folder in {p.parent for p in files}:
        _fsync_dir(folder)


def remove_stale_temps(target: Path) -> list[Path]:
    """Delete the temp files that an export of ``target`` killed before its rename left beside
    it (``.<name>.<8 random characters>.tmp``, the ``mkstemp`` names of :func:`write_files`),
    when older than ``STALE_TEMP_S``; a fresh one may be a live writer's and stays. The project's
    own folders are cleaned by ``project_lock.remove_stale_temp_files``; an output folder
    elsewhere only here. Returns the removed paths."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = []
    try:
        candidates = list(target.parent.glob(f".{glob.escape(target.name)}.*.tmp"))
    except OSError:
        return removed
    now = time.time()
    for tmp in candidates:
        try:
            if not pattern.fullmatch(tmp.name) or not tmp.is_file():
                continue
            if now - tmp.stat().st_mtime < STALE_TEMP_S:
                continue
            tmp.unlink()
        except OSError:
            continue
        removed.append(tmp)
    return removed


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def private_strings(*extra: str | Path) -> list[bytes]:
    """Folders of this machine that no export may name a file in (``<folder>/``, UTF-8)."""
    import torch

    import mmrl_desktop

    folders = [
        Path.home(),
        Path(mmrl_desktop.__file__).resolve().parents[1],
        Path(torch.__file__).resolve().parents[1],
        Path.cwd(),
        *map(Path, extra),
    ]
    out: list[bytes] = []
    for f in folders:
        for s in {str(f), str(f.resolve())}:
            needle = (s.rstrip(os.sep) + os.sep).encode("utf-8")  # a path below that folder
            if len(Path(s).parts) >= 2 and needle not in out:
                out.append(needle)
    return out


def torchscript_bytes(traced, forbidden: list[bytes]) -> bytes:
    """``torch.jit.save`` of ``traced`` without the debug entries that name source files.

    Every other entry is copied unchanged (stored, like torch writes them) under ``model/``; an entry
    other than tensor data that still names one of ``forbidden`` makes the export refused."""
    import torch

    buf = io.BytesIO()
    with known_warnings():
        torch.jit.save(traced, buf)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            inner = info.filename.split("/", 1)[-1]
            if inner.endswith(".debug_pkl"):
                continue
            data = src.read(info)
            if not inner.startswith(("data/", ".data/")) and any(s in data for s in forbidden):
                raise UserError(
                    f"the TorchScript program names a folder of this computer ({inner}); "
                    "nothing was exported."
                )
            entry = zipfile.ZipInfo(f"{ARCHIVE_ROOT}/{inner}", date_time=_EPOCH)
            entry.compress_type = zipfile.ZIP_STORED
            dst.writestr(entry, data)
    return out.getvalue()


def onnx_without_doc_strings(payload: bytes) -> bytes:
    """The ONNX model with every doc string and metadata property (model, graphs, nodes, values)
    emptied."""
    import onnx

    model = onnx.load_from_string(payload)
    model.doc_string = ""
    del model.metadata_props[:]

    def clean(graph) -> None:
        graph.doc_string = ""
        del graph.metadata_props[:]
        for v in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
            v.doc_string = ""
            del v.metadata_props[:]
        for node in graph.node:
            node.doc_string = ""
            del node.metadata_props[:]
            for attr in node.attribute:
                attr.doc_string = ""
                if attr.HasField("g"):
                    clean(attr.g)
                for g in attr.graphs:
                    clean(g)

    clean(model.graph)
    for fn in model.functions:
        fn.doc_string = ""
        del fn.metadata_props[:]
        for node in fn.node:
            node.doc_string = ""
            del node.metadata_props[:]
    return model.SerializeToString()


def tensorboard_events(items: list[tuple[int, str, float, float]]) -> bytes:
    """(step, key, value, wall time) rows → the bytes of one TensorBoard event file (TFRecord
    framing: length, its masked CRC-32C, the serialized ``Event``, its masked CRC-32C)."""
    from tensorboardX.proto.event_pb2 import Event
    from tensorboardX.record_writer import masked_crc32c
    from tensorboardX.summary import scalar

    buf = io.BytesIO()

    def record(data: bytes) -> None:
        header = struct.pack("<Q", len(data))
        buf.write(header + struct.pack("<I", masked_crc32c(header)))
        buf.write(data + struct.pack("<I", masked_crc32c(data)))

    first = items[0][3] if items else 0.0
    record(Event(wall_time=first, file_version="brain.Event:2").SerializeToString())
    for step, key, value, ts in items:
        event = Event(wall_time=ts, step=int(step), summary=scalar(key, float(value)))
        record(event.SerializeToString())
    return buf.getvalue()


def export_tensorboard(project, out: str | Path) -> dict:
    """Write the store's training metrics as TensorBoard event logs, one folder per run.

    Each run is one file ``<run>/events.out.tfevents.<first time>.mmrl-desktop`` (no host name, no
    path; exporting again replaces it), built in memory and written with :func:`write_files`."""
    from mmrl_desktop.core.tools.export_formats import require

    require("tensorboard")  # tensorboardX: what to install, before any folder is made
    out = Path(out).expanduser()
    with project.open_store() as store:
        rows = store.metrics()
    if not rows:
        raise UserError(f"{project.root} has no training metrics yet; train or answer items first.")
    runs: dict[str, list] = {}
    for run_id, step, key, value, ts in rows:
        runs.setdefault(run_id, []).append((step, key, value, ts))
    files: dict[Path, bytes] = {}
    for run_id, items in runs.items():
        safe = re.sub(r"[^\w.\-]", "_", run_id) or "run"
        name = f"events.out.tfevents.{int(items[0][3])}.mmrl-desktop"
        files[out / safe / name] = tensorboard_events(items)
    try:
        for path in files:
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_failed(err, out) from None
    write_files(files)
    return {
        "path": str(out),
        "format": "tensorboard",
        "runs": len(runs),
        "scalars": len(rows),
        "keys": sorted({r[2] for r in rows}),
    }
