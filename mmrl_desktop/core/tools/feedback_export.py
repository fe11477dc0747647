"""Export the feedback log (the audit trail) as JSONL or CSV.

One row per event of the append-only log, in event order: answers (``kind = feedback``), skips
(``kind = skip``) and retractions themselves (``kind = retraction``, ``retracts`` = the withdrawn
event's id). An answer or skip that a later retraction withdrew has ``retracted = true`` and
``retracted_by`` = that retraction's id; nothing is dropped, so the file is the full history.

Columns (both formats, in this order) — see ``COLUMNS``:
``event_id, kind, item_id, task, shown_label, propensity, reward, corrected_label, annotator,
timestamp, timestamp_unix, model_version, retracted, retracted_by, retracts, selection_probability,
selection_pool, selection_order``.
``timestamp`` is ISO 8601 in UTC with milliseconds (``2024-05-01T09:30:12.345Z``);
``timestamp_unix`` the raw epoch seconds. ``reward`` is +1 (thumbs up) / −1 (thumbs down).
``selection_*`` say how the answered item was chosen (ADR 0013): with probability
``selection_probability`` among ``selection_pool`` unanswered items, by the order
``selection_order`` (``shuffle``: the queue order, probability 1/pool; ``uncertain``, ``diverse``,
``likely-positive``: the trainer's pick). Empty (null) when unknown: answers written before schema 3,
an item the expert opened from the list, a second answer in review, and skips and retractions.

A project with a ``generate`` task: the JSONL (not the CSV, whose columns stay) also has, after the
events, one row per draft (``kind = draft``) and per answer to a draft (``draft_answer``, and
``draft_retraction`` for an undo), with the columns above (null where they do not apply;
``model_version`` is the policy version) and these keys: ``draft_id, draft_answer_id, draft_text,
draft_token_ids, draft_logprob, policy_version, base_fingerprint, candidate, edited_text``
(``core/tools/drafts_export.py``). An edit is a ``draft_answer`` with ``reward = -1`` and the
expert's ``edited_text``. The prompt (the item's own text) is not written.

No patient identifiers: items appear by their import id only (``<label>/<stem>`` for a folder of
classes, the manifest's ``id``); no file paths and no DICOM tags are written. In CSV an empty cell
is a missing value and booleans are ``true``/``false``; in JSONL they are ``null`` and JSON booleans.

Spreadsheets run a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as
a formula (``=HYPERLINK(...)`` in a manifest id would be a live link): in CSV such a text cell is
written with a leading ``'`` (the OWASP rule), so it shows as text; numbers are written as they are
and JSONL always keeps the raw values.

With ``pseudonym_key`` (``export --pseudonymize``) every ``item_id`` is replaced by its pseudonym
(``mmrl_desktop.core.data.pseudonyms``), in both formats.

Files are written atomically (temp file + ``os.replace``): a crash leaves the old file or the new,
and a write that fails (disk full, read-only folder) leaves no temp file and raises one sentence.
"""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from mmrl_desktop.core.data.store import FeedbackEvent, FeedbackStore
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tools.export_io import write_files

COLUMNS = (
    "event_id",
    "kind",
    "item_id",
    "task",
    "shown_label",
    "propensity",
    "reward",
    "corrected_label",
    "annotator",
    "timestamp",
    "timestamp_unix",
    "model_version",
    "retracted",
    "retracted_by",
    "retracts",
    "selection_probability",
    "selection_pool",
    "selection_order",
)

FORMATS = {"feedback-jsonl": "jsonl", "feedback-csv": "csv", "jsonl": "jsonl", "csv": "csv"}


