"""Every algorithm: act/greedy shapes, propensities in (0, 1], update changes parameters."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.algorithms import ALGORITHM_NAMES, ALGORITHMS
from mmrl_desktop.core.learning.algorithms.base import ReplayBatch, TaskFeedback
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row


def _policy():
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
    )
    return build_policy(cfg, {"label": 4, "second": 3})


def _batch(b: int = 6) -> ReplayBatch:
    g = torch.Generator().manual_seed(0)
    inputs = {"image": torch.rand(b, 1, 8, 8, generator=g), "image_mask": torch.ones(b, dtype=bool)}
    fb = {
        "label": TaskFeedback(
            shown=torch.tensor([0, 1, 2, 3, 0, 1]),
            reward=torch.tensor([1.0, -1.0, -1.0, 1.0, 0.0, -1.0]),
            propensity=torch.tensor([0.5, 0.25, 1.0, 0.1, 1.0, 0.3]),
            corrected=torch.tensor([-1, 2, -1, -1, 3, 0]),
        ),
        "second": TaskFeedback(
            shown=torch.tensor([0, 0, 0, 0, 2, 0]),
            reward=torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
            propensity=torch.ones(b),
            corrected=torch.full((b,), -1),
        ),
    }
    return ReplayBatch(inputs, fb)


@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_act_update_shapes_and_learning(name):
    torch.manual_seed(0)
    algo = ALGORITHMS[name](_policy(), {"label": 4, "second": 3}, TrainConfig(algorithm=name))
    batch = _batch()
    gen = torch.Generator().manual_seed(1)
    actions = algo.act(batch.inputs, gen)
    assert set(actions) == {"label", "second"}
    a = actions["label"]
    assert a.labels.shape == (6,) and a.labels.dtype == torch.long
    assert ((a.labels >= 0) & (a.labels < 4)).all()
    assert ((a.propensity > 0) & (a.propensity <= 1)).all()
    assert a.probs.shape == (6, 4) and torch.allclose(a.probs.sum(-1), torch.ones(6))
    probs = algo.greedy(batch.inputs)
    assert probs["second"].shape == (6, 3)

    before = [p.detach().clone() for p in algo.policy.parameters()]
    for _ in range(3):
        metrics = algo.update(batch)
    assert all(k.split("/")[0] in {"loss", "kl", "reward", "policy"} for k in metrics)
    assert "loss/total" in metrics and all(v == v for v in metrics.values())
    changed = [not torch.equal(b, p) for b, p in zip(before, algo.policy.parameters(), strict=True)]
    assert any(changed)
    # the reference policy is frozen
    for p in algo.reference.parameters():
        assert not p.requires_grad


def test_default_refresh_fits_and_acts_by_thompson(tmp_path):
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.learning.model.featurize import Featurizer
    from tests.core.enginefixtures import make_pngs

    make_pngs(tmp_path, 4)
    files = sorted(tmp_path.rglob("*.png"))
    items = {str(i): Item(str(i), image=str(f)) for i, f in enumerate(files)}
    policy = _policy()
    algo = ALGORITHMS["default"](policy, {"label": 4, "second": 3}, TrainConfig())
    buf = ReplayBuffer(["label", "second"], Featurizer(policy.config), items.__getitem__)
    for i in range(len(files)):
        buf.add(Row(i + 1, str(i), "label", i % 4, 1 if i % 2 else -1, 0.25, -1))
    assert buf.remove(3) and not buf.remove(3) and len(buf) == len(files) - 1
    algo.refresh(buf)
    assert algo.fitted
    acts = algo.act(buf.sample(5, torch.Generator().manual_seed(0)).inputs)
    p = acts["label"].propensity
    assert ((p > 0) & (p <= 1)).all()


def test_options_are_validated():
    with pytest.raises(UserError, match="no option"):
        ALGORITHMS["default"](_policy(), {"label": 4}, TrainConfig(options={"warp": 9}))
    with pytest.raises(UserError, match="unknown algorithm"):
        TrainConfig.from_dict({"algorithm": "ppo-xl"})
    with pytest.raises(UserError, match="gamma"):
        TrainConfig.from_dict({"gamma": 0.9})


def test_state_dict_round_trip():
    a = ALGORITHMS["reinforce"](_policy(), {"label": 4, "second": 3}, TrainConfig())
    a.update(_batch())
    b = ALGORITHMS["reinforce"](_policy(), {"label": 4, "second": 3}, TrainConfig())
    b.load_state_dict(a.state_dict())
    x = _batch().inputs
    assert torch.equal(a.greedy(x)["label"], b.greedy(x)["label"])
    assert a.baseline == b.baseline


def test_every_option_has_a_help_sentence_and_the_table_names_every_algorithm():
    """Options carry per-field help like TrainConfig (the Settings dialog shows it), in one
    torch-free table whose names are the algorithms'."""
    from mmrl_desktop.core.learning.algorithm_options import OPTIONS, options_help

    assert set(OPTIONS) == set(ALGORITHMS) == set(ALGORITHM_NAMES)
    for name, cls in ALGORITHMS.items():
        assert cls.Options is OPTIONS[name]
        rows = options_help(name)
        unused = getattr(cls.Options, "NOT_USED", ())  # inherited knobs it has no use for
        kept = [f.name for f in dataclasses.fields(cls.Options) if f.name not in unused]
        assert sorted(r[0] for r in rows) == sorted(kept)
        for field_name, default, text in rows:
            assert len(text) > 10, (name, field_name)
            assert getattr(cls.Options(), field_name) == default
    assert options_help("default")[0] == ("graph_k", 5, "neighbours per item in the pool graph")


def test_the_options_table_imports_no_torch():
    code = (
        "import sys\n"
        "from mmrl_desktop.core.learning.algorithm_options import options_help\n"
        "assert options_help('reinforce')\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
