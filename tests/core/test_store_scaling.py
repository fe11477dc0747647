"""The store's reads of the answer log grow linearly with the log, never quadratically.

``evaluate`` on a project of 40,000 answers once took over 100 s: ``active_feedback()`` checked
each answer for a retraction with a correlated subquery that scanned the whole log again. The
check here is structural, not a timing: SQLite's progress handler counts the virtual-machine
instructions a read runs; a log four times longer must cost about four times as many (a
quadratic read costs sixteen times as many).
"""

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.store import FeedbackStore


def _store(path, answers: int) -> FeedbackStore:
    store = FeedbackStore(path)
    store.add_items([Item(f"i{k}", text_inline="w", labels={"t": "a"}) for k in range(50)])
    store.exclude_items(["i0"], reason="bad file")
    with store._tx() as c:
        c.executemany(
            "INSERT INTO events (kind, item_id, task, shown_label, propensity, reward, "
            "timestamp) VALUES ('feedback', ?, 't', 'a', 0.5, 1, 1.0)",
            [(f"i{k % 50}",) for k in range(answers)],
        )
        c.executemany(
            "INSERT INTO events (kind, item_id, task, timestamp, retracts) "
            "VALUES ('retraction', 'i1', 't', 1.0, ?)",
            [(k,) for k in range(2, answers, 10)],
        )
    return store


def _instructions(store: FeedbackStore, read) -> int:
    count = [0]

    def tick() -> int:
        count[0] += 1
        return 0

    store._conn.set_progress_handler(tick, 100)
    try:
        read(store)
    finally:
        store._conn.set_progress_handler(None, 100)
    return count[0]


@pytest.mark.parametrize(
    "read",
    [FeedbackStore.active_feedback, FeedbackStore.answered_item_ids],
    ids=["active_feedback", "answered_item_ids"],
)
def test_reads_of_the_log_are_linear(tmp_path, read):
    small = _store(tmp_path / "small.sqlite", 1000)
    large = _store(tmp_path / "large.sqlite", 4000)
    try:
        assert len(read(large)) >= len(read(small))
        ratio = _instructions(large, read) / max(1, _instructions(small, read))
    finally:
        small.close()
        large.close()
    assert ratio < 6, f"4x the answers cost {ratio:.1f}x the work (quadratic?)"


def test_active_feedback_leaves_out_retracted_and_excluded(tmp_path):
    store = _store(tmp_path / "s.sqlite", 100)
    try:
        ids = [e.event_id for e in store.active_feedback()]
        assert ids and all(e.item_id not in ("i0",) for e in store.active_feedback())
        assert not set(ids) & store.retracted_ids()
        assert len(ids) == 100 - 2 - len(store.retracted_ids())  # i0 answered twice
    finally:
        store.close()
