"""While the answers are at most a batch, the replay takes every answer once per update, or —
``TrainConfig.draws_with_replacement`` — draws as many with replacement (docs/benchmarks.md §5zu);
−1, the default, is the algorithm's choice: ``supervised`` while the answers are few (§5zw)."""

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


def test_the_settings_are_checked():
    for bad in (2, -2):
        with pytest.raises(UserError, match="draws_with_replacement"):
            TrainConfig.from_dict({"draws_with_replacement": bad})
    for bad in (-0.5, 11.0):
        with pytest.raises(UserError, match="refit_follow"):
            TrainConfig.from_dict({"refit_follow": bad})
    config = TrainConfig()
    assert (config.draws_with_replacement, config.refit_follow) == (-1, -1.0)  # the choice


def _algorithm(name: str, labels: int, **config):
    from mmrl_desktop.core.config import ModelConfig
    from mmrl_desktop.core.learning.algorithms import ALGORITHMS
    from mmrl_desktop.core.learning.model.policy import build_policy

    model = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
    )
    tasks = {"label": labels, "second": 2}  # the task with the most labels decides
    return ALGORITHMS[name](
        build_policy(model, tasks), tasks, TrainConfig(algorithm=name, **config)
    )


def test_supervised_learns_few_answers_harder_by_its_own_choice():
    """−1: ``supervised`` draws with replacement and follows its refits while the answers are
    fewer than 8 per label (docs/benchmarks.md §5zw); the thumbs learners never; 0 and 1 are
    the project's own choice for every algorithm."""
    ten, three = _algorithm("supervised", 10), _algorithm("supervised", 3)
    assert ten.draws_with_replacement_at(30) and ten.draws_with_replacement_at(79)
    assert not ten.draws_with_replacement_at(80)
    assert (ten.refit_follow_at(60), ten.refit_follow_at(80)) == (1.0, 0.0)
    assert three.draws_with_replacement_at(23) and not three.draws_with_replacement_at(24)
    assert (three.refit_follow_at(23), three.refit_follow_at(24)) == (1.0, 0.0)
    for name in ("default", "reinforce", "egreedy-q"):
        other = _algorithm(name, 10)
        assert not other.draws_with_replacement_at(10) and other.refit_follow_at(10) == 0.0
    off = _algorithm("supervised", 10, draws_with_replacement=0, refit_follow=0.0)
    assert not off.draws_with_replacement_at(10) and off.refit_follow_at(10) == 0.0
    on = _algorithm("default", 3, draws_with_replacement=1, refit_follow=2.0)
    assert on.draws_with_replacement_at(100) and on.refit_follow_at(100) == 2.0


def test_the_trainer_draws_as_the_project_says(tmp_path):
    for setting, name in ((0, "default"), (1, "default"), (-1, "supervised"), (-1, "default")):
        project = digits_project(tmp_path / f"{setting}{name}", algorithm={
            "batch_size": 32, "draws_with_replacement": setting, "algorithm": name})  # fmt: skip
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
        if setting == 1 or name == "supervised":  # 10 answers of 10 labels: few
            assert min(distinct) < 10  # some answer drawn twice
        else:
            assert distinct == [10] * len(seen)
