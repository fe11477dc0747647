"""Scanning an items.csv / items.jsonl manifest into a ``Scan`` (``core.data.importer`` re-exports
``scan_manifest``): each row's paths checked (relative, inside the manifest's folder, no loops),
its media typed (a series folder or NIfTI is a volume), duplicate ids and bad splits skipped."""

from __future__ import annotations

import errno
import os
from pathlib import PureWindowsPath

from mmrl_desktop.core.data.holdout import split_of_cell
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders import has_dicom_preamble, regular_file_reason
from mmrl_desktop.core.data.manifest import MEDIA, read_manifest
from mmrl_desktop.core.data.scan_common import Scan, _check_slots, _Checker, _inside, _unique
from mmrl_desktop.core.data.volumes import scan as volumes
from mmrl_desktop.core.tasks import TaskState


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


CELLS = ("id", "label", "split", "image", "audio", "text")


def _not_a_cell(row: dict) -> str | None:
    """Why a JSONL row's value cannot be a cell (a list, an object, true/false: their Python
    text became a label such as "['a', 'b']"), or None. Numbers are fine: an id 17 is "17"."""
    for key in CELLS:
        value = row.get(key)
        if isinstance(value, (bool, list, dict)):
            kind = "true/false" if isinstance(value, bool) else type(value).__name__
            return f"{key} is a {kind}, not text or a number"
    return None


def _manifest_path(cell: str, base: str) -> tuple[str | None, str | None]:
    """(real path, None) for a manifest cell that names a file inside ``base``; else the reason."""
    if os.path.isabs(cell) or PureWindowsPath(cell).is_absolute() or cell.startswith(("/", "\\")):
        return (
            None,
            "absolute paths are not allowed in a manifest (write them relative to its folder)",
        )
    norm = os.path.normpath(cell.replace("\\", "/"))
    if norm == ".." or norm.startswith(".." + os.sep) or PureWindowsPath(cell).drive:
        return None, "path leaves the manifest's folder ('..' is not allowed)"
    full = os.path.join(base, norm)
    real = os.path.realpath(full)
    if not _inside(base, real):
        if os.path.islink(full) or os.path.lexists(full):
            return None, "path leads outside the manifest's folder through a symbolic link"
        return None, "path leaves the manifest's folder"
    if not os.path.exists(real):
        try:
            os.stat(full)
        except OSError as err:
            if err.errno == errno.ELOOP:
                return None, "symbolic link loops (it leads back to itself)"
        return None, "file not found"
    if os.path.isdir(real):
        return real, None  # a series folder (an ``image``), else refused by ``_row_media``
    not_regular = regular_file_reason(real)  # never open a FIFO, socket or device
    if not_regular:
        return None, not_regular
    return real, None


def _is_text_path(text: str) -> bool:
    return "\n" not in text and len(text) < 1024 and text.lower().endswith(".txt")


def _row_media(row: dict, base: str, scan: Scan) -> tuple[dict, str | None, bool]:
    """A manifest row's files (slot → (real path, kind, path as written)), its inline text, and
    whether it names no media at all; a path that cannot be used is skipped into ``scan``."""
    files: dict[str, tuple[str, str, str]] = {}
    inline = None
    empty = True
    for slot in MEDIA:
        value = _cell(row.get(slot))
        if not value:
            continue
        empty = False
        if slot == "text" and not _is_text_path(value):
            inline = str(row.get(slot))
            continue
        real, reason = _manifest_path(value, base)
        if reason:
            scan.skip(value.replace("\\", "/"), reason)
            continue
        kind = slot
        if os.path.isdir(real) and slot != "image":
            scan.skip(value.replace("\\", "/"), "is a folder, not a file")
            continue
        if slot == "image" and (os.path.isdir(real) or volumes.is_nifti_name(real)):
            kind = "volume"
        elif slot == "image" and (value.lower().endswith(".dcm") or has_dicom_preamble(real)):
            kind = "dicom"
        files[slot] = (real, kind, value.replace("\\", "/"))
    return files, inline, empty


def scan_manifest(manifest: str, state: TaskState | None = None) -> Scan:
    scan = Scan(source=manifest, layout="manifest")
    name = os.path.basename(manifest)
    base = os.path.realpath(os.path.dirname(os.path.abspath(manifest)))
    seen: dict[str, int] = {}
    splits: dict[str, str] = {}
    rows: list[tuple[str, str | None, str | None, dict[str, tuple[str, str, str]]]] = []
    for line, row in read_manifest(manifest):
        where = f"{name}:{line}"
        if isinstance(row, str):
            scan.skip(where, row)
            continue
        odd = _not_a_cell(row)
        if odd:
            scan.skip(where, odd)
            continue
        item_id = _cell(row.get("id"))
        if not item_id:
            scan.skip(where, "row has no id")
            continue
        if item_id in seen:
            scan.skip(where, f"duplicate id {item_id!r}: the row on line {seen[item_id]} was kept")
            continue
        split = split_of_cell(_cell(row.get("split")))
        if split is None:
            scan.skip(where, f"split {_cell(row.get('split'))!r} is neither pool nor holdout")
            continue
        seen[item_id] = line
        splits[item_id] = split
        label = _cell(row.get("label")) or None
        files, inline, empty = _row_media(row, base, scan)
        if empty:
            scan.skip(where, "row has no image, audio or text")
            continue
        rows.append((item_id, label, inline, files))
    scan.files_seen = sum(len(f) for *_, f in rows)
    check = _Checker(state, _unique(f for *_, f in rows))
    check.root = base
    for item_id, label, inline, slots in rows:
        files, info = _check_slots(check, slots, scan, base)
        if files or inline is not None:
            scan.items.append((Item(item_id, text_inline=inline, info=info, **files), label))
    volumes.promote_multiframe(scan.items)
    if any(splits.values()):  # the manifest names a split: it decides (an empty cell = pool)
        scan.splits = {i: s or "pool" for i, s in splits.items()}
    return scan
