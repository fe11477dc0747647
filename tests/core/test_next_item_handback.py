"""uncertain/diverse hand back to the queue order once a share of the pool has answers (issue
19, benchmarks §6u; off by default): the rule, the trainer's chooser and its Info, the bench's
Asker."""

from __future__ import annotations

import pytest

from mmrl_desktop.core.learning import next_item
from mmrl_desktop.core.learning.next_item import NextItemChooser, handed_back
from tests.core.enginefixtures import TINY_MODEL, make_pngs
from tests.core.test_next_item import _trainer


@pytest.fixture(autouse=True)
def _half(monkeypatch):
    """The rule at a share of .5 (off by default: benchmarks §6u)."""
    monkeypatch.setattr(next_item, "HANDBACK_SHARE", 0.5)


def test_the_hand_back_is_off_by_default(monkeypatch):
    monkeypatch.undo()
    assert next_item.HANDBACK_SHARE is None
    assert not handed_back("diverse", 1000, 1000)


def test_uncertain_and_diverse_hand_back_at_half_the_pool_and_the_others_never():
    for order in ("uncertain", "diverse"):
        assert not handed_back(order, 167, 336)
        assert handed_back(order, 168, 336)
    assert not handed_back("likely-positive", 1000, 1000)  # screening goes on to the end
    assert not handed_back("shuffle", 1000, 1000)
    assert not handed_back("diverse", 0, 0)  # no pool: nothing to say


def test_the_chooser_hands_back_once_and_the_loop_says_so(tmp_path, monkeypatch):
    """Before half the pool has answers it chooses; from then on it sends no picks, is no longer
    active, and the trainer loop sends one Info for the status bar."""
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)
    monkeypatch.setattr(next_item, "READY_Z", None)
    from mmrl_desktop.core.learning.trainer_loop import _choose_next
    from mmrl_desktop.core.learning.trainer_messages import Info, NextItems

    project, trainer = _trainer(tmp_path, next_item="diverse", next_item_random=0.0)
    trainer.info()
    pool = list(trainer.pool_ids)
    chooser = NextItemChooser(trainer.config)
    assert chooser.choose(trainer, set(pool[:1])) and chooser.handback_news() == {}
    half = set(pool[: (len(pool) + 1) // 2])
    assert chooser.choose(trainer, half) == []
    assert not chooser.active and chooser.handed_back_at == len(half)
    assert chooser.handback_news() == {"next_item_handed_back": len(half)}
    assert chooser.handback_news() == {}  # once

    with project.open_store() as store:
        for item_id in half:
            store.record_feedback(item_id, "label", "dark", 0.5, 1)
    sent = []
    fresh = NextItemChooser(trainer.config)  # e.g. a restarted trainer: says so again
    _choose_next(trainer, fresh, 1, sent.append)
    assert not any(isinstance(ev, NextItems) for ev in sent)
    assert [ev.info for ev in sent if isinstance(ev, Info)] == [
        {"next_item_handed_back": len(half)}
    ]
    _choose_next(trainer, fresh, 2, sent.append)  # inactive now: nothing more
    assert len(sent) == 1
    trainer.close(checkpoint=False)


@pytest.mark.parametrize("order", ["uncertain", "diverse"])
def test_the_bench_asks_the_stream_order_from_half_the_stream_on(tmp_path, monkeypatch, order):
    """The Asker chooses after the warm-up, then, from half the stream answered on, asks the
    unanswered items in the stream's order; the JSON says when (``handed_back_at``)."""
    from mmrl_desktop.core.learning.trainer import Trainer
    from mmrl_desktop.core.tools.bench import PICK_EVERY, Asker, _project, _split
    from tests.core.test_bench import FAST

    monkeypatch.setattr(next_item, "READY_Z", None)
    src = make_pngs(tmp_path / "png", per_class=8)
    project = _project(tmp_path, str(src), {"seed": 0, "device": "cpu"} | FAST, TINY_MODEL)
    with project.open_store() as writer:
        stream, _test, _ = _split(writer, str(src), 0.25, 0)
    trainer = Trainer(project, queue_size=0, checkpoints=False, resume=False)
    asker = Asker(order, stream, trainer, 0, 0.0, None, "default", 0)
    half = (len(stream) + 1) // 2
    asked = [asker.next() for _ in range(half)]
    assert asker.ready_at == 0 and asker.handed_back_at is None
    # the picks of the last choice run out, then the stream's order for the rest of the round
    queued = len(asker.queue)
    asked += [asker.next() for _ in range(queued)]
    rest = [asker.next() for _ in range(len(stream) - half - queued)]
    assert asker.handed_back_at is not None and asker.handed_back_at >= half
    assert asker.handed_back_at <= half + PICK_EVERY
    left = [it for it in stream if it not in asked]
    assert [it.item_id for it in rest] == [it.item_id for it in left]
    assert asker.describe()["handed_back_at"] == asker.handed_back_at
    trainer.close(checkpoint=False)
