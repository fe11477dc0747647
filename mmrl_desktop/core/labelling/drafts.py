"""DraftBook: the drafts the app holds for one ``generate`` task and the expert's answers to them.
Qt-free; it lives on the GUI thread with its own store connection (the label session's).

The trainer process drafts the queue's items ahead of time and stores every draft; its
``Drafts`` messages reach the book through ``receive``. The shown item's draft never changes
under the expert's eyes: a newer draft of the shown item (a new policy version) waits until the
item is left. The answers go straight to the store, one committed row each (an edit = a
thumbs-down on the draft + the edited text); ``undo`` appends a retraction (the newest live
answer, also after a restart; ``core/labelling/undo.py`` orders it with the label answers).

    book = DraftBook(store, "finding", annotator="dr_a")
    book.receive(event.drafts)            # from the trainer
    book.show("case-7")                   # the shown item: its draft is pinned
    book.drafts_for("case-7")             # [Draft, …] (``candidates`` of them) or None: drafting…
    book.answer("case-7", +1)             # or book.edit("case-7", "8 mm nodule right upper lobe")
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from mmrl_desktop.core.data.drafts import Draft, DraftAnswer
from mmrl_desktop.core.data.store import FeedbackStore


@dataclass(frozen=True)
class DraftClick:
    """An answer to a draft, for undo and the charts."""

    answer_id: int
    item_id: str
    reward: int
    edited: bool
    timestamp: float = 0.0  # when it was stored (the store's clock: ordered with label clicks)


class DraftBook:
    def __init__(self, store: FeedbackStore, task: str, annotator: str = "") -> None:
        self.store, self.task, self.annotator = store, task, annotator
        self._drafts: dict[str, list[Draft]] = {}  # item id -> its newest drafts (candidates)
        self._waiting: dict[str, list[Draft]] = {}  # newer drafts of the shown item
        self.shown: str | None = None
        self.answers: dict[str, DraftAnswer] = {}  # item id -> its live answer
        self._history: list[DraftClick] = []  # Ctrl+Z's order, also after a restart
        for a in store.active_draft_answers(task):
            self.answers[a.draft.item_id] = a
            self._history.append(
                DraftClick(a.answer_id, a.draft.item_id, a.reward, a.is_edit, a.timestamp)
            )

    # ------------------------------------------------------------ drafts from the trainer
    def receive(self, drafts: Iterable[Draft]) -> set[str]:
        """Take a ``Drafts`` message's drafts; returns the items whose shown drafts changed."""
        grouped: dict[str, list[Draft]] = {}
        for d in drafts:
            if d.task == self.task:
                grouped.setdefault(d.item_id, []).append(d)
        changed = set()
        for item_id, group in grouped.items():
            group.sort(key=lambda d: d.candidate)
            if item_id == self.shown and self._drafts.get(item_id):
                self._waiting[item_id] = group  # not under the expert's eyes
                continue
            self._drafts[item_id] = group
            changed.add(item_id)
        return changed

    def show(self, item_id: str | None) -> None:
        """``item_id`` is on screen now: its draft stays until it is left."""
        if self.shown is not None and self.shown in self._waiting:
            self._drafts[self.shown] = self._waiting.pop(self.shown)
        self.shown = item_id

    def drafts_for(self, item_id: str) -> list[Draft] | None:
        """The item's drafts (None: not drafted yet). An answered item shows the answered one."""
        answer = self.answers.get(item_id)
        if answer is not None and item_id not in self._drafts:
            return [answer.draft]
        return self._drafts.get(item_id)

    def answer_of(self, item_id: str) -> DraftAnswer | None:
        return self.answers.get(item_id)

    # ------------------------------------------------------------ answers
    def _draft(self, item_id: str, candidate: int) -> Draft:
        drafts = self.drafts_for(item_id)
        if not drafts:
            raise ValueError("The draft is not ready yet.")
        return drafts[min(max(candidate, 0), len(drafts) - 1)]

    def answer(self, item_id: str, reward: int, candidate: int = 0) -> DraftClick:
        """Thumbs-up (+1) or thumbs-down (-1) on the item's draft: one committed row."""
        return self._record(item_id, self._draft(item_id, candidate), reward, None)

    def edit(self, item_id: str, text: str, candidate: int = 0) -> DraftClick:
        """The expert's own text: a thumbs-down on the draft and the text as a desirable
        example. An empty text is refused (``ValueError``)."""
        text = " ".join(text.split())
        if not text:
            raise ValueError("The edited text is empty.")
        draft = self._draft(item_id, candidate)
        if text == draft.text:  # unchanged: that is a thumbs-up
            return self._record(item_id, draft, +1, None)
        return self._record(item_id, draft, -1, text)

    def _record(self, item_id: str, draft: Draft, reward: int, text: str | None) -> DraftClick:
        previous = self.answers.get(item_id)
        if previous is not None:  # a second answer replaces the first
            self.store.retract_draft_answer(previous.answer_id, self.annotator)
        now = time.time()
        answer_id = self.store.answer_draft(draft.draft_id, reward, text, self.annotator, now)
        self.answers[item_id] = DraftAnswer(
            answer_id, "answer", draft, reward, text, self.annotator, now, None
        )
        click = DraftClick(answer_id, item_id, reward, text is not None, now)
        self._history.append(click)
        return click

    def newest(self) -> DraftClick | None:
        """The live answer ``undo`` would withdraw (None when there is none)."""
        while self._history:
            click = self._history[-1]
            current = self.answers.get(click.item_id)
            if current is not None and current.answer_id == click.answer_id:
                return click
            self._history.pop()  # replaced by a later answer, or withdrawn
        return None

    def undo(self) -> DraftClick | None:
        """Withdraw the newest answer (a retraction row). None when there is none."""
        click = self.newest()
        if click is None:
            return None
        self._history.pop()
        self.store.retract_draft_answer(click.answer_id, self.annotator)
        del self.answers[click.item_id]
        return click

    def thumbs_up_rate(self) -> float | None:
        """The share of live answers that were a thumbs-up (an edit counts as thumbs-down)."""
        if not self.answers:
            return None
        return sum(a.reward == 1 for a in self.answers.values()) / len(self.answers)
