"""A generate task's drafts and the answers to them as rows of the feedback JSONL (the keys are in
``core/tools/feedback_export.py``'s docstring): every draft, then every answer and retraction, each
with the event columns (null where they do not apply) and the draft's own keys."""

from __future__ import annotations

from collections.abc import Callable

from mmrl_desktop.core.data.drafts import Draft
from mmrl_desktop.core.data.store import FeedbackStore

DRAFT_KEYS = (
    "draft_id",
    "draft_answer_id",
    "draft_text",
    "draft_token_ids",
    "draft_logprob",
    "policy_version",
    "base_fingerprint",
    "candidate",
    "edited_text",
)


def _draft_row(d: Draft, blank: dict, item_id: str) -> dict:
    return {
        **blank,
        "item_id": item_id,
        "task": d.task,
        "model_version": d.policy_version,
        "draft_id": d.draft_id,
        "draft_answer_id": None,
        "draft_text": d.text,
        "draft_token_ids": list(d.token_ids),
        "draft_logprob": d.logprob,
        "policy_version": d.policy_version,
        "base_fingerprint": d.fingerprint,
        "candidate": d.candidate,
        "edited_text": None,
    }


def draft_rows(
    store: FeedbackStore, pseudonym_key: bytes | None, blank: dict, iso_utc: Callable
) -> list[dict]:
    """The rows (``blank``: every event column set to None; ``iso_utc``: the log's time format);
    item ids as pseudonyms with ``pseudonym_key``."""
    from mmrl_desktop.core.data.pseudonyms import pseudonym

    def item(item_id: str) -> str:
        return item_id if pseudonym_key is None else pseudonym(pseudonym_key, item_id)

    rows = []
    for d in store.drafts():
        row = _draft_row(d, blank, item(d.item_id))
        row.update(kind="draft", timestamp=iso_utc(d.created_at), timestamp_unix=d.created_at)
        row.update(annotator="", retracted=False)
        rows.append(row)
    answers = store.all_draft_answers()
    retracted_by = {a.retracts: a.answer_id for a in answers if a.kind == "retraction"}
    for a in answers:
        row = _draft_row(a.draft, blank, item(a.draft.item_id))
        row.update(
            kind="draft_answer" if a.kind == "answer" else "draft_retraction",
            reward=a.reward,
            annotator=a.annotator,
            timestamp=iso_utc(a.timestamp),
            timestamp_unix=a.timestamp,
            retracted=a.answer_id in retracted_by,
            retracted_by=retracted_by.get(a.answer_id),
            retracts=a.retracts,
            draft_answer_id=a.answer_id,
            edited_text=a.edited_text,
        )
        rows.append(row)
    return rows
