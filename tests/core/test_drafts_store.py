"""Drafts of a generate task in the feedback store: schema 4, append-only answers and edits,
undo as a retraction, excluded items left out, and the migration from an older file."""

import sqlite3

import pytest

from mmrl_desktop.core.data.drafts import NewDraft
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.store import SCHEMA_VERSION, FeedbackStore


@pytest.fixture
def store(tmp_path):
    s = FeedbackStore(tmp_path / "feedback.sqlite")
    s.add_items([Item(f"i{k}", text_inline=f"case {k}") for k in range(3)])
    yield s
    s.close()


def _draft(item="i0", text="no focal lesion", version=0):
    return NewDraft(item, "finding", "case\nFinding:", text, (5, 6, 7), -3.25, version, "fp1")


def test_drafts_are_stored_with_their_log_probability_and_policy(store):
    a, b = store.add_drafts([_draft(), _draft("i1", "8 mm nodule", version=2)])
    assert a.draft_id < b.draft_id and a.token_ids == (5, 6, 7) and a.logprob == -3.25
    back = store.draft(b.draft_id)
    assert back == b and back.policy_version == 2 and back.fingerprint == "fp1"
    assert [d.text for d in store.drafts(item_id="i1")] == ["8 mm nodule"]
    with pytest.raises(KeyError):
        store.draft(999)


def test_answers_edits_and_undo_are_append_only(store):
    d1, d2 = store.add_drafts([_draft(), _draft("i1")])
    up = store.answer_draft(d1.draft_id, +1, annotator="ann")
    edit = store.answer_draft(d2.draft_id, -1, edited_text="8 mm nodule right upper lobe")
    rows = store.all_draft_answers()
    assert [(r.kind, r.reward, r.edited_text) for r in rows] == [
        ("answer", 1, None),
        ("answer", -1, "8 mm nodule right upper lobe"),
    ]
    assert rows[1].is_edit and rows[1].draft.text == "no focal lesion"
    undo = store.retract_draft_answer(up)
    assert [r.answer_id for r in store.active_draft_answers()] == [edit]
    assert [r.kind for r in store.draft_answers_since(edit)] == ["retraction"]
    assert store.draft_answers_since(edit)[0].retracts == up and undo > edit
    with pytest.raises(ValueError):
        store.retract_draft_answer(up)
    with pytest.raises(ValueError):
        store.retract_draft_answer(undo)


def test_bad_answers_are_refused(store):
    (d,) = store.add_drafts([_draft()])
    with pytest.raises(ValueError):
        store.answer_draft(d.draft_id, 0)
    with pytest.raises(ValueError):
        store.answer_draft(d.draft_id, +1, edited_text="an edit is a thumbs-down")
    with pytest.raises(ValueError):
        store.answer_draft(d.draft_id, -1, edited_text="   ")
    with pytest.raises(KeyError):
        store.answer_draft(12345, +1)
    assert store.all_draft_answers() == []


def test_an_excluded_items_answers_are_kept_but_not_active(store):
    d1, d2 = store.add_drafts([_draft("i0"), _draft("i1")])
    store.answer_draft(d1.draft_id, +1)
    store.answer_draft(d2.draft_id, -1)
    store.exclude_items(["i0"], "bad scan")
    assert [r.draft.item_id for r in store.active_draft_answers()] == ["i1"]
    assert len(store.all_draft_answers()) == 2
    assert [r.draft.item_id for r in store.active_draft_answers(task="other")] == []


def test_an_older_database_is_migrated_and_keeps_its_answers(tmp_path):
    path = tmp_path / "feedback.sqlite"
    s = FeedbackStore(path)
    s.add_items([Item("i0", text_inline="x")])
    s.record_feedback("i0", "label", "a", 0.5, +1)
    s.close()
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE draft_answers")
    conn.execute("DROP TABLE drafts")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.commit()
    conn.close()
    s = FeedbackStore(path)
    assert s.schema_version == SCHEMA_VERSION >= 4
    assert len(s.active_feedback()) == 1
    (d,) = s.add_drafts([_draft()])
    s.answer_draft(d.draft_id, +1)
    assert len(s.active_draft_answers()) == 1
    s.close()
