"""FeedbackStore: schema, append-only events, retractions, threads, checkpoints and metrics."""

import sqlite3
import threading

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.store import SCHEMA_VERSION, FeedbackStore, Prediction
from mmrl_desktop.core.errors import ProjectError


@pytest.fixture
def store(tmp_path):
    s = FeedbackStore(tmp_path / "feedback.sqlite")
    s.add_items([Item(f"i{k}", image=f"/x/{k}.png", labels={"label": "a"}) for k in range(5)])
    yield s
    s.close()


def test_pragmas_and_schema(store):
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.schema_version == SCHEMA_VERSION


def test_items_round_trip_and_no_duplicates(store):
    assert store.item_count() == 5
    assert store.add_items([Item("i0", image="/other.png")]) == 0  # existing id kept
    it = store.item("i0")
    assert it.image == "/x/0.png" and it.labels == {"label": "a"} and it.split == "pool"
    store.set_split(["i1", "i2"], "holdout")
    assert [i.item_id for i in store.items(split="holdout")] == ["i1", "i2"]
    with pytest.raises(KeyError):
        store.item("missing")


def test_feedback_is_append_only_and_undo_is_a_retraction(store):
    e1 = store.record_feedback("i0", "label", "a", 0.8, +1, annotator="ann", model_version=3)
    e2 = store.record_feedback("i1", "label", "b", 0.4, -1, corrected_label="a")
    r = store.retract(e1, annotator="ann")
    events = store.events_since(0)
    assert [e.kind for e in events] == ["feedback", "feedback", "retraction"]
    assert events[2].retracts == e1 and events[0].model_version == 3
    assert [e.event_id for e in store.active_feedback()] == [e2]
    assert store.retracted_ids() == {e1}
    assert [e.event_id for e in store.events_since(e2)] == [r]
    with pytest.raises(ValueError):
        store.retract(e1)
    with pytest.raises(ValueError):
        store.retract(r)
    assert store.answered_item_ids() == {"i1"}


def test_bad_feedback_values_are_refused(store):
    with pytest.raises(ValueError):
        store.record_feedback("i0", "label", "a", 0.5, 0)
    with pytest.raises(ValueError):
        store.record_feedback("i0", "label", "a", 0.0, 1)
    assert store.last_event_id() == 0


def test_skip_is_recorded_but_not_feedback(store):
    store.record_skip("i3", "label")
    assert store.active_feedback() == []
    assert store.answered_item_ids() == {"i3"}


def test_one_connection_per_thread(store, tmp_path):
    errors, ids = [], []

    def worker():
        try:
            store.item_count()  # the main thread's connection: refused
        except sqlite3.ProgrammingError as err:
            errors.append(err)
        own = FeedbackStore(tmp_path / "feedback.sqlite")
        ids.append(own.record_feedback("i2", "label", "a", 1.0, 1))
        own.close()

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert errors and ids
    assert [e.event_id for e in store.active_feedback()] == ids


def test_predictions_checkpoints_metrics_audit(store):
    store.put_predictions([Prediction("i0", "label", 2, "a", 0.7, {"a": 0.7, "b": 0.3})])
    p = store.predictions("i0")["label"]
    assert p.top(1) == [("a", 0.7)] and p.model_version == 2
    cid = store.add_checkpoint("checkpoints/c1.safetensors", 10, 2, 5, {"eval/accuracy": 0.5})
    assert store.checkpoints()[0].metrics == {"eval/accuracy": 0.5}
    store.remove_checkpoint(cid)
    assert store.checkpoints() == []
    store.add_metrics("run1", 4, {"loss/total": 1.5, "reward/thumbs_up_ma": 0.25})
    assert [r[2:4] for r in store.metrics()] == [("loss/total", 1.5), ("reward/thumbs_up_ma", 0.25)]
    store.audit("rollback", to_checkpoint=cid)
    assert store.audit_log()[0][1:] == ("rollback", {"to_checkpoint": cid})


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "feedback.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(ProjectError, match="newer"):
        FeedbackStore(path)


def test_garbage_database_is_a_clear_error(tmp_path):
    path = tmp_path / "feedback.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ProjectError, match="not a readable feedback database"):
        FeedbackStore(path)


def test_a_run_id_is_one_type_a_str(tmp_path):
    """The metrics table's run_id is TEXT: an int run id went in as 1 and came back as '1'.
    One type (RunId = str, made by new_run_id) for the trainer, its metrics and the GUI."""
    from mmrl_desktop.core.data.store import new_run_id

    store = FeedbackStore(tmp_path / "f.sqlite")
    with pytest.raises(TypeError, match="run id is a str"):
        store.add_metrics(1, 4, {"loss/total": 1.5})
    rid = new_run_id(2, now=0.0)
    assert rid.startswith("run-19") and rid.endswith("-2")
    assert new_run_id(now=0.0) == rid[: -len("-2")]
    store.add_metrics(rid, 4, {"loss/total": 1.5})
    assert store.metrics()[0][0] == rid
    store.close()