def iso_utc(ts: float) -> str:
    dt = datetime.fromtimestamp(ts, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def feedback_rows(store: FeedbackStore, pseudonym_key: bytes | None = None) -> list[dict]:
    """Every event as a dict with exactly the keys of ``COLUMNS`` (JSON types); with
    ``pseudonym_key`` the item ids are pseudonyms."""
    from mmrl_desktop.core.data.pseudonyms import pseudonym

    events: list[FeedbackEvent] = list(store.all_events())
    retracted_by = {e.retracts: e.event_id for e in events if e.kind == "retraction"}
    rows = []
    for e in events:
        rows.append(
            {
                "event_id": e.event_id,
                "kind": e.kind,
                "item_id": e.item_id
                if pseudonym_key is None
                else pseudonym(pseudonym_key, e.item_id),
                "task": e.task,
                "shown_label": e.shown_label,
                "propensity": e.propensity,
                "reward": e.reward,
                "corrected_label": e.corrected_label,
                "annotator": e.annotator,
                "timestamp": iso_utc(e.timestamp),
                "timestamp_unix": e.timestamp,
                "model_version": e.model_version,
                "retracted": e.event_id in retracted_by,
                "retracted_by": retracted_by.get(e.event_id),
                "retracts": e.retracts,
                "selection_probability": e.selection_probability,
                "selection_pool": e.selection_pool,
                "selection_order": e.selection_order,
            }
        )
    return rows


def to_jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # shortest text that reads back as the same float
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text  # not a spreadsheet formula


def to_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _cell(r[k]) for k in COLUMNS})
    return buf.getvalue().encode("utf-8")


def export_feedback(
    store: FeedbackStore, out: str | Path, fmt: str, pseudonym_key: bytes | None = None
) -> dict:
    """Write the feedback log to ``out`` (a file, or a folder → ``feedback.<ext>`` inside); with
    ``pseudonym_key`` the item ids are pseudonyms.

    Returns ``{"path": ..., "format": ..., "rows": N, "feedback": n, "skips": n,
    "retractions": n, "retracted": n}``.
    """
    kind = FORMATS.get(fmt)
    if kind is None:
        raise UserError(f"unknown feedback format {fmt!r}; use feedback-csv or feedback-jsonl.")
    out = output_path(out, f"feedback.{kind}")
    rows = feedback_rows(store, pseudonym_key)
    if kind == "jsonl":  # a generate task's drafts and answers: JSONL only, after the events
        from mmrl_desktop.core.tools.drafts_export import draft_rows

        rows += draft_rows(store, pseudonym_key, dict.fromkeys(COLUMNS), iso_utc)
    payload = to_jsonl(rows) if kind == "jsonl" else to_csv(rows)
    write_files({out: payload})
    summary = {
        "path": str(out),
        "format": f"feedback-{kind}",
        "rows": len(rows),
        "feedback": sum(r["kind"] == "feedback" for r in rows),
        "skips": sum(r["kind"] == "skip" for r in rows),
        "retractions": sum(r["kind"] == "retraction" for r in rows),
        "retracted": sum(bool(r["retracted"]) for r in rows),
        "drafts": sum(r["kind"] == "draft" for r in rows),
        "draft_answers": sum(r["kind"] == "draft_answer" for r in rows),
        "pseudonymized": pseudonym_key is not None,
    }
    try:
        store.audit("export", what=summary["format"], path=str(out), rows=len(rows))
    except Exception:  # a read-only database still gets its export
        pass
    return summary


def output_path(out: str | Path, default_name: str) -> Path:
    """Where an export goes. A folder gets ``default_name`` inside it: an existing folder, a path
    ending with a separator, or a path without a suffix (``exports/today``); a path with a suffix
    (``exports/mine.onnx``) is the file itself. The folder is created, parents too. Shared by
    every export."""
    raw = str(out)
    path = Path(raw).expanduser()
    if path.is_dir() or raw.endswith(("/", os.sep)) or not path.suffix:
        if path.exists() and not path.is_dir():
            raise UserError(
                f"{path} is a file, not a folder; give a file name with a suffix "
                f"(such as {default_name}) or a folder."
            )
        path = path / default_name
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the folder {path.parent}: {err.strerror or err}.") from None
    return path
