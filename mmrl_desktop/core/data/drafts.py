"""Drafts of a ``generate`` task and the expert's answers to them, in the feedback store.

Append-only, like the event log (ADR 0002):

- ``drafts``: every text a language model drafted for an item (the trainer process writes it
  when it generates, before the app shows it): the prompt it was given, the text, its token ids,
  the sum of their log-probabilities under the policy that drew it, that policy's version and the
  base model's fingerprint, and when.
- ``draft_answers``: the expert's answer to one draft: thumbs-up (+1), thumbs-down (-1), or an
  edit (-1 on the draft and the edited text, a desirable example). Undo appends a ``retraction``
  row naming the answer it withdraws; nothing is ever deleted.

An excluded item's answers stay in the log but ``active_draft_answers`` leaves them out, as
``active_feedback`` does for the label answers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass

from mmrl_desktop.core.data import exclusions
from mmrl_desktop.core.data.items import Item

MAX_ITEM_CHARS = 2000  # an item's text is cut to this before the prompt (a draft is one line)

MIGRATION = [
    """CREATE TABLE drafts (
        draft_id INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        task TEXT NOT NULL,
        prompt TEXT NOT NULL,
        text TEXT NOT NULL,
        token_ids TEXT NOT NULL DEFAULT '[]',
        logprob REAL NOT NULL,
        policy_version INTEGER NOT NULL DEFAULT 0,
        fingerprint TEXT NOT NULL DEFAULT '',
        candidate INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL)""",
    "CREATE INDEX drafts_item ON drafts(item_id, task, draft_id)",
    """CREATE TABLE draft_answers (
        answer_id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('answer', 'retraction')),
        draft_id INTEGER NOT NULL REFERENCES drafts(draft_id),
        reward INTEGER CHECK (reward IN (-1, 1) OR reward IS NULL),
        edited_text TEXT,
        annotator TEXT NOT NULL DEFAULT '',
        timestamp REAL NOT NULL,
        retracts INTEGER REFERENCES draft_answers(answer_id))""",
    "CREATE INDEX draft_answers_draft ON draft_answers(draft_id)",
]


@dataclass(frozen=True)
class NewDraft:
    """A draft before it is stored (the trainer's generation)."""

    item_id: str
    task: str
    prompt: str
    text: str
    token_ids: tuple[int, ...]
    logprob: float
    policy_version: int = 0
    fingerprint: str = ""
    candidate: int = 0


@dataclass(frozen=True)
class Draft:
    """A stored draft (picklable: it travels from the trainer process to the app)."""

    draft_id: int
    item_id: str
    task: str
    prompt: str
    text: str
    token_ids: tuple[int, ...]
    logprob: float
    policy_version: int
    fingerprint: str
    candidate: int
    created_at: float


@dataclass(frozen=True)
class DraftAnswer:
    """One row of ``draft_answers`` with its draft (kind 'answer' or 'retraction')."""

    answer_id: int
    kind: str
    draft: Draft
    reward: int | None
    edited_text: str | None
    annotator: str
    timestamp: float
    retracts: int | None

    @property
    def is_edit(self) -> bool:
        return self.edited_text is not None


_DRAFT_COLS = (
    "d.draft_id, d.item_id, d.task, d.prompt, d.text, d.token_ids, d.logprob, d.policy_version, "
    "d.fingerprint, d.candidate, d.created_at"
)
_ANSWER_COLS = "a.answer_id, a.kind, a.reward, a.edited_text, a.annotator, a.timestamp, a.retracts"
_RETRACTED = "SELECT retracts FROM draft_answers WHERE kind = 'retraction' AND retracts IS NOT NULL"


def _draft(row) -> Draft:
    return Draft(*row[:5], tuple(json.loads(row[5])), *row[6:11])


def _answer(row) -> DraftAnswer:
    return DraftAnswer(row[11], row[12], _draft(row[:11]), *row[13:18])


class DraftsMixin:
    """The draft methods of ``FeedbackStore`` (needs its ``_conn`` and ``_tx``)."""

    def add_drafts(self, drafts: Iterable[NewDraft]) -> list[Draft]:
        """Store drafts (one committed transaction); the stored rows, in order."""
        now = time.time()
        out = []
        with self._tx() as c:
            for d in drafts:
                cur = c.execute(
                    "INSERT INTO drafts (item_id, task, prompt, text, token_ids, logprob, "
                    "policy_version, fingerprint, candidate, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        d.item_id,
                        d.task,
                        d.prompt,
                        d.text,
                        json.dumps([int(t) for t in d.token_ids]),
                        float(d.logprob),
                        int(d.policy_version),
                        d.fingerprint,
                        int(d.candidate),
                        now,
                    ),
                )
                out.append(Draft(int(cur.lastrowid), *_fields(d), now))
        return out

    def draft(self, draft_id: int) -> Draft:
        row = self._conn.execute(
            f"SELECT {_DRAFT_COLS} FROM drafts d WHERE draft_id = ?", (draft_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no draft {draft_id}")
        return _draft(row)

    def drafts(self, item_id: str | None = None, task: str | None = None) -> list[Draft]:
        """Stored drafts in order (of one item and/or task)."""
        where, args = [], []
        for col, value in (("item_id", item_id), ("task", task)):
            if value is not None:
                where.append(f"d.{col} = ?")
                args.append(value)
        sql = f"SELECT {_DRAFT_COLS} FROM drafts d"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return [_draft(r) for r in self._conn.execute(sql + " ORDER BY d.draft_id", args)]

    def answer_draft(
        self,
        draft_id: int,
        reward: int,
        edited_text: str | None = None,
        annotator: str = "",
        timestamp: float | None = None,
    ) -> int:
        """Append the answer to a draft and commit it. An edit is ``reward=-1`` with the edited
        text. Returns the answer's id once it is durable."""
        if reward not in (-1, 1):
            raise ValueError("reward must be +1 or -1")
        if edited_text is not None:
            if reward != -1:
                raise ValueError("an edit is a thumbs-down on the draft (reward -1)")
            if not edited_text.strip():
                raise ValueError("the edited text is empty")
        self.draft(draft_id)  # KeyError for an unknown draft
        return self._append_draft_answer(
            "answer", draft_id, reward, edited_text, annotator, timestamp, None
        )

    def retract_draft_answer(self, answer_id: int, annotator: str = "") -> int:
        """Withdraw an answer (undo): a retraction row. Returns its id."""
        row = self._conn.execute(
            "SELECT kind, draft_id FROM draft_answers WHERE answer_id = ?", (answer_id,)
        ).fetchone()
        if row is None:
            raise KeyError(f"no draft answer {answer_id}")
        if row[0] == "retraction":
            raise ValueError("a retraction cannot itself be retracted")
        if self._conn.execute(
            "SELECT 1 FROM draft_answers WHERE kind = 'retraction' AND retracts = ?", (answer_id,)
        ).fetchone():
            raise ValueError(f"draft answer {answer_id} is already retracted")
        return self._append_draft_answer(
            "retraction", row[1], None, None, annotator, None, answer_id
        )

    def _append_draft_answer(self, kind, draft_id, reward, edited, annotator, ts, retracts):
        with self._tx() as c:
            cur = c.execute(
                "INSERT INTO draft_answers (kind, draft_id, reward, edited_text, annotator, "
                "timestamp, retracts) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, draft_id, reward, edited, annotator, ts or time.time(), retracts),
            )
            return int(cur.lastrowid)

    def _draft_answers(self, where: str = "", args: tuple = ()) -> list[DraftAnswer]:
        sql = (
            f"SELECT {_DRAFT_COLS}, {_ANSWER_COLS} FROM draft_answers a "
            f"JOIN drafts d ON d.draft_id = a.draft_id {where} ORDER BY a.answer_id"
        )
        return [_answer(r) for r in self._conn.execute(sql, args)]

    def draft_answers_since(self, after_id: int = 0) -> list[DraftAnswer]:
        """Every answer and retraction with id > ``after_id``, in order (the trainer's read)."""
        return self._draft_answers("WHERE a.answer_id > ?", (after_id,))

    def all_draft_answers(self) -> list[DraftAnswer]:
        return self._draft_answers()

    def active_draft_answers(self, task: str | None = None) -> list[DraftAnswer]:
        """Answers not retracted, on items that are not excluded, in order."""
        where = (
            f"WHERE a.kind = 'answer' AND a.answer_id NOT IN ({_RETRACTED}) "
            f"AND d.item_id NOT IN ({exclusions.EXCLUDED_IDS_SQL})"
        )
        args: tuple = ()
        if task is not None:
            where += " AND d.task = ?"
            args = (task,)
        return self._draft_answers(where, args)

    def retracted_draft_answer_ids(self) -> set[int]:
        return {r[0] for r in self._conn.execute(_RETRACTED)}


def _fields(d: NewDraft) -> tuple:
    return (
        d.item_id,
        d.task,
        d.prompt,
        d.text,
        tuple(int(t) for t in d.token_ids),
        float(d.logprob),
        int(d.policy_version),
        d.fingerprint,
        int(d.candidate),
    )


def compose_prompt(item: Item, prompt: str) -> str:
    """What the language model is given for ``item``: the item's text (if any, cut to
    ``MAX_ITEM_CHARS``), a new line, then the task's prompt. An unreadable text file counts as
    no text (the draft is then made from the image or the prompt alone)."""
    from mmrl_desktop.core.data.loaders import item_file, load_text

    text = ""
    if item.text or item.text_inline:
        try:
            path = item_file(item, "text") if item.text else None
            text = load_text(path, item.text_inline)
        except Exception:  # unreadable: no text, the prompt alone
            text = ""
    text = " ".join(text.split())[:MAX_ITEM_CHARS]
    return f"{text}\n{prompt.strip()}" if text else prompt.strip()


def item_image(item: Item):
    """The item's image as an RGB ``PIL.Image`` for a vision-language model (None without one;
    an unreadable file raises the loaders' ``UnreadableFile``)."""
    if not item.image:
        return None
    from PIL import Image

    from mmrl_desktop.core.data.loaders import item_file, load_image

    data = load_image(item_file(item, "image"), max_side=1024)
    pixels = data.display
    image = Image.fromarray(pixels)
    return image.convert("RGB")
