"""Reading an items.csv / items.jsonl manifest into rows (``core.data.importer`` checks the rows).

A manifest larger than ``MAX_MANIFEST_BYTES`` is refused before it is read: its rows are held in
memory while they are checked (about 12 bytes of memory per byte of CSV), and no project of this
size needs more than a million rows in one file.
"""

from __future__ import annotations

import csv
import json
import os

from mmrl_desktop.core.data.loaders import regular_file_reason
from mmrl_desktop.core.errors import UserError

MEDIA = ("image", "audio", "text")
MAX_MANIFEST_BYTES = 64_000_000


def read_manifest(path: str) -> list[tuple[int, dict | str]]:
    """(line number, row dict or the reason the row is unreadable) for items.csv / items.jsonl."""
    name = os.path.basename(path)
    reason = regular_file_reason(path)
    if reason:
        raise UserError(f"{name} cannot be read: {reason}.")
    size = os.path.getsize(path)
    if size > MAX_MANIFEST_BYTES:
        raise UserError(
            f"{name} is too large ({size / 1e6:.0f} MB; the limit is "
            f"{MAX_MANIFEST_BYTES / 1e6:.0f} MB, about a million short rows): split it into several "
            "manifests and import them one by one."
        )
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            if path.lower().endswith(".jsonl"):
                return [(n, _json_row(line)) for n, line in enumerate(fh, 1) if line.strip()]
            reader = csv.DictReader(fh)
            header = [str(h or "").strip().lower() for h in (reader.fieldnames or [])]
            _check_header(name, header)
            reader.fieldnames = header
            rows = []
            for row in reader:
                rows.append((reader.line_num, {k: v for k, v in row.items() if k}))
            return rows
    except UnicodeDecodeError:
        raise UserError(f"{name} is not UTF-8 text; save the manifest as UTF-8.") from None
    except csv.Error as err:
        raise UserError(f"{name} is not a readable CSV file ({err}).") from None
    except OSError as err:
        raise UserError(f"{name} cannot be read ({err.strerror or err}).") from None


def _check_header(name: str, header: list[str]) -> None:
    if "id" not in header:
        raise UserError(
            f"{name} has no 'id' column; the columns are id, image, audio, text, label."
        )
    if not any(m in header for m in MEDIA):
        raise UserError(f"{name} has no image, audio or text column.")


def _json_row(line: str) -> dict | str:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return "line is not valid JSON"
    if not isinstance(row, dict):
        return "line is not a JSON object with id, image, audio, text, label"
    return {str(k).strip().lower(): v for k, v in row.items()}
