"""Ctrl+Z in a project with label tasks and a generate task: the newest answer of either kind is
withdrawn (a retraction row, append-only), in the order they were given, also after a restart."""

import pytest

from mmrl_desktop.core.data.drafts import NewDraft
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.labelling.drafts import DraftBook
from mmrl_desktop.core.labelling.session import LabelingSession
from mmrl_desktop.core.labelling.undo import newest_kind, undo_newest


@pytest.fixture
def project(tmp_path):
    p = Project.create(tmp_path / "p", tasks=[Task("label", ["cat", "dog"])])
    with p.open_store() as s:
        s.add_items(
            [Item(f"i{k}", text_inline=f"case {k}", labels={"label": "cat"}) for k in range(4)]
        )
        s.add_drafts(
            [NewDraft(f"i{k}", "finding", f"case {k}\nFinding:", "no lesion", (5, 6), -1.5, 0, "fp")
             for k in range(4)]
        )  # fmt: skip
    return p


def _open(project):
    store = project.open_store()
    return LabelingSession(project, store, annotator="dr_a", seed=0), DraftBook(
        store, "finding", "dr_a"
    )


def test_undo_withdraws_the_newest_answer_of_either_kind(project):
    session, book = _open(project)
    first = session.current_item().item_id
    session.answer(+1)  # a label answer
    book.receive(session.store.drafts())
    book.answer(first, -1)  # then the draft of the same item
    second = session.current_item().item_id
    session.answer(-1)  # then a label answer on the next item
    book.answer(second, +1)  # and its draft
    assert newest_kind(session, book) == "draft"
    assert undo_newest(session, book).item_id == second  # the draft answer on the second item
    assert [a.draft.item_id for a in session.store.active_draft_answers()] == [first]
    assert newest_kind(session, book) == "label"
    assert undo_newest(session, book).item_id == second  # its label answer
    session.store.close()

    session, book = _open(project)  # a restart keeps the order
    assert newest_kind(session, book) == "draft"
    assert undo_newest(session, book).item_id == first
    assert session.store.active_draft_answers() == []
    assert undo_newest(session, book).item_id == first  # the label answer
    assert session.store.active_feedback() == [] and undo_newest(session, book) is None
    rows = session.store.all_draft_answers()  # append-only: answers and their retractions
    assert [a.kind for a in rows] == ["answer", "answer", "retraction", "retraction"]
    session.store.close()


def test_a_draft_answer_can_be_undone_after_a_restart(project):
    _, book = _open(project)
    book.receive(book.store.drafts())
    book.answer("i1", +1)
    book.store.close()
    _, book = _open(project)
    assert book.undo().item_id == "i1" and book.store.active_draft_answers() == []
    assert book.undo() is None
    book.store.close()
