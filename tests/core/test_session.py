"""LabelingSession: queue, answers, corrections, skip, undo, predictions, restart."""

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.core.labelling.session import ItemStatus, LabelingSession


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["cat", "dog", "owl"])])
    with p.open_store() as s:
        s.add_items([Item(f"i{k}", image=f"/x/{k}.png", labels={"label": "cat"}) for k in range(6)])
        s.set_split(["i5"], "holdout")
    return p


# The queue order is a fixed hash shuffle: here i2, i3, i4, i0, i1 (checked below).
QUEUE = ["i2", "i3", "i4", "i0", "i1"]


def _session(project, **kw):
    return LabelingSession(project, project.open_store(), annotator="dr_a", seed=0, **kw)


def test_queue_excludes_holdout_and_advances(project):
    s = _session(project)
    q = [it.item_id for it in s.items]
    assert sorted(q) == ["i0", "i1", "i2", "i3", "i4"]
    assert q != sorted(q)  # shuffled, not import order (classes would come in runs)
    assert q == [it.item_id for it in _session(project).items]  # the same order every start
    assert q == QUEUE
    assert s.current_item().item_id == q[0]
    s.answer(+1)
    assert s.current_item().item_id == q[1] and s.progress() == (1, 5)
    assert s.upcoming_ids(3) == q[1:4]


def test_review_mode_still_lists_the_items_ahead(project):
    """Once every item has an answer the queue goes on in order, and the items ahead are still
    named (so they get the newest model's predictions and are decoded before they are shown)."""
    s = _session(project)
    for _ in range(5):
        s.answer(+1)
    assert s.all_done() and s.current_item().item_id == QUEUE[0]
    assert s.upcoming_ids(3) == QUEUE[:3]
    s.answer(-1)  # a second answer in review is a new event; the queue moves on
    assert s.upcoming_ids(8) == QUEUE[1:] + QUEUE[:1]


def test_answer_uses_newest_prediction_and_logs_it(project):
    s = _session(project)
    s.update_predictions({"i2": {"label": Prediction("i2", "label", 3, "dog", 0.6, {"dog": 0.6})}})
    s.update_predictions({"i2": {"label": Prediction("i2", "label", 2, "owl", 0.9, {"owl": 0.9})}})
    assert s.prediction("i2", "label").shown_label == "dog"  # the older version did not win
    s.answer(-1)
    ev = s.store.active_feedback()[-1]
    assert (ev.shown_label, ev.propensity, ev.reward, ev.model_version) == ("dog", 0.6, -1, 3)
    assert ev.annotator == "dr_a" and s.status["i2"] == ItemStatus.DOWN


def test_fallback_prediction_is_uniform_with_true_propensity(project):
    s = _session(project)
    p = s.prediction("i2", "label")
    assert p.propensity == pytest.approx(1 / 3) and p.shown_label in ("cat", "dog", "owl")
    assert s.prediction("i2", "label") == p  # stable until answered
    assert not s.has_model_prediction("i2")


def test_correction_and_skip(project):
    s = _session(project)
    s.update_predictions({"i2": {"label": Prediction("i2", "label", 1, "dog", 0.5, {})}})
    s.correct(0)  # key 1 → "cat"
    ev = s.store.active_feedback()[-1]
    assert ev.reward == -1 and ev.corrected_label == "cat"
    assert s.status["i2"] == ItemStatus.CORRECTED
    s.update_predictions({"i3": {"label": Prediction("i3", "label", 1, "owl", 0.5, {})}})
    s.correct(2)  # the shown label is right: a 👍, no correction
    ev = s.store.active_feedback()[-1]
    assert ev.reward == 1 and ev.corrected_label is None
    s.skip()
    assert s.status["i4"] == ItemStatus.SKIPPED and s.current_item().item_id == "i0"
    with pytest.raises(IndexError):
        s.correct(7)


def test_undo_retracts_and_goes_back(project):
    s = _session(project)
    s.answer(+1)
    s.answer(-1)
    undone = s.undo()
    assert undone.item_id == "i3" and s.current_item().item_id == "i3"
    assert s.status["i3"] == ItemStatus.NEW
    assert [e.item_id for e in s.store.active_feedback()] == ["i2"]
    s.undo()
    assert s.store.active_feedback() == [] and s.undo() is None


