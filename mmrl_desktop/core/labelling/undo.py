"""Which answer Ctrl+Z withdraws in a project with label tasks and a generate task: the newest
of the label session's last click (an answer, a skip, an exclusion) and the draft book's last
live answer, by the time each was stored (both in the same store, on the same clock). Qt-free.

    which = newest_kind(session, book)    # "label", "draft" or None (nothing to undo)
    click = undo_newest(session, book)    # withdraws it (a retraction row / an inclusion)

Both sides keep their order after a restart (``LabelingSession`` rebuilds its undo stack from the
log, ``DraftBook`` its history from the live draft answers), so the joint order holds too.
"""

from __future__ import annotations

from mmrl_desktop.core.labelling.drafts import DraftBook, DraftClick
from mmrl_desktop.core.labelling.session import Click, LabelingSession

LABEL, DRAFT = "label", "draft"


def label_click_time(session: LabelingSession, click: Click) -> float:
    """When ``click`` was stored: its newest event's time, or its exclusion's. A time the log
    does not give (never expected) is +inf: the label click is then undone first, as before."""
    store = session.store
    if click.event_ids:
        events = store.events_since(max(click.event_ids) - 1, limit=1)
        if events:
            return float(events[0].timestamp)
    elif click.excluded:
        for x in store.exclusions():
            if x.item_id == click.item_id:
                return float(x.timestamp)
    return float("inf")


def newest_kind(session: LabelingSession, book: DraftBook | None) -> str | None:
    """``"label"`` or ``"draft"``: whose click is the newest; None when neither has one. On a
    tie the label click goes first."""
    draft = book.newest() if book is not None else None
    if not session.undo_stack:
        return DRAFT if draft is not None else None
    if draft is None:
        return LABEL
    return DRAFT if draft.timestamp > label_click_time(session, session.undo_stack[-1]) else LABEL


def undo_newest(session: LabelingSession, book: DraftBook | None) -> Click | DraftClick | None:
    """Withdraw the newest click of either kind (``newest_kind``); the undone click, or None."""
    kind = newest_kind(session, book)
    if kind == DRAFT:
        return book.undo()  # type: ignore[union-attr]
    if kind == LABEL:
        return session.undo()
    return None
