"""The feedback store's SQLite schema: ``SCHEMA_VERSION`` and the forward ``MIGRATIONS`` that
``FeedbackStore`` (``core/data/store.py``) applies in order to reach it (``PRAGMA user_version``)."""

from __future__ import annotations

from mmrl_desktop.core.data import drafts, exclusions

SCHEMA_VERSION = 4

MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE items (
            item_id TEXT PRIMARY KEY,
            image TEXT, audio TEXT, text TEXT, text_inline TEXT,
            labels TEXT NOT NULL DEFAULT '{}',
            split TEXT NOT NULL DEFAULT 'pool',
            info TEXT NOT NULL DEFAULT '{}',
            added_at REAL NOT NULL)""",
        """CREATE TABLE events (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            kind TEXT NOT NULL CHECK (kind IN ('feedback', 'retraction', 'skip')),
            item_id TEXT NOT NULL,
            task TEXT NOT NULL,
            shown_label TEXT,
            propensity REAL,
            reward INTEGER CHECK (reward IN (-1, 1) OR reward IS NULL),
            corrected_label TEXT,
            annotator TEXT NOT NULL DEFAULT '',
            timestamp REAL NOT NULL,
            model_version INTEGER NOT NULL DEFAULT 0,
            retracts INTEGER REFERENCES events(event_id))""",
        "CREATE INDEX events_item ON events(item_id)",
        """CREATE TABLE checkpoints (
            ckpt_id INTEGER PRIMARY KEY AUTOINCREMENT,
            path TEXT NOT NULL,
            step INTEGER NOT NULL,
            model_version INTEGER NOT NULL,
            answers_seen INTEGER NOT NULL,
            created_at REAL NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}',
            note TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE metrics (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL,
            step INTEGER NOT NULL,
            key TEXT NOT NULL,
            value REAL NOT NULL,
            timestamp REAL NOT NULL)""",
        "CREATE INDEX metrics_key ON metrics(key, id)",
        """CREATE TABLE predictions (
            item_id TEXT NOT NULL,
            task TEXT NOT NULL,
            model_version INTEGER NOT NULL,
            shown_label TEXT NOT NULL,
            propensity REAL NOT NULL,
            probs TEXT NOT NULL,
            PRIMARY KEY (item_id, task))""",
        """CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            timestamp REAL NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}')""",
    ],
    2: exclusions.MIGRATION,  # excluded items (core/data/exclusions.py)
    # How the answered item was chosen (issue 19, ADR 0013): its selection probability among the
    # ``selection_pool`` unanswered items it was chosen from, and the order that chose it
    # (``shuffle`` for the queue order, else the next-item strategy). NULL: unknown (an answer
    # written before schema 3, an item the expert opened, a second answer in review).
    3: [
        "ALTER TABLE events ADD COLUMN selection_probability REAL CHECK (selection_probability "
        "IS NULL OR (selection_probability > 0 AND selection_probability <= 1))",
        "ALTER TABLE events ADD COLUMN selection_pool INTEGER CHECK (selection_pool IS NULL "
        "OR selection_pool >= 1)",
        "ALTER TABLE events ADD COLUMN selection_order TEXT",
    ],
    4: drafts.MIGRATION,  # a generate task's drafts and their answers (core/data/drafts.py)
}