def test_undoing_a_second_answer_leaves_the_first(project):
    s = _session(project)
    s.answer(+1)  # i2: right
    s.go_to("i2")
    s.answer(-1)  # a second look: wrong, a second event
    assert s.status["i2"] == ItemStatus.DOWN and len(s.store.active_feedback()) == 2
    s.undo()
    assert s.status["i2"] == ItemStatus.UP  # the first answer stands, not "new"
    assert [e.reward for e in s.store.active_feedback()] == [1]
    assert s.answered_count() == 1


def test_restart_restores_statuses_and_undo(project):
    s = _session(project)
    s.answer(+1)
    s.skip()
    s.store.close()
    s2 = _session(project)
    assert s2.status["i2"] == ItemStatus.UP and s2.status["i3"] == ItemStatus.SKIPPED
    assert s2.current_item().item_id == "i4"
    assert s2.undo().item_id == "i3"  # undo survives a restart
    assert s2.status["i3"] == ItemStatus.NEW


def test_multi_task_click_writes_one_event_per_task(tmp_path):
    p = Project.create(
        tmp_path / "m", tasks=[Task("finding", ["no", "yes"]), Task("side", ["left", "right"])]
    )
    with p.open_store() as st:
        st.add_items([Item("a", image="/a.png"), Item("b", image="/b.png")])
    s = _session(p)
    s.answer(+1, corrected={"side": "left"})
    evs = s.store.active_feedback()
    assert {e.task for e in evs} == {"finding", "side"}
    s.store.close()
    s2 = _session(p)
    action = s2.undo()
    assert len(action.event_ids) == 2 and s2.store.active_feedback() == []


def test_shown_prediction_is_pinned_until_answered(project):
    s = _session(project)
    s.update_predictions({"i2": {"label": Prediction("i2", "label", 1, "dog", 0.5, {})}})
    assert s.show("i2")["label"].shown_label == "dog"
    s.update_predictions({"i2": {"label": Prediction("i2", "label", 2, "owl", 0.7, {})}})
    s.answer(+1)
    ev = s.store.active_feedback()[-1]
    assert (ev.shown_label, ev.model_version) == ("dog", 1)  # what the expert saw


def test_when_all_answered_the_queue_goes_on_in_review(project):
    s = _session(project)
    for _ in range(5):
        s.answer(+1)
    assert s.all_done()
    seen = []
    for _ in range(3):
        seen.append(s.current_item().item_id)
        s.answer(-1)
    assert len(set(seen)) == 3  # cycles, does not stick on one item
    assert len(s.store.active_feedback()) == 8


def test_a_click_is_not_the_glossarys_action(project):
    """CONTEXT.md's *Action* is the label the model shows (``algorithms.base.Action``); what
    one click did is a ``Click``; the session module has no ``Action`` of its own."""
    from mmrl_desktop.core.labelling import session as session_module

    s = _session(project)
    click = s.answer(+1)
    assert type(click) is session_module.Click
    assert click.item_id == "i2" and click.status == ItemStatus.UP and len(click.event_ids) == 1
    assert not hasattr(session_module, "Action")
    assert s.undo() == click


# ------------------------------------------------------------------ which item next (issue 19)
def test_the_trainers_choice_of_next_items_comes_before_the_queue_order(project):
    s = _session(project)
    assert s.current_item().item_id == "i2"
    s.set_next_items(["i1", "i4"])
    assert s.current_item().item_id == "i2"  # the item on screen stays
    assert s.upcoming_ids(5) == ["i2", "i1", "i4", "i3", "i0"]
    s.answer(+1)
    assert s.current_item().item_id == "i1"
    s.answer(+1)
    assert s.current_item().item_id == "i4"
    s.answer(+1)  # the choice is used up: the queue order from here on
    assert s.current_item().item_id == "i0"
    assert s.upcoming_ids(5) == ["i0", "i3"]


def test_a_new_choice_replaces_the_old_and_drops_answered_or_unknown_ids(project):
    s = _session(project)
    s.answer(+1)  # i2
    s.set_next_items(["i0", "i2", "nope", "i4"])
    assert s.next_ids == ["i0", "i4"]
    s.set_next_items(["i4"])
    assert s.upcoming_ids(2) == ["i3", "i4"]
    s.skip()  # i3
    assert s.current_item().item_id == "i4"
    s.exclude()  # i4 leaves the queue: the next in queue order
    assert s.current_item().item_id == "i0"


def test_undo_returns_to_the_answered_item_and_keeps_the_choice(project):
    s = _session(project)
    s.set_next_items(["i0", "i1"])
    s.answer(+1)  # i2 -> i0
    s.undo()
    assert s.current_item().item_id == "i2"
    s.answer(-1)
    assert s.current_item().item_id == "i0"
