"""FeedbackStore: the project's SQLite database (items, feedback events, checkpoints, metrics).

Durability rules (see docs/adr/0002-feedback-store.md):
- WAL journal with ``synchronous=FULL``: a commit is on disk when ``commit()`` returns, so an answer
  is acknowledged only after its transaction commits, and a power cut loses nothing acknowledged.
- Feedback is append-only. Undo appends a ``retraction`` row naming the event it withdraws.
- One connection per thread: a store object refuses use from another thread (sqlite3's
  ``check_same_thread``); every thread opens its own ``FeedbackStore`` on the same file.
- The schema has a version (``PRAGMA user_version``) and forward migrations
  (``core/data/schema.py``).
- Items are never deleted: a bad one is excluded (and can be included again), see
  ``core/data/exclusions.py``; ``items()`` leaves excluded items out.
- A generate task's drafts and the answers to them are append-only tables of their own (schema 4,
  ``core/data/drafts.py``).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mmrl_desktop.core.data import drafts, exclusions, relocation
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.schema import MIGRATIONS, SCHEMA_VERSION
from mmrl_desktop.core.errors import ProjectError

# A trainer run's id, one type everywhere: the metrics rows, the trainer, the GUI's events.
RunId = str


def new_run_id(serial: int = 0, now: float | None = None) -> RunId:
    """``run-YYYYmmdd-HHMMSS`` (local time), ``-<serial>`` added when ``serial`` is given (two
    runs started in one second, as a restarted trainer can be, keep apart)."""
    stamp = time.strftime("run-%Y%m%d-%H%M%S", time.localtime(now))
    return f"{stamp}-{serial}" if serial else stamp


# The retracted event ids, as an uncorrelated subquery: SQLite builds it once per read (``NOT IN``
# over a list), where a correlated ``NOT EXISTS`` scanned the whole log again for every answer
# (quadratic: docs/benchmarks.md §2b, `evaluate` with 40,000 answers). ``IS NOT NULL``: one NULL
# would empty NOT IN.
_RETRACTED_IDS_SQL = (
    "SELECT retracts FROM events WHERE kind = 'retraction' AND retracts IS NOT NULL"
)


@dataclass(frozen=True)
class FeedbackEvent:
    """One row of the append-only event log."""

    event_id: int
    kind: str  # 'feedback' | 'retraction' | 'skip'
    item_id: str
    task: str
    shown_label: str | None
    propensity: float | None
    reward: int | None
    corrected_label: str | None
    annotator: str
    timestamp: float
    model_version: int
    retracts: int | None
    selection_probability: float | None = None  # how the item was chosen (``Selection``)
    selection_pool: int | None = None
    selection_order: str | None = None


@dataclass(frozen=True)
class Selection:
    """How an answered item was chosen (schema 3, ADR 0013): with ``probability`` among the
    ``pool`` unanswered items left, by ``order`` (``shuffle``: the queue order, probability
    1/pool; else the next-item strategy's pick). ``1 / (pool × probability)`` re-weights the
    answer to a uniform draw of an unanswered item (``core/evaluation/ope.selection_weights``)."""

    probability: float
    pool: int
    order: str

    def __post_init__(self) -> None:
        if not 0.0 < self.probability <= 1.0 or self.pool < 1:
            raise ValueError(f"a selection needs a probability in (0, 1] and a pool ≥ 1: {self}")


@dataclass(frozen=True)
class CheckpointRecord:
    ckpt_id: int
    path: str
    step: int
    model_version: int
    answers_seen: int
    created_at: float
    metrics: dict
    note: str


@dataclass(frozen=True)
class Prediction:
    """What the model shows for one item and task: the chosen label, its propensity, and the
    greedy class probabilities (label → p)."""

    item_id: str
    task: str
    model_version: int
    shown_label: str
    propensity: float
    probs: dict[str, float]

    def top(self, k: int = 3) -> list[tuple[str, float]]:
        return sorted(self.probs.items(), key=lambda kv: -kv[1])[:k]


_EVENT_COLS = (
    "event_id, kind, item_id, task, shown_label, propensity, reward, corrected_label, "
    "annotator, timestamp, model_version, retracts, selection_probability, selection_pool, "
    "selection_order"
)


class FeedbackStore(exclusions.ExclusionsMixin, drafts.DraftsMixin, relocation.RelocationMixin):
    """A connection to a project's ``feedback.sqlite``. Use from the thread that created it."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0):
        self.path = Path(path)
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.DatabaseError as err:
            raise ProjectError(
                f"{self.path} is not a readable feedback database ({err})."
            ) from None

    # ---------------------------------------------------------------- schema
    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ProjectError(
                f"{self.path.name} was written by a newer mmrl-desktop (schema {version}); "
                f"this version reads schema {SCHEMA_VERSION} or older."
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._tx():
                for sql in MIGRATIONS[target]:
                    self._conn.execute(sql)
                self._conn.execute(f"PRAGMA user_version = {target}")

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")
            return self.conn

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                self.conn.execute("COMMIT")
            else:
                self.conn.execute("ROLLBACK")
            return False

    def _tx(self) -> FeedbackStore._Tx:
        return FeedbackStore._Tx(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> FeedbackStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------- items
    def add_items(self, items: Iterable[Item]) -> int:
        """Insert items; an id that is already present is kept as it was. Returns rows added."""
        now = time.time()
        rows = [
            (
                it.item_id,
                it.image,
                it.audio,
                it.text,
                it.text_inline,
                json.dumps(it.labels),
                it.split,
                json.dumps(it.info),
                now,
            )
            for it in items
        ]
        with self._tx() as c:
            before = c.total_changes
            c.executemany(
                "INSERT OR IGNORE INTO items (item_id, image, audio, text, text_inline, labels, "
                "split, info, added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            return c.total_changes - before

    def set_split(self, item_ids: Iterable[str], split: str) -> None:
        with self._tx() as c:
            c.executemany(
                "UPDATE items SET split = ? WHERE item_id = ?", [(split, i) for i in item_ids]
            )

    @staticmethod
    def _item(row) -> Item:
        return Item(
            item_id=row[0],
            image=row[1],
            audio=row[2],
            text=row[3],
            text_inline=row[4],
            labels=json.loads(row[5]),
            split=row[6],
            info=json.loads(row[7]),
        )

    _ITEM_COLS = "item_id, image, audio, text, text_inline, labels, split, info"

    def items(self, split: str | None = None, *, with_excluded: bool = False) -> list[Item]:
        """The items in import order (optionally one split), without the excluded ones unless
        ``with_excluded`` (the one filter every use of the items goes through: queue, trainer,
        simulate, evaluate — see ``core/data/exclusions.py``)."""
        where, args = [], []
        if split is not None:
            where.append("split = ?")
            args.append(split)
        if not with_excluded:
            where.append(f"item_id NOT IN ({exclusions.EXCLUDED_IDS_SQL})")
        sql = f"SELECT {self._ITEM_COLS} FROM items"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [self._item(r) for r in self._conn.execute(sql + " ORDER BY rowid", args)]

    def item(self, item_id: str) -> Item:
        row = self._conn.execute(
            f"SELECT {self._ITEM_COLS} FROM items WHERE item_id = ?", (item_id,)
        ).fetchone()
        if row is None:
            raise KeyError(item_id)
        return self._item(row)

    def item_count(self) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM items").fetchone()[0]

    # ---------------------------------------------------------------- feedback
    def record_feedback(
        self,
        item_id: str,
        task: str,
        shown_label: str,
        propensity: float,
        reward: int,
        corrected_label: str | None = None,
        annotator: str = "",
        model_version: int = 0,
        timestamp: float | None = None,
        selection: Selection | None = None,
    ) -> int:
        """Append one answer and commit it. Returns the event id once it is durable.
        ``selection``: how the item was chosen (None: unknown)."""
        if reward not in (-1, 1):
            raise ValueError("reward must be +1 or -1")
        if not 0.0 < propensity <= 1.0:
            raise ValueError(f"propensity must be in (0, 1], got {propensity}")
        return self._append(
            "feedback",
            item_id,
            task,
            shown_label,
            float(propensity),
            int(reward),
            corrected_label,
            annotator,
            timestamp,
            model_version,
            None,
            selection,
        )

    def record_skip(self, item_id: str, task: str, annotator: str = "", model_version: int = 0):
        return self._append(
            "skip", item_id, task, None, None, None, None, annotator, None, model_version, None
        )

    def retract(self, event_id: int, annotator: str = "") -> int:
        """Append a retraction of ``event_id`` (undo). Returns the retraction's event id."""
        row = self._conn.execute(
            "SELECT item_id, task, kind FROM events WHERE event_id = ?", (event_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no event {event_id}")
        if row[2] == "retraction":
            raise ValueError("a retraction cannot itself be retracted")
        already = self._conn.execute(
            "SELECT 1 FROM events WHERE kind = 'retraction' AND retracts = ?", (event_id,)
        ).fetchone()
        if already:
            raise ValueError(f"event {event_id} is already retracted")
        return self._append(
            "retraction", row[0], row[1], None, None, None, None, annotator, None, 0, event_id
        )

    def _append(
        self, kind, item_id, task, shown, prop, reward, corr, annot, ts, version, retracts, sel=None
    ):
        chosen = (sel.probability, sel.pool, sel.order) if sel else (None, None, None)
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO events (kind, item_id, task, shown_label, propensity, reward, "
                "corrected_label, annotator, timestamp, model_version, retracts, "
                "selection_probability, selection_pool, selection_order) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    item_id,
                    task,
                    shown,
                    prop,
                    reward,
                    corr,
                    annot,
                    ts or time.time(),
                    version,
                    retracts,
                    *chosen,
                ),
            )
            return int(cur.lastrowid)

    def events_since(self, after_id: int = 0, limit: int | None = None) -> list[FeedbackEvent]:
        """Every event (answers, skips, retractions) with id > after_id, in order."""
        sql = f"SELECT {_EVENT_COLS} FROM events WHERE event_id > ? ORDER BY event_id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [FeedbackEvent(*r) for r in self._conn.execute(sql, (after_id,))]

    def active_feedback(self) -> list[FeedbackEvent]:
        """Answers (kind 'feedback') that have not been retracted, in order, on items that are
        not excluded (an excluded item's answers stay in the log, unused)."""
        return [
            FeedbackEvent(*r)
            for r in self._conn.execute(
                f"SELECT {_EVENT_COLS} FROM events WHERE kind = 'feedback' "
                f"AND event_id NOT IN ({_RETRACTED_IDS_SQL}) "
                f"AND item_id NOT IN ({exclusions.EXCLUDED_IDS_SQL}) ORDER BY event_id"
            )
        ]

    def all_events(self) -> Iterator[FeedbackEvent]:
        for r in self._conn.execute(f"SELECT {_EVENT_COLS} FROM events ORDER BY event_id"):
            yield FeedbackEvent(*r)

    def last_event_id(self) -> int:
        row = self._conn.execute("SELECT MAX(event_id) FROM events").fetchone()
        return int(row[0] or 0)

    def answered_item_ids(self) -> set[str]:
        """Items with a live (not retracted) answer or skip."""
        return {
            r[0]
            for r in self._conn.execute(
                "SELECT item_id FROM events WHERE kind IN ('feedback', 'skip') "
                f"AND event_id NOT IN ({_RETRACTED_IDS_SQL})"
            )
        }

    def retracted_ids(self) -> set[int]:
        return {
            r[0] for r in self._conn.execute("SELECT retracts FROM events WHERE kind='retraction'")
        }

    # ---------------------------------------------------------------- predictions
    def put_predictions(self, predictions: Iterable[Prediction]) -> None:
        rows = [
            (p.item_id, p.task, p.model_version, p.shown_label, p.propensity, json.dumps(p.probs))
            for p in predictions
        ]
        with self._tx() as c:
            c.executemany(
                "INSERT OR REPLACE INTO predictions (item_id, task, model_version, shown_label, "
                "propensity, probs) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )

    def predictions(self, item_id: str) -> dict[str, Prediction]:
        return {
            r[1]: Prediction(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]))
            for r in self._conn.execute(
                "SELECT item_id, task, model_version, shown_label, propensity, probs "
                "FROM predictions WHERE item_id = ?",
                (item_id,),
            )
        }

    # ---------------------------------------------------------------- checkpoints
    def add_checkpoint(
        self,
        path: str,
        step: int,
        model_version: int,
        answers_seen: int,
        metrics: dict | None = None,
        note: str = "",
    ) -> int:
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO checkpoints (path, step, model_version, answers_seen, created_at, "
                "metrics, note) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    path,
                    step,
                    model_version,
                    answers_seen,
                    time.time(),
                    json.dumps(metrics or {}),
                    note,
                ),
            )
            return int(cur.lastrowid)

    def checkpoints(self) -> list[CheckpointRecord]:
        return [
            CheckpointRecord(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7])
            for r in self._conn.execute(
                "SELECT ckpt_id, path, step, model_version, answers_seen, created_at, metrics, "
                "note FROM checkpoints ORDER BY ckpt_id"
            )
        ]

    def remove_checkpoint(self, ckpt_id: int) -> None:
        with self._tx() as c:
            c.execute("DELETE FROM checkpoints WHERE ckpt_id = ?", (ckpt_id,))

    # ---------------------------------------------------------------- metrics and audit
    def add_metrics(self, run_id: RunId, step: int, metrics: dict[str, float]) -> None:
        """One trainer step's metrics. ``run_id`` is a string (``new_run_id``): the column is
        TEXT, so an int would come back from ``metrics()`` as another type than it went in."""
        if not isinstance(run_id, str):
            raise TypeError(f"a run id is a str (new_run_id()), not {type(run_id).__name__}")
        now = time.time()
        with self._tx() as c:
            c.executemany(
                "INSERT INTO metrics (run_id, step, key, value, timestamp) VALUES (?, ?, ?, ?, ?)",
                [(run_id, step, k, float(v), now) for k, v in metrics.items()],
            )

    def metrics(self, key: str | None = None) -> list[tuple[RunId, int, str, float, float]]:
        """(run_id, step, key, value, timestamp) rows in insertion order."""
        sql = "SELECT run_id, step, key, value, timestamp FROM metrics"
        args: tuple = ()
        if key is not None:
            sql += " WHERE key = ?"
            args = (key,)
        return list(self._conn.execute(sql + " ORDER BY id", args))

    def audit(self, action: str, **detail) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO audit (timestamp, action, detail) VALUES (?, ?, ?)",
                (time.time(), action, json.dumps(detail)),
            )

    def audit_log(self) -> list[tuple[float, str, dict]]:
        return [
            (r[0], r[1], json.loads(r[2]))
            for r in self._conn.execute("SELECT timestamp, action, detail FROM audit ORDER BY id")
        ]
