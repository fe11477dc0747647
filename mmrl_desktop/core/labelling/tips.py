"""A tip from the expert's own answers (Qt-free): when a task has many labels and the answers are
mostly 👎 without a correction, say once that the right answer teaches far more than a 👎.

A 👎 among K labels only rules out the label shown; a correction gives the label itself. Measured
on the own-folder letters (ten labels, seeds 44–46, docs/benchmarks.md §5zs): after 60 answers the
model held out .80 with the right label on every answer (`supervised`) and .19 with thumbs alone;
on eight spoken words .76 and .40. So after ``WINDOW`` answers of which at most ``MAX_UP_SHARE``
were 👍 and none a correction, on a project whose largest single-label task has ``MIN_LABELS``
or more labels (``CorrectionTip.for_tasks``: a 👎 on a multi-label task's findings does not
rule out one label of many), the labelling controller shows ``TIP`` once per session.
"""

from __future__ import annotations

from collections import deque

from mmrl_desktop.core.labelling.session import ItemStatus

WINDOW = 30  # the answers looked at: the latest this many
MIN_LABELS = 5  # fewer labels: a 👎 rules out a good share of them
MAX_UP_SHARE = 0.25
# shown in the key hint's place: two lines of the feedback panel at 1280 × 800
TIP = "Tip: {labels} labels — a “wrong” rules out one; the right answer's key teaches far more."
ANSWERS = (ItemStatus.UP, ItemStatus.DOWN, ItemStatus.CORRECTED)


class CorrectionTip:
    """Feed it each click's status (``record``) and undo (``forget``); ``record`` returns the
    tip's sentence the one time it is due, else None."""

    def __init__(self, label_counts: list[int]):
        self.labels = max(label_counts, default=0)
        self.recent: deque[ItemStatus] = deque(maxlen=WINDOW)
        self.given = False

    @classmethod
    def for_tasks(cls, tasks) -> CorrectionTip:
        """The tip of a project's tasks: its single-label ones (a 👎 on a multi-label task's
        findings does not rule out one label of many)."""
        return cls([len(t.labels) for t in tasks if t.kind == "single"])

    def record(self, status: ItemStatus) -> str | None:
        if status not in ANSWERS:  # a skip is no answer
            return None
        self.recent.append(status)
        if self.given or self.labels < MIN_LABELS or len(self.recent) < WINDOW:
            return None
        if ItemStatus.CORRECTED in self.recent:
            return None
        downs = sum(s == ItemStatus.DOWN for s in self.recent)
        if WINDOW - downs > MAX_UP_SHARE * WINDOW:
            return None
        self.given = True
        return TIP.format(labels=self.labels)

    def forget(self, status: ItemStatus) -> None:
        """An undone answer leaves the window (the latest one with that status)."""
        for k in range(len(self.recent) - 1, -1, -1):
            if self.recent[k] == status:
                del self.recent[k]
                return
