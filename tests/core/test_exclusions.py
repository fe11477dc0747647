"""Excluding items (core/data/exclusions.py): the append-only record, and that an excluded item is left
out of the queue, training and evaluation; and that an item whose file breaks after import is left
out and named while training and evaluation go on with the others."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project, Task
from mmrl_desktop.core.data.store import MIGRATIONS, FeedbackStore
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.labelling.session import ItemStatus, LabelingSession
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, make_pngs


def png_project(tmp_path) -> Project:
    """16 small PNGs of two classes (a quarter held out): quicker than the digits fixture."""
    src = make_pngs(tmp_path / "src", per_class=8)
    items = [
        Item(f"{d.name}/{f.stem}", image=str(f), labels={DEFAULT_TASK: d.name})
        for d in sorted(src.iterdir())
        for f in sorted(d.iterdir())
    ]
    project = Project.create(
        tmp_path / "project",
        tasks=[Task(DEFAULT_TASK, ["dark", "light"])],
        algorithm={"batch_size": 8, "updates_per_event": 2, "eval_every": 0},
        model={"embed_dim": 16},
    )
    with project.open_store() as store:
        store.add_items(items)
        store.set_split([it.item_id for it in items[::4]], "holdout")
    return project


def _store(tmp_path, n: int = 6) -> FeedbackStore:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.add_items([Item(f"i{k}", text_inline=f"text {k}", labels={"t": "a"}) for k in range(n)])
    return store


def test_exclude_include_round_trip_is_append_only(tmp_path):
    store = _store(tmp_path)
    assert store.exclude_items(["i1", "i2"], reason="broken file", annotator="ann") == ["i1", "i2"]
    assert store.exclude_items(["i2"]) == []  # already excluded: nothing written
    assert store.excluded_ids() == {"i1", "i2"}
    [first, second] = store.exclusions()
    assert (first.item_id, first.reason, first.annotator) == ("i1", "broken file", "ann")
    assert first.timestamp > 0 and second.item_id == "i2"
    assert [it.item_id for it in store.items()] == ["i0", "i3", "i4", "i5"]
    assert len(store.items(with_excluded=True)) == store.item_count() == 6
    mark = store.exclusions_mark()
    assert store.include_items(["i1", "i3"], annotator="ann") == ["i1"]  # i3 was not excluded
    assert store.exclusions_mark() > mark
    assert store.excluded_ids() == {"i2"}
    assert "i1" in [it.item_id for it in store.items()]
    rows = store._conn.execute("SELECT item_id, excluded FROM exclusions ORDER BY id").fetchall()
    assert rows == [("i1", 1), ("i2", 1), ("i1", 0)]  # nothing deleted: undo is a row
    with pytest.raises(UserError, match="no item 'nope'"):
        store.exclude_items(["i0", "nope"])
    assert "i0" not in store.excluded_ids()  # an unknown id writes nothing
    store.close()


def test_a_schema_1_database_is_migrated(tmp_path):
    path = tmp_path / "feedback.sqlite"
    conn = sqlite3.connect(path)
    for sql in MIGRATIONS[1]:
        conn.execute(sql)
    conn.execute("INSERT INTO items (item_id, added_at) VALUES ('old', 0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with FeedbackStore(path) as store:
        assert store.schema_version >= 2
        assert store.exclude_items(["old"]) == ["old"] and store.items() == []


def test_excluded_answers_stay_in_the_log_but_are_not_used(tmp_path):
    store = _store(tmp_path)
    store.record_feedback("i0", "t", "a", 0.5, 1)
    store.record_feedback("i1", "t", "a", 0.5, -1)
    store.exclude_items(["i1"])
    assert [e.item_id for e in store.active_feedback()] == ["i0"]
    assert [e.item_id for e in store.all_events()] == ["i0", "i1"]
    store.close()


def test_session_exclude_moves_on_and_undo_brings_it_back(tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    with project.open_store() as store:
        store.add_items(
            [Item(f"i{k}", text_inline=f"case {k}", labels={"label": "a"}) for k in range(12)]
        )
    store = project.open_store()
    session = LabelingSession(project, store, annotator="ann", seed=0)
    total = len(session.items)
    session.answer(+1)
    bad = session.current_item().item_id
    after = session.items[session.current + 1].item_id
    action = session.exclude("unreadable")
    assert action.excluded and session.current_item().item_id == after
    assert bad not in session._index and bad not in session.status
    assert session.progress() == (1, total - 1)
    assert all(session._index[it.item_id] == k for k, it in enumerate(session.items))
    assert store.excluded_ids() == {bad}
    # a restart does not show it
    again = LabelingSession(project, project.open_store(), seed=0)
    assert bad not in [it.item_id for it in again.items] and len(again.items) == total - 1
    again.store.close()
    assert session.undo() is action
    assert session.current_item().item_id == bad and session.status[bad] == ItemStatus.NEW
    assert session.progress() == (1, total)
    assert all(session._index[it.item_id] == k for k, it in enumerate(session.items))
    assert store.excluded_ids() == set()
    assert session.undo() is not None and session.progress() == (0, total)  # then the answer
    store.close()


def test_trainer_leaves_out_excluded_items_also_while_running(tmp_path):
    project = png_project(tmp_path)
    answer(project, 8)
    with project.open_store() as store:
        pool = [it.item_id for it in store.items("pool")]
        held = store.items("holdout")[0].item_id
        store.exclude_items([pool[0], held])
    trainer = Trainer(project, device="cpu", checkpoints=False)
    trainer.train_pending()
    assert len(trainer.buffer) == 7  # answers 0..7 are on pool items 0..7
    assert pool[0] not in trainer.pool_ids and held not in trainer.holdout_ids
    assert {r.item_id for r in trainer.buffer.rows}.isdisjoint({pool[0]})
    with project.open_store() as store:  # excluded while the trainer runs (the GUI's case)
        store.exclude_items([pool[1]])
        store.include_items([pool[0], held])
    trainer.step()
    assert len(trainer.buffer) == 7 and pool[1] not in {r.item_id for r in trainer.buffer.rows}
    assert pool[0] in {r.item_id for r in trainer.buffer.rows}
    assert held in trainer.holdout_ids and pool[1] not in trainer.pool_ids
    trainer.close()


def _break(path: str, how: str) -> None:
    if how == "deleted":
        Path(path).unlink()
    else:
        Path(path).write_bytes(b"\x89PNG\r\n\x1a\n" + b"not a png" * 10)


def test_an_item_broken_after_import_is_left_out_and_named(tmp_path):
    """Training and evaluation go on with the other items and name the bad ones (the old code
    trained on an all-masked input without a word and counted it in the hold-out figures)."""
    from mmrl_desktop.core.evaluation.evaluate import evaluate_project

    project = png_project(tmp_path)
    answer(project, 8)
    with project.open_store() as store:
        pool = store.items("pool")
        holdout = store.items("holdout")
    _break(pool[0].image, "deleted")  # answered
    _break(holdout[0].image, "corrupted")
    trainer = Trainer(project, device="cpu", checkpoints=False)
    metrics = trainer.train_pending()
    assert trainer.updates > 0 and metrics["data/unreadable_items"] >= 1
    assert pool[0].item_id in trainer.featurizer.unreadable
    assert "file cannot be read" in trainer.featurizer.unreadable[pool[0].item_id]
    trainer.step()
    assert pool[0].item_id not in {r.item_id for r in trainer.buffer.rows}
    trainer.close()
    result = evaluate_project(project)
    named = {b["item_id"] for b in result["unreadable_items"]}
    assert {pool[0].item_id, holdout[0].item_id} <= named
    assert result["tasks"]["label"]["holdout_items"] == len(holdout) - 1
    with project.open_store() as store:  # set aside for good, nothing is unreadable any more
        store.exclude_items(named)
    assert evaluate_project(project)["unreadable_items"] == []


def test_cli_exclude_list_include(tmp_path, capsys):
    import json

    from mmrl_desktop.cli import main

    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    with project.open_store() as store:
        store.add_items([Item(f"i{k}", text_inline="x", labels={"label": "a"}) for k in range(3)])
    root = str(project.root)
    args = ["exclude", "--project", root, "i1", "i2", "--reason", "scanner fault", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["excluded"] == ["i1", "i2"] and out["reason"] == "scanner fault"
    assert main(["exclude", "--project", root, "i1"]) == 0
    assert "already excluded: i1" in capsys.readouterr().out
    assert main(["exclude", "--project", root, "--list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["exclusions"]
    assert [r["item_id"] for r in listed] == ["i1", "i2"]
    assert listed[0]["reason"] == "scanner fault" and listed[0]["excluded_at"].endswith("Z")
    assert main(["include", "--project", root, "i1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["included"] == ["i1"]
    assert main(["exclude", "--project", root, "--list"]) == 0
    assert capsys.readouterr().out.startswith("i2\t")
    # an unknown id: one sentence, exit 2, nothing written
    assert main(["exclude", "--project", root, "i0", "ghost"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no item 'ghost'" in err
    assert main(["exclude", "--project", root]) == 2
    assert "name at least one item id" in capsys.readouterr().err
    with project.open_store() as store:
        assert store.excluded_ids() == {"i2"}


def test_cli_simulate_names_an_unreadable_item_and_goes_on(tmp_path, capsys):
    from mmrl_desktop.cli import main

    project = png_project(tmp_path)
    with project.open_store() as store:
        bad = store.items("pool")[0]
    Path(bad.image).write_bytes(b"")  # emptied after import
    root = str(project.root)
    assert main(["simulate", "--project", root, "--clicks", "12", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("ack ") == 12
    assert f"warning: left out {bad.item_id}: image:" in captured.err
    assert f"mmrl-desktop exclude --project {root} {bad.item_id}" in captured.err


def test_session_include_puts_items_back_with_their_status(tmp_path):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    with project.open_store() as store:
        store.add_items([Item(f"i{k}", text_inline="x", labels={"label": "a"}) for k in range(5)])
    store = project.open_store()
    session = LabelingSession(project, store, annotator="ann", seed=0)
    answered = session.current_item().item_id
    session.answer(+1)
    other = next(it.item_id for it in session.items if it.item_id != answered)
    store.exclude_items([answered, other])
    again = LabelingSession(project, store, annotator="ann", seed=0)
    assert len(again.items) == 3
    back = again.include([answered, "i0", "i1", "i2", "i3", "i4"])
    assert len(back) == 2 and answered in back  # the others were not excluded
    assert len(again.items) == 5 and again.status[answered] == ItemStatus.UP
    assert again.progress() == (1, 5)
    assert all(again._index[it.item_id] == k for k, it in enumerate(again.items))
    assert [it.item_id for it in again.items] == [it.item_id for it in session.items]
    store.close()


def test_cli_train_names_an_unreadable_item_and_goes_on(tmp_path, capsys):
    from mmrl_desktop.cli import main

    project = png_project(tmp_path)
    answer(project, 6)
    with project.open_store() as store:
        bad = store.items("pool")[1]  # answered
    Path(bad.image).unlink()
    root = str(project.root)
    assert main(["train", "--project", root, "--steps", "5", "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("trained ")
    assert f"warning: left out {bad.item_id}: image: file cannot be read" in captured.err
