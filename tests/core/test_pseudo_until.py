"""``[algorithm.options] pseudo_until`` and ``pseudo_fixed_until``: when thumbs only's pool
pseudo-labels stop. −1, the algorithm's choice, is for projects of pictures above 8 px or sounds
read by the built-in encoders (``fusion.from_scratch``) 8 answers per label with 8 labels or more
(ADR 0043) and, with fewer, 150 answers while the graph is on a fixed view (ADR 0044); no limit
elsewhere; ``supervised`` keeps its own rules (docs/benchmarks.md §5zz27, §5zz28, §5zz34)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.algorithm_options import DefaultOptions
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.model.fusion import from_scratch, many_labels_from_scratch
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row
from tests.core.test_default_algorithm import K, _algo, _data, _Feat

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize(
    "model, labels, many",
    [
        ({"modalities": "image", "image_size": 32}, 10, True),
        ({"modalities": "image", "image_size": 64}, 7, False),
        ({"modalities": "audio"}, 8, True),
        ({"modalities": "image", "image_size": 8}, 10, False),  # digits' tiny design
        ({"modalities": "text"}, 10, False),
        ({"modalities": "image", "image_size": 32, "image_encoder": "resnet18"}, 10, False),
        ({"modalities": "image", "image_size": 32, "fusion_mlp": "on"}, 10, True),  # not MLP's
    ],
)
def test_the_scope_is_pictures_and_sounds_of_many_labels(model, labels, many):
    assert many_labels_from_scratch(ModelConfig.from_dict(model), {"t": labels}) is many


@pytest.mark.parametrize(
    "model, scratch",
    [
        ({"modalities": "image", "image_size": 64}, True),
        ({"modalities": "audio"}, True),
        ({"modalities": "image,audio", "image_size": 32}, True),
        ({"modalities": "image", "image_size": 8}, False),  # digits' tiny design
        ({"modalities": "image,text", "image_size": 32}, False),  # a text in the mix
        ({"modalities": "image", "image_size": 32, "image_encoder": "resnet18"}, False),
    ],
)
def test_from_scratch_is_pictures_above_8_px_and_sounds_by_the_built_in_encoders(model, scratch):
    assert from_scratch(ModelConfig.from_dict(model)) is scratch


def _built(labels: int, name: str = "default", size: int = 32, **options):
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": size, "image_channels": 1, "embed_dim": 16}
    )
    policy = build_policy(cfg, {"t": labels})
    return ALGORITHMS[name](policy, {"t": labels}, TrainConfig(options=options))


def test_the_algorithms_choice_is_eight_answers_per_label_where_the_labels_are_many():
    assert _built(10, pseudo_until=-1).pseudo_until == 80
    assert _built(8, pseudo_until=-1).pseudo_until == 64
    assert _built(3, pseudo_until=-1).pseudo_until == 0  # few labels: no limit
    assert _built(10, size=8, pseudo_until=-1).pseudo_until == 0  # the 8 px design
    assert _built(10, pseudo_until=50).pseudo_until == 50  # a number is taken as it is
    assert DefaultOptions().pseudo_until == -1  # the default (ADR 0043)
    assert _built(10).pseudo_until == 80 and _built(5).pseudo_until == 0
    assert _built(10, pseudo_until=0).pseudo_until == 0  # always, as before ADR 0043
    # supervised's pseudo-labels follow the right labels: its own rules, not this one
    assert _built(10, name="supervised").pseudo_until == 0
    with pytest.raises(UserError, match="no option"):
        _built(10, name="supervised", pseudo_until=-1)


def test_the_algorithms_choice_on_a_fixed_view_is_150_answers_where_the_labels_are_few():
    assert _built(3).pseudo_fixed_until == 150 and _built(7).pseudo_fixed_until == 150
    assert _built(8).pseudo_fixed_until == 0  # many labels: 8 per label instead (ADR 0043)
    assert _built(3, size=8).pseudo_fixed_until == 0  # the 8 px design keeps its pseudo-labels
    assert _built(3, pseudo_fixed_until=0).pseudo_fixed_until == 0  # off
    assert _built(3, pseudo_fixed_until=60).pseudo_fixed_until == 60  # taken as it is
    assert _built(3, name="supervised").pseudo_fixed_until == 0  # its own rules
    with pytest.raises(UserError, match="no option"):
        _built(3, name="supervised", pseudo_fixed_until=150)


def test_a_bad_value_is_one_sentence():
    with pytest.raises(UserError, match="pseudo_until is −1"):
        DefaultOptions(pseudo_until=-2).validate()


def _pseudo_losses(until: int, answers: int = 14, **options) -> list[bool]:
    """Thumbs on the pool's items in turn; after each, whether an update had a pseudo-label
    loss."""
    x, y = _data()
    algo, config = _algo(0, pseudo_until=until, **options)
    feat = _Feat(x)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    algo.attach_pool([str(i) for i in range(90)], feat.batch)
    gen = torch.Generator().manual_seed(1)
    act_gen = torch.Generator().manual_seed(2)
    seen = []
    for t in range(answers):
        a = algo.act(feat.batch([str(t)]), act_gen, [str(t)])["label"]
        shown = int(a.labels[0])
        reward = 1 if shown == y[t] else -1
        buf.add(Row(t + 1, str(t), "label", shown, reward, float(a.propensity[0]), -1))
        algo.refresh(buf)
        metrics = algo.update(buf.sample(config.batch_size, gen))
        seen.append("loss/pseudo_label" in metrics)
    return seen


def test_the_pseudo_labels_stop_once_the_answers_reach_the_limit():
    assert K == 4
    limited, plain = _pseudo_losses(10), _pseudo_losses(0)
    assert all(plain) and all(limited[:9])
    assert not any(limited[9:])  # from the 10th answer on: the answers alone
    assert np.array_equal(limited[:9], plain[:9])


def _net_weights(after: float, until: int = 10, answers: int = 14) -> list[float]:
    """Thumbs on the pool's items in turn; after each refresh, the network's weight in the
    posterior the labels shown are drawn from."""
    x, y = _data()
    algo, _ = _algo(0, pseudo_until=until, net_after_pseudo=after)
    feat = _Feat(x)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    algo.attach_pool([str(i) for i in range(90)], feat.batch)
    act_gen = torch.Generator().manual_seed(2)
    weights = []
    for t in range(answers):
        a = algo.act(feat.batch([str(t)]), act_gen, [str(t)])["label"]
        shown = int(a.labels[0])
        buf.add(Row(t + 1, str(t), "label", shown, 1 if shown == y[t] else -1, 1.0, -1))
        algo.refresh(buf)
        weights.append(algo.views.net_weight)
    return weights


def test_net_after_pseudo_lets_the_network_act_once_the_pseudo_labels_stop():
    weights = _net_weights(1.0)
    assert weights[:9] == [0.0] * 9  # the graph acts while it teaches
    assert weights[9:] == [1.0] * 5  # from the 10th answer: the network's probabilities
    assert _net_weights(0.0) == [0.0] * 14  # off (the default): the graph acts throughout
    assert _net_weights(1.0, until=0) == [0.0] * 14  # pseudo-labels throughout: the graph acts
    assert DefaultOptions().net_after_pseudo == 0.0
    with pytest.raises(UserError, match="net_after_pseudo is from 0 to 1"):
        DefaultOptions(net_after_pseudo=1.5).validate()


def test_pseudo_fixed_until_stops_the_pseudo_labels_while_the_graph_is_on_a_fixed_view():
    algo, _ = _algo(0, pseudo_until=0, pseudo_fixed_until=10)
    algo.answers = 9
    algo.views.chosen = "pixels"
    assert not algo.pseudo_done  # fewer answers than the limit: the pseudo-labels go on
    algo.answers = 10
    assert algo.pseudo_done  # from the limit on, on a fixed view: stopped
    algo.views.chosen = "embedding"
    assert not algo.pseudo_done  # on the policy's own embedding: they go on
    off, _ = _algo(0, pseudo_until=0)
    off.answers, off.views.chosen = 500, "pixels"
    assert not off.pseudo_done  # 0, the default: off
    assert DefaultOptions().pseudo_fixed_until == -1  # the algorithm's choice (ADR 0044)
    with pytest.raises(UserError, match="pseudo_fixed_until is −1"):
        DefaultOptions(pseudo_fixed_until=-2).validate()


def test_pseudo_fixed_until_leaves_the_pool_batch_out_from_the_limit_on_a_fixed_view():
    # on the 8 px design the graph stays on the pixels, a fixed view
    limited, plain = _pseudo_losses(0, pseudo_fixed_until=10), _pseudo_losses(0)
    assert all(plain) and all(limited[:9])
    assert not any(limited[9:])
    assert np.array_equal(limited[:9], plain[:9])
