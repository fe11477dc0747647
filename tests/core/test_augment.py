"""Augmentation of the replayed training batches (issue 17): per modality, flips and turns only
when the project says orientation does not matter, deterministic under a seed, and only in the
trainer's minibatches (``ReplayBuffer.sample``), never in what predictions and evaluations read."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.augment import Augmenter
from mmrl_desktop.core.learning.model.featurize import Featurizer
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row
from tests.core.enginefixtures import make_pngs


def _corner_images(n: int = 64, side: int = 32) -> torch.Tensor:
    """Dark images with a bright 8×8 block in the top-left corner."""
    x = torch.full((n, 3, side, side), 0.2)
    x[:, :, 2:10, 2:10] = 0.9
    return x


def _bright_quadrant(x: torch.Tensor) -> list[int]:
    """Index (0 = top-left, 1 = top-right, 2 = bottom-left, 3 = bottom-right) of each image's
    brightest quadrant."""
    h = x.shape[-1] // 2
    q = torch.stack(
        [x[..., :h, :h].sum((1, 2, 3)), x[..., :h, h:].sum((1, 2, 3))]
        + [x[..., h:, :h].sum((1, 2, 3)), x[..., h:, h:].sum((1, 2, 3))],
        1,
    )
    return q.argmax(1).tolist()


def test_no_flips_or_turns_unless_orientation_free():
    x = _corner_images()
    plain = Augmenter(orientation_free=False)({"image": x}, torch.Generator().manual_seed(0))[
        "image"
    ]
    assert set(_bright_quadrant(plain)) == {0}  # shifted by ≤ 2 px, never flipped or turned
    assert not torch.equal(plain, x)  # but shifted and jittered
    free = Augmenter(orientation_free=True)({"image": x}, torch.Generator().manual_seed(0))["image"]
    assert set(_bright_quadrant(free)) == {0, 1, 2, 3}
    assert float(free.min()) >= 0.0 and float(free.max()) <= 1.0


def test_config_switches():
    assert Augmenter.from_config(TrainConfig()) == Augmenter(orientation_free=False, shift=1 / 8)
    free = Augmenter.from_config(TrainConfig(orientation_free=True))
    assert free.orientation_free and free.shift == 1 / 16  # turns and flips vary them already
    assert Augmenter.from_config(TrainConfig(augment=False)) is None
    assert Augmenter.from_config(TrainConfig(image_shift=0.125)).shift == 0.125


def test_image_shift_bounds_the_translation():
    """``image_shift`` is the largest shift each way, a fraction of the side: a one-pixel dot
    in the middle of a 32 px image moves at most 4 px at 1/8, at most 2 at 1/16,
    and not at all at 0."""
    x = torch.zeros(64, 1, 32, 32)
    x[:, :, 16, 16] = 1.0
    for shift, most in ((0.125, 4), (1.0 / 16, 2), (0.0, 0)):
        aug = Augmenter(shift=shift, contrast=0, brightness=0)
        out = aug({"image": x}, torch.Generator().manual_seed(1))["image"]
        moved = [(out[i, 0] == out[i, 0].max()).nonzero()[0] - 16 for i in range(64)]
        assert max(int(d.abs().max()) for d in moved) == most
    with pytest.raises(UserError, match="image_shift"):
        TrainConfig(image_shift=0.5).validate()


def test_deterministic_under_a_seed_and_input_untouched():
    x = torch.rand(8, 3, 32, 32)
    inputs = {
        "image": x,
        "image_mask": torch.ones(8, dtype=torch.bool),
        "audio": torch.randn(8, 4000),
        "text": torch.randint(1, 50, (8, 12)),
    }
    before = {k: v.clone() for k, v in inputs.items()}
    aug = Augmenter(orientation_free=True)
    a = aug(inputs, torch.Generator().manual_seed(3))
    b = aug(inputs, torch.Generator().manual_seed(3))
    c = aug(inputs, torch.Generator().manual_seed(4))
    for k in inputs:
        assert torch.equal(a[k], b[k])
        assert torch.equal(inputs[k], before[k])
    assert torch.equal(a["image_mask"], inputs["image_mask"])
    assert not torch.equal(a["image"], c["image"])


def test_tiny_images_are_left_alone():
    """8×8 digits: no shift, no jitter, no draw from the generator (their training is exactly as
    before); flips and turns still when the project says orientation does not matter."""
    x = torch.rand(16, 1, 8, 8)
    g = torch.Generator().manual_seed(0)
    assert torch.equal(Augmenter()({"image": x}, g)["image"], x)
    assert torch.equal(g.get_state(), torch.Generator().manual_seed(0).get_state())
    turned = Augmenter(orientation_free=True)({"image": x}, g)["image"]
    assert not torch.equal(turned, x)
    assert torch.equal(turned.flatten(1).sort(1).values, x.flatten(1).sort(1).values)


def test_audio_shift_gain_and_masks():
    wave = torch.sin(torch.linspace(0, 400, 8000)).repeat(6, 1)
    out = Augmenter().audio(wave, torch.Generator().manual_seed(0))
    assert out.shape == wave.shape and torch.isfinite(out).all()
    assert not torch.allclose(out, wave)
    ratio = out.abs().amax(1) / wave.abs().amax(1)
    assert bool(((ratio > 0.3) & (ratio < 2.5)).all())  # ±6 dB, give or take the masks


def test_text_token_dropout_keeps_padding_and_a_token():
    ids = torch.tensor([[5, 6, 7, 8, 9, 10, 11, 12, 0, 0], [4, 0, 0, 0, 0, 0, 0, 0, 0, 0]])
    ids = ids.repeat(20, 1)
    out = Augmenter(token_drop=0.5).text(ids, torch.Generator().manual_seed(0))
    assert bool(((out == 0) | (out == ids)).all())  # only drops, padding stays padding
    assert bool(((out != 0).sum(1) >= 1).all())  # never an empty text
    assert int((out == 0).sum()) > int((ids == 0).sum())


def test_only_the_trainers_minibatches_are_augmented(tmp_path):
    files = sorted(make_pngs(tmp_path, 4).rglob("*.png"))
    items = {str(i): Item(str(i), image=str(f)) for i, f in enumerate(files)}
    cfg = ModelConfig.from_dict({"modalities": "image", "image_size": 32, "image_channels": 1})
    fz = Featurizer(cfg)
    buf = ReplayBuffer(["label"], fz, items.__getitem__, Augmenter.from_config(TrainConfig()))
    for i in range(len(files)):
        buf.add(Row(i + 1, str(i), "label", 0, 1, 0.5, -1))
    rows = buf.rows[:3]
    plain = fz.batch([items[r.item_id] for r in rows])["image"]
    assert torch.equal(buf.make_batch(rows).inputs["image"], plain)  # what evaluation reads
    sampled = buf.sample(len(files) + 1, torch.Generator().manual_seed(0))  # every row, shuffled
    assert sampled.inputs["image"].shape[0] == len(files)
    clean = fz.batch([items[str(i)] for i in range(len(files))])["image"]
    assert not any(torch.equal(s, c) for s in sampled.inputs["image"] for c in clean)
    buf.augment = None
    again = buf.sample(len(files) + 1, torch.Generator().manual_seed(0))
    assert all(any(torch.equal(s, c) for c in clean) for s in again.inputs["image"])


@pytest.mark.parametrize("algorithm", [{}, {"orientation_free": True}, {"augment": False}])
def test_the_trainers_replay_augments_as_the_project_says(tmp_path, algorithm):
    """The app's trainer (not only a hand-made buffer) augments its minibatches, with the
    project's orientation setting; ``augment = false`` turns it off."""
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import answer, digits_project

    project = digits_project(tmp_path, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    answer(project, 2)
    assert trainer.step().did_update
    aug = trainer.buffer.augment
    if algorithm.get("augment") is False:
        assert aug is None
    else:
        assert isinstance(aug, Augmenter)
        assert aug.orientation_free is bool(algorithm.get("orientation_free"))
    trainer.close()
