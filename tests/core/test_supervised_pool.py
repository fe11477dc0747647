"""``supervised`` with the pool graph's pseudo-labels (``pseudo_weight`` > 0) and without."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.core.test_default_algorithm import _algo, _data, _Feat, _simulate

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_supervised_without_pseudo_weight_keeps_no_pool_and_builds_no_graph():
    algo, _ = _algo(name="supervised", pseudo_weight=0.0)
    feat = _Feat(_data()[0])
    algo.attach_pool([str(i) for i in range(90)], feat.batch)
    assert algo.pool_ids == [] and algo.pool_inputs is None
    assert algo.pool_sample([str(i) for i in range(90)]) == []  # nothing embedded up front
    assert len(_algo(name="supervised", pseudo_weight=1.0)[0].pool_sample(["a", "b"])) == 2
    algo, acc, _ = _simulate(30, name="supervised", pseudo_weight=0.0)
    assert not algo.fitted and algo.q == {} and algo.pool_ids == []
    assert acc >= 0.8


def test_supervised_learns_from_the_pool_by_default_its_items_augmented():
    """§5zz12's default: ``pseudo_weight = 1`` after 8 answers per label and 40 answers, the
    network taking the graph's place as far as it foretells better, the pool's items augmented as
    the answers are (the default algorithm keeps them as they are)."""
    algo = _algo(name="supervised")[0]
    o = algo.options
    assert (o.pseudo_weight, o.pseudo_after_few, o.pseudo_from, o.net_temper, o.net_score) == (
        1.0, True, 40, 1.0, "calibrated"
    )  # fmt: skip
    assert o.pool_augment and algo.augment is not None and algo.uses_pool
    assert not _algo()[0].options.pool_augment and _algo()[0].augment is None
    assert _algo(name="supervised", pool_augment=False)[0].augment is None


def test_supervised_with_pseudo_weight_learns_from_the_pools_posterior_and_acts_on_its_network():
    algo, acc, props = _simulate(
        30, name="supervised", pseudo_weight=1.0, pseudo_after_few=False, pseudo_from=0
    )
    assert algo.fitted and len(algo.pool_ids) == 90
    q = algo.q["label"]
    assert q.shape == (90, 4) and np.allclose(q.sum(1), 1)
    assert acc >= 0.8
    gen = torch.Generator().manual_seed(3)
    batch = _batch_of(algo, gen)
    metrics = algo.update(batch)
    assert "loss/pseudo_label" in metrics and metrics["loss/pseudo_label"] > 0
    # the label shown comes from the network (ε-greedy on its softmax), not the posterior
    x = _data()[0]
    feat = _Feat(x)
    ids = [str(i) for i in range(5)]
    act = algo.act(feat.batch(ids), torch.Generator().manual_seed(0), ids)["label"]
    assert torch.allclose(act.probs, algo.greedy(feat.batch(ids))["label"])


def _batch_of(algo, gen):
    from mmrl_desktop.core.learning.replay import ReplayBuffer

    buf = ReplayBuffer(["label"], _Feat(_data()[0]), lambda i: i)
    for r in algo.simulated_rows:
        buf.add(r)
    return buf.sample(8, gen)


def test_supervised_options_are_checked_and_named_for_supervised():
    from mmrl_desktop.core.errors import UserError

    with pytest.raises(UserError, match="^supervised: graph_k"):
        _algo(name="supervised", graph_k=0)


def test_pseudo_after_few_keeps_the_labels_alone_while_they_are_few():
    """Four labels: fewer than 8 × 4 answers are few, 40 are not."""
    gen = torch.Generator().manual_seed(3)
    algo = _simulate(30, name="supervised", pseudo_weight=1.0, pseudo_after_few=True)[0]
    assert algo.fitted and "loss/pseudo_label" not in algo.update(_batch_of(algo, gen))
    algo = _simulate(40, name="supervised", pseudo_weight=1.0, pseudo_after_few=True)[0]
    assert "loss/pseudo_label" in algo.update(_batch_of(algo, gen))


def test_pseudo_from_keeps_the_labels_alone_below_that_many_answers():
    gen = torch.Generator().manual_seed(3)
    algo = _simulate(40, name="supervised", pseudo_weight=1.0, pseudo_from=41)[0]
    assert algo.fitted and "loss/pseudo_label" not in algo.update(_batch_of(algo, gen))
    algo = _simulate(40, name="supervised", pseudo_weight=1.0, pseudo_from=40)[0]
    assert "loss/pseudo_label" in algo.update(_batch_of(algo, gen))


def test_pseudo_from_cannot_be_negative():
    from mmrl_desktop.core.errors import UserError

    with pytest.raises(UserError, match="^supervised: pseudo_from must be 0 or more"):
        _algo(name="supervised", pseudo_from=-1)


def test_supervised_options_leave_out_the_defaults_acting_knobs_and_show_its_own_first():
    from mmrl_desktop.core.errors import UserError
    from mmrl_desktop.core.learning.algorithm_options import options_help

    names = [n for n, _, _ in options_help("supervised")]
    assert names[:2] == ["pseudo_weight", "pseudo_after_few"]
    assert "optimism" not in names and "graph_k" in names
    assert "optimism" in [n for n, _, _ in options_help("default")]
    with pytest.raises(UserError, match="has no option.s. optimism"):
        _algo(name="supervised", optimism=3.0)


def test_supervised_without_the_pool_does_not_vote_for_new_items():
    """``new_item_vote`` needs the pool's posterior: without it the network alone."""
    alone = _algo(name="supervised", new_item_vote=True, pseudo_weight=0.0)[0]
    assert not alone.votes_for_new_items
    assert _algo(name="supervised", new_item_vote=True, pseudo_weight=1.0)[0].votes_for_new_items


def test_the_references_pool_log_probs_are_taken_only_when_the_kl_needs_them():
    algo = _simulate(40, name="supervised", pseudo_weight=1.0)[0]
    algo.update(_batch_of(algo, torch.Generator().manual_seed(3)))
    assert algo.ref_logp == {}  # supervised has no KL term
    algo = _simulate(40)[0]  # the default: kl_beta 0.01 on the pool items
    assert algo.ref_logp and algo.ref_logp["label"].shape == (90, 4)
    assert torch.equal(algo.ref_logp["label"], algo._pool_logp(algo.reference)["label"])
    state = algo.state_dict()
    algo.load_state_dict({k: v for k, v in state.items() if k != "reference"})  # an undo's
    assert algo.ref_logp  # the reference unchanged: its log-probs kept
    algo.load_state_dict(state)
    assert algo.ref_logp == {}
