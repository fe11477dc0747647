"""Excluded items: a bad item (an unreadable or huge file, a wrong case) is set aside, never deleted.

The record is append-only, like the event log: each row of the ``exclusions`` table says that an
item was excluded (with a reason) or included again, by whom and when; the newest row of an item
decides. Nothing is ever deleted, so an exclusion is undone by an ``include`` row.

What an excluded item is left out of — through one place, ``FeedbackStore.items()``, which lists
only items that are not excluded (``items(with_excluded=True)`` lists every item):

- the labelling queue (``LabelingSession``), so also ``simulate``;
- the trainer's pool and hold-out lists, ``evaluate``'s hold-out set, exports' sample batches.

Its past answers stay in the event log (feedback exports and the audit trail show them), but they
are not used: ``active_feedback()`` leaves them out (``evaluate``'s off-policy estimates), and the
trainer's replay buffer holds them aside (``ReplayBuffer.set_excluded``) — a running trainer sees
the change at its next step through ``exclusions_mark()``. Included again, the item comes back to
the queue and its answers are replayed again. Importing the same id again does not include it (an
import never replaces a stored item). (The default algorithm's unlabelled pool is read when the
trainer starts; an item excluded while it runs leaves that pool at the next start.)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from mmrl_desktop.core.errors import UserError

MIGRATION = [
    """CREATE TABLE exclusions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        excluded INTEGER NOT NULL CHECK (excluded IN (0, 1)),
        reason TEXT NOT NULL DEFAULT '',
        annotator TEXT NOT NULL DEFAULT '',
        timestamp REAL NOT NULL)""",
    "CREATE INDEX exclusions_item ON exclusions(item_id, id)",
]

# the ids of the items whose newest exclusion row says "excluded"
EXCLUDED_IDS_SQL = (
    "SELECT item_id FROM exclusions x WHERE excluded = 1 AND "
    "id = (SELECT MAX(id) FROM exclusions y WHERE y.item_id = x.item_id)"
)


@dataclass(frozen=True)
class Exclusion:
    """An item that is excluded now: why, by whom, when (seconds since the epoch)."""

    item_id: str
    reason: str
    annotator: str
    timestamp: float


class ExclusionsMixin:
    """The exclusion methods of ``FeedbackStore`` (needs its ``_conn`` and ``_tx``)."""

    def exclude_items(
        self, item_ids: Iterable[str], reason: str = "", annotator: str = ""
    ) -> list[str]:
        """Exclude items (one committed transaction). Returns the ids that were not excluded
        before; an unknown id is a ``UserError`` and nothing is written."""
        return self._set_excluded(item_ids, True, reason, annotator)

    def include_items(self, item_ids: Iterable[str], annotator: str = "") -> list[str]:
        """Include excluded items again. Returns the ids that were excluded before."""
        return self._set_excluded(item_ids, False, "", annotator)

    def _set_excluded(self, item_ids, excluded: bool, reason: str, annotator: str) -> list[str]:
        ids = list(dict.fromkeys(item_ids))
        with self._tx() as c:
            missing = [i for i in ids if not c.execute(_EXISTS, (i,)).fetchone()]
            if missing:
                shown = ", ".join(repr(i) for i in missing[:5])
                more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
                raise UserError(f"this project has no item {shown}{more}.")
            now_excluded = {r[0] for r in c.execute(EXCLUDED_IDS_SQL)}
            changed = [i for i in ids if (i in now_excluded) != excluded]
            now = time.time()
            c.executemany(
                "INSERT INTO exclusions (item_id, excluded, reason, annotator, timestamp) "
                "VALUES (?, ?, ?, ?, ?)",
                [(i, int(excluded), reason, annotator, now) for i in changed],
            )
        return changed

    def excluded_ids(self) -> set[str]:
        """The ids of the items that are excluded now."""
        return {r[0] for r in self._conn.execute(EXCLUDED_IDS_SQL)}

    def exclusions(self) -> list[Exclusion]:
        """The items excluded now, oldest exclusion first."""
        rows = self._conn.execute(
            "SELECT item_id, reason, annotator, timestamp FROM exclusions x WHERE excluded = 1 "
            "AND id = (SELECT MAX(id) FROM exclusions y WHERE y.item_id = x.item_id) ORDER BY id"
        )
        return [Exclusion(*r) for r in rows]

    def exclusions_mark(self) -> int:
        """Changes when an item is excluded or included (a cheap test for a running trainer)."""
        return int(self._conn.execute("SELECT MAX(id) FROM exclusions").fetchone()[0] or 0)


_EXISTS = "SELECT 1 FROM items WHERE item_id = ?"
