"""reinforce: it learns from thumbs alone instead of collapsing onto one label.

The collapse this guards against: with ten labels most early thumbs are 👎, a few updates push π
to put ~all its mass on one label for every item, and then every gradient term vanishes (the
favourite's score 1 − π ≈ 0, an explored label's importance weight π/μ ≈ 0, and the reverse KL's
gradient π ⊙ (…) ≈ 0), so the policy predicts one label forever. The learnability test replays a
small ten-label bandit the way the trainer does (8 updates per answer on a uniform minibatch of
the answers so far) and fails on such a policy.
"""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.algorithms.base import ReplayBatch, TaskFeedback
from mmrl_desktop.core.learning.model.policy import build_policy

K = 10


def _data(n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """8×8 grey images: class c is a bright 2×2 block at its own place, on noise."""
    y = torch.randint(K, (n,), generator=g)
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    for c in range(K):
        r, col = divmod(c, 4)
        x[y == c, :, 2 * r : 2 * r + 2, 2 * col : 2 * col + 2] += 0.7
    return x.clamp(0, 1), y


def _inputs(x: torch.Tensor) -> dict[str, torch.Tensor]:
    return {"image": x, "image_mask": torch.ones(len(x), dtype=torch.bool)}


@pytest.fixture
def one_thread():
    """One torch thread, as the trainer runs (two threads on a busy 2-core machine crawl)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _learn(seed: int, options: dict | None = None, answers: int = 50, per_answer: int = 8):
    """(held-out accuracy, mean greedy max-probability) after ``answers`` thumbs."""
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
    )
    config = TrainConfig(algorithm="reinforce", seed=seed, options=options or {})
    algo = ALGORITHMS["reinforce"](build_policy(cfg, {"label": K}), {"label": K}, config)
    g = torch.Generator().manual_seed(seed)
    xs, ys = _data(answers, g)
    x_test, y_test = _data(400, g)
    shown, reward, prop = [], [], []
    for i in range(answers):
        a = algo.act(_inputs(xs[i : i + 1]), g)["label"]
        shown.append(int(a.labels[0]))
        reward.append(1.0 if shown[-1] == int(ys[i]) else -1.0)
        prop.append(float(a.propensity[0]))
        for _ in range(per_answer):
            idx = torch.randint(i + 1, (min(config.batch_size, i + 1),), generator=g)
            fb = TaskFeedback(
                torch.tensor(shown)[idx],
                torch.tensor(reward)[idx],
                torch.tensor(prop)[idx],
                torch.full((len(idx),), -1),
            )
            algo.update(ReplayBatch(_inputs(xs[idx]), {"label": fb}))
    p = algo.greedy(_inputs(x_test))["label"]
    return float((p.argmax(-1) == y_test).float().mean()), float(p.max(-1).values.mean())


def test_reinforce_learns_from_thumbs_without_collapsing(one_thread):
    acc, confidence = _learn(0)
    assert confidence < 0.95  # not all the mass on one label
    assert acc > 0.18  # chance is 0.10


def test_reverse_kl_with_running_baseline_collapses(one_thread):
    """The previous form (reverse KL, running-mean baseline) ends at one label: what the
    learnability test above catches."""
    acc, confidence = _learn(0, {"kl_direction": "reverse", "baseline": "running"})
    assert confidence > 0.99 and acc < 0.15


@pytest.mark.parametrize("baseline", ["expected", "rloo", "running"])
def test_baselines(baseline):
    algo = ALGORITHMS["reinforce"](
        build_policy(
            ModelConfig.from_dict(
                {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
            ),
            {"label": 4},
        ),
        {"label": 4},
        TrainConfig(options={"baseline": baseline}),
    )
    logp = torch.log(torch.tensor([[0.25] * 4, [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]]))
    reward = torch.tensor([1.0, -1.0, -1.0])
    answered = torch.ones(3)
    b = algo._baseline("label", logp, reward, answered)
    if baseline == "expected":  # 2 Σ π² − 1: the expected thumb if π's beliefs were right
        assert torch.allclose(b, torch.tensor([-0.5, 1.0, 0.0]))
    elif baseline == "rloo":  # the mean thumb of the other rows
        assert torch.allclose(b, torch.tensor([-1.0, 0.0, 0.0]))
    else:
        assert torch.equal(b, torch.zeros(3))


def test_bad_options():
    policy = build_policy(
        ModelConfig.from_dict(
            {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
        ),
        {"label": 4},
    )
    for bad in ({"baseline": "median"}, {"kl_direction": "sideways"}):
        with pytest.raises(UserError, match="reinforce"):
            ALGORITHMS["reinforce"](policy, {"label": 4}, TrainConfig(options=bad))
