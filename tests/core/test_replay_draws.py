"""While the answers are at most a batch, the replay takes every answer once per update, or —
``TrainConfig.draws_with_replacement`` — draws as many with replacement (docs/benchmarks.md §5zu)."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project


def _buffer(tmp_path, rows: int):
    from mmrl_desktop.core.config import ModelConfig
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.learning.model.featurize import Featurizer
    from mmrl_desktop.core.learning.replay import ReplayBuffer, Row
    from tests.core.enginefixtures import make_pngs

    make_pngs(tmp_path, (rows + 1) // 2)  # two classes: one file per row, each row its own item
    files = sorted(tmp_path.rglob("*.png"))
    items = {str(i): Item(str(i), image=str(f)) for i, f in enumerate(files)}
    config = ModelConfig(modalities="image", image_size=16, image_channels=1)
    buf = ReplayBuffer(["label"], Featurizer(config), items.__getitem__)
    for i in range(rows):
        buf.add(Row(i + 1, str(i), "label", i % 4, 1, 0.25, -1))
    return buf


def test_few_answers_once_each_or_drawn_with_replacement(tmp_path):
    buf = _buffer(tmp_path, 12)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):  # every row once, in a new order each time
        ids = buf.sample(32, gen).item_ids
        assert len(ids) == 12 and sorted(ids) == sorted(r.item_id for r in buf.rows)
    draws = [buf.sample(32, torch.Generator().manual_seed(s), replace=True) for s in range(5)]
    assert all(len(b.item_ids) == 12 for b in draws)  # as many rows as there are answers
    rows = [r.item_id for r in buf.rows]
    assert len(set(rows)) == 12
    # with replacement some rows come twice and others not at all (12 draws from 12: the chance
    # of a permutation is 12!/12^12 ≈ 5e-5 per draw)
    assert all(sorted(b.item_ids) != sorted(rows) for b in draws)
    again = buf.sample(32, torch.Generator().manual_seed(3), replace=True)
    assert again.item_ids == draws[3].item_ids  # the generator decides
    # more answers than a batch: drawn with replacement either way
    assert len(buf.sample(8, torch.Generator().manual_seed(0), replace=False).item_ids) == 8


def test_the_setting_is_checked_and_off_by_default():
    with pytest.raises(UserError, match="draws_with_replacement"):
        TrainConfig.from_dict({"draws_with_replacement": 2})
    with pytest.raises(UserError, match="draws_with_replacement"):
        TrainConfig.from_dict({"draws_with_replacement": -1})
    for name in ("supervised", "default", "reinforce"):  # judged and not adopted (§5zu)
        assert TrainConfig(algorithm=name).draws_with_replacement == 0


def test_the_trainer_draws_as_the_project_says(tmp_path):
    for setting in (0, 1):
        project = digits_project(tmp_path / str(setting), algorithm={
            "batch_size": 32, "draws_with_replacement": setting})  # fmt: skip
        trainer = Trainer(project, device="cpu", checkpoints=False)
        answer(project, 10)
        seen = []
        trainer.step()  # builds and trains once
        sample = trainer.buffer.sample

        def spy(*args, sample=sample, seen=seen, **kw):
            batch = sample(*args, **kw)
            seen.append(batch.item_ids)
            return batch

        trainer.buffer.sample = spy
        trainer.train_pending()
        trainer.close()
        assert seen and all(len(ids) == 10 for ids in seen)
        distinct = [len(set(ids)) for ids in seen]
        if setting:
            assert min(distinct) < 10  # some answer drawn twice
        else:
            assert distinct == [10] * len(seen)
