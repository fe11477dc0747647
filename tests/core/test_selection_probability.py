"""How each answered item was chosen (issue 19, schema 3): stored with the answer, migrated from
schema 2, written by the session, exported."""

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.schema import MIGRATIONS, SCHEMA_VERSION
from mmrl_desktop.core.data.store import FeedbackStore, Selection
from mmrl_desktop.core.labelling.session import LabelingSession
from mmrl_desktop.core.learning.next_item import Candidates, choose
from mmrl_desktop.core.tools.feedback_export import COLUMNS, export_feedback, feedback_rows


def _schema_2_file(path):
    """A feedback database as schema 2 wrote it, with one answer."""
    conn = sqlite3.connect(path)
    for version in (1, 2):
        for sql in MIGRATIONS[version]:
            conn.execute(sql)
    conn.execute("INSERT INTO items (item_id, added_at) VALUES ('old', 0)")
    conn.execute(
        "INSERT INTO events (kind, item_id, task, shown_label, propensity, reward, timestamp) "
        "VALUES ('feedback', 'old', 't', 'a', 0.5, 1, 1.0)"
    )
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()


def test_a_schema_2_store_is_migrated_and_its_answers_have_no_selection(tmp_path):
    path = tmp_path / "feedback.sqlite"
    _schema_2_file(path)
    with FeedbackStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION >= 3
        (old,) = store.active_feedback()
        assert (old.selection_probability, old.selection_pool, old.selection_order) == (
            None,
            None,
            None,
        )
        store.record_feedback("old", "t", "a", 0.5, -1, selection=Selection(0.2, 40, "uncertain"))
        new = store.active_feedback()[-1]
        assert (new.selection_probability, new.selection_pool, new.selection_order) == (
            0.2,
            40,
            "uncertain",
        )
    with FeedbackStore(path) as again:  # reopening migrates nothing twice
        assert again.schema_version == SCHEMA_VERSION and len(again.active_feedback()) == 2


def test_a_selection_outside_its_range_is_refused(tmp_path):
    with pytest.raises(ValueError):
        Selection(0.0, 5, "uncertain")
    with pytest.raises(ValueError):
        Selection(0.5, 0, "uncertain")
    with FeedbackStore(tmp_path / "f.sqlite") as store, pytest.raises(sqlite3.IntegrityError):
        store._conn.execute(
            "INSERT INTO events (kind, item_id, task, timestamp, selection_probability) "
            "VALUES ('feedback', 'x', 't', 1.0, 1.5)"
        )


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["cat", "dog"])])
    with p.open_store() as s:
        s.add_items([Item(f"i{k}", image=f"/x/{k}.png", labels={"label": "cat"}) for k in range(6)])
        s.set_split(["i5"], "holdout")
    return p


# The queue order (tests/core/test_session.py): i2, i3, i4, i0, i1.
def _selections(store):
    return [
        (e.item_id, e.selection_probability, e.selection_pool, e.selection_order)
        for e in store.active_feedback()
    ]


def test_the_session_stores_how_each_answered_item_was_chosen(project):
    s = LabelingSession(project, project.open_store(), annotator="dr_a", seed=0)
    s.answer(+1)  # i2: the queue order, 1 of 5 unanswered
    s.set_next_items(["i0", "i1"], (0.9, 0.025), "uncertain", (4, 3))
    s.answer(+1)  # i3: it was on screen when the choice came (the queue order, 1 of 4)
    s.answer(-1)  # i0: the trainer's pick
    s.go_to("i4")
    s.answer(+1)  # the expert opened i4 instead of the next pick: unknown
    s.answer(+1)  # i1: the trainer's uniform pick
    s.go_to("i2")
    s.answer(+1)  # review: a second answer, unknown
    assert _selections(s.store) == [
        ("i2", 1 / 5, 5, "shuffle"),
        ("i3", 1 / 4, 4, "shuffle"),
        ("i0", 0.9, 4, "uncertain"),
        ("i4", None, None, None),
        ("i1", 0.025, 3, "uncertain"),
        ("i2", None, None, None),
    ]


def test_undo_keeps_how_the_item_was_chosen_and_no_pool_sizes_means_unknown(project):
    s = LabelingSession(project, project.open_store(), annotator="dr_a", seed=0)
    s.set_next_items(["i3", "i4"], (0.0, 0.9), "uncertain", (4, 0))  # out of range: unknown
    assert s._next_selection == {}
    s.set_next_items(["i4"], (0.9,), "uncertain")  # an older trainer: no pool sizes
    s.answer(+1)  # i2
    s.answer(+1)  # i4: picked, selection unknown
    s.undo()
    s.undo()
    s.answer(-1)  # i2 again, as first chosen
    assert _selections(s.store)[-1] == ("i2", 1 / 5, 5, "shuffle")
    assert _selections(s.store)[0] == ("i2", 1 / 5, 5, "shuffle")


def test_each_pick_says_among_how_many_unanswered_items_it_was_chosen():
    cands = Candidates(["a", "b", "c", "d"], np.full((4, 2), 0.5), labels=("x", "y"))
    rng = np.random.default_rng(0)
    assert [p.pool for p in choose("uncertain", cands, 3, rng)] == [4, 3, 2]
    assert [(p.pool, p.propensity) for p in choose("shuffle", cands, 2, rng)] == [
        (4, 0.25),
        (3, 1 / 3),
    ]


def test_the_feedback_export_has_the_selection_keys(project, tmp_path):
    with project.open_store() as store:
        store.record_feedback("i0", "label", "cat", 0.5, 1, selection=Selection(0.25, 4, "diverse"))
        store.record_feedback("i1", "label", "cat", 0.5, 1)
        rows = feedback_rows(store)
        assert COLUMNS[-3:] == ("selection_probability", "selection_pool", "selection_order")
        assert [(r["selection_probability"], r["selection_order"]) for r in rows] == [
            (0.25, "diverse"),
            (None, None),
        ]
        out = export_feedback(store, tmp_path / "f.jsonl", "feedback-jsonl")
    first = json.loads(Path(out["path"]).read_text().splitlines()[0])
    assert first["selection_pool"] == 4 and first["propensity"] == 0.5
