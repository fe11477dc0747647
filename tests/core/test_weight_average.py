"""The model shown is a moving average of the trained weights (``TrainConfig.weight_average``,
``Algorithm.shown``): how it follows the weights, what predicts from it, renewals, checkpoints,
label growth, and the models that have none."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.config import TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.algorithms import ALGORITHM_NAMES, ALGORITHMS
from mmrl_desktop.core.learning.algorithms.base import HOLD_ANSWERS
from mmrl_desktop.core.learning.growth import grow_state
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project
from tests.core.test_algorithms import _batch, _policy

NUM = {"label": 4, "second": 3}


def _algo(name: str = "supervised", decay: float = 0.9, **config):
    torch.manual_seed(0)
    cfg = TrainConfig(algorithm=name, weight_average=decay, **config)
    return ALGORITHMS[name](_policy(), NUM, cfg)


def _floats(module) -> list[torch.Tensor]:
    return [v.detach().clone() for v in module.state_dict().values() if v.is_floating_point()]


def test_the_average_follows_the_weights_with_a_short_memory_at_first():
    algo = _algo(decay=0.9)
    expected = _floats(algo.policy)
    batch = _batch()
    for n in range(1, 9):
        algo.update(batch)
        d = min(0.9, (1 + n) / (10 + n))  # .18, .25, … then capped at .9
        expected = [
            d * e + (1 - d) * w for e, w in zip(expected, _floats(algo.policy), strict=True)
        ]
    got = _floats(algo.average)
    assert algo.averaged == 8
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(got, expected, strict=True))
    assert any(not torch.equal(g, w) for g, w in zip(got, _floats(algo.policy), strict=True))


@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_every_algorithm_predicts_from_the_average(name):
    algo = _algo(name)
    batch = _batch()
    for _ in range(5):
        algo.update(batch)
    assert algo.shown is algo.average
    probs = algo.greedy(batch.inputs)
    algo.average = None  # the trained weights themselves
    live = algo.greedy(batch.inputs)
    assert any(not torch.allclose(probs[t], live[t]) for t in probs)


def test_with_the_average_off_or_a_pretrained_encoder_the_trained_weights_are_shown():
    off = _algo(decay=0.0)
    assert off.average is None and off.shown is off.policy and "average" not in off.state_dict()
    policy = _policy()
    next(policy.parameters()).requires_grad_(False)  # not trained from scratch: no copy kept
    frozen = ALGORITHMS["supervised"](policy, NUM, TrainConfig(weight_average=0.99))
    assert frozen.average is None and frozen.shown is frozen.policy


def test_a_renewal_starts_the_average_over_from_the_renewed_weights():
    algo = _algo(shrink_perturb=0.5)
    batch = _batch()
    for _ in range(4):
        algo.update(batch)
    assert algo.renew_if_due(4) == {}  # the first call notes the renewal it already had: none
    assert algo.renew_if_due(32)["train/renewed_at_answers"] == 32.0
    assert algo.averaged == 0
    assert all(
        torch.equal(a, w) for a, w in zip(_floats(algo.average), _floats(algo.policy), strict=True)
    )


def test_the_average_survives_a_checkpoint_and_an_older_one_starts_it_over():
    algo = _algo()
    batch = _batch()
    for _ in range(6):
        algo.update(batch)
    state = algo.state_dict()
    again = _algo()
    again.load_state_dict(state)
    assert again.averaged == 6
    assert all(
        torch.equal(a, b)
        for a, b in zip(_floats(again.average), _floats(algo.average), strict=True)
    )
    older = {k: v for k, v in state.items() if k not in ("average", "averaged")}
    third = _algo()
    third.load_state_dict(older)
    assert third.averaged == 0
    assert all(
        torch.equal(a, w) for a, w in zip(_floats(third.average), _floats(algo.policy), strict=True)
    )


def test_a_grown_label_set_grows_the_average_too():
    torch.manual_seed(0)
    cfg_old = TrainConfig(weight_average=0.9)
    old = ALGORITHMS["supervised"](
        build_policy(_policy().config, {"label": 4}), {"label": 4}, cfg_old
    )
    batch = _batch()
    old.update(type(batch)(batch.inputs, {"label": batch.feedback["label"]}))
    labels = {"label": ["a", "x", "b", "c", "d"], "second": ["p", "q", "r"]}
    num = {t: len(v) for t, v in labels.items()}
    new = ALGORITHMS["supervised"](build_policy(_policy().config, num), num, cfg_old)
    names = [n for n, _ in new.policy.named_parameters()]
    new.load_state_dict(
        grow_state(old.state_dict(), new.state_dict(), {"label": list("abcd")}, labels, names)
    )
    w_old = old.average.heads.heads["label"].weight
    w_new = new.average.heads.heads["label"].weight
    assert new.averaged == 1
    assert torch.equal(w_new[[0, 2, 3, 4]], w_old) and not w_new[1].any()


def test_weight_average_outside_zero_to_one_is_refused_in_a_sentence():
    with pytest.raises(UserError, match="weight_average must be at least 0 and below 1"):
        TrainConfig.from_dict({"weight_average": 1.0})


def test_the_trainer_evaluates_and_checkpoints_the_average(tmp_path):
    project = digits_project(tmp_path, n=40, algorithm={"weight_average": 0.99})
    trainer = Trainer(project, device="cpu")
    answer(project, 12)
    trainer.train_pending()
    algo = trainer.algorithm
    assert algo.average is not None and algo.averaged == trainer.updates
    items = trainer._items(sorted(trainer.store.answered_item_ids()))
    inputs = trainer.featurizer.batch(items)
    with torch.no_grad():
        want = algo.average.eval()(inputs)["label"].argmax(-1).numpy()
    assert (trainer.greedy_labels(items)["label"] == want).all()
    trainer.close()
    resumed = Trainer(project, device="cpu")
    resumed._ensure_built()
    assert resumed.algorithm.averaged == algo.averaged
    assert all(
        torch.equal(a, b)
        for a, b in zip(_floats(resumed.algorithm.average), _floats(algo.average), strict=True)
    )
    resumed.close(checkpoint=False)


def test_after_a_renewal_the_old_average_is_shown_until_the_new_one_caught_up():
    algo = _algo(shrink_perturb=0.5, updates_per_event=2)
    batch = _batch()
    for _ in range(6):
        algo.update(batch)
    before = _floats(algo.average)
    algo.renew_if_due(4)
    algo.renew_if_due(32)
    assert algo.shown is algo.held
    assert all(torch.equal(a, b) for a, b in zip(_floats(algo.shown), before, strict=True))
    for _ in range(HOLD_ANSWERS * 2 - 1):  # HOLD_ANSWERS answers' updates, 2 per answer
        algo.update(batch)
    assert algo.shown is algo.held
    algo.update(batch)
    assert algo.held is None and algo.shown is algo.average


def _renewed():
    """An algorithm one update in, renewed at 32 answers: its old average held."""
    algo = _algo(shrink_perturb=0.5)
    algo.update(_batch())
    algo.renew_if_due(4)  # the first call notes the renewal it already had: none
    algo.renew_if_due(32)
    assert algo.held is not None
    return algo


def test_an_undo_or_a_load_shows_nothing_older():
    algo = _renewed()
    state = algo.state_dict()
    algo.restart_average()  # the trainer, during an old answer's undo
    assert algo.held is None and algo.shown is algo.average
    algo.renew_if_due(64)
    assert algo.held is not None
    algo.load_state_dict(state)
    assert algo.held is None and algo.shown is algo.average


def test_evaluate_shows_the_reference_model_itself_even_while_an_average_is_held():
    from mmrl_desktop.core.evaluation.evaluate import _with_policy

    algo = _renewed()
    ref = _with_policy(algo, algo.reference)
    assert ref.shown is algo.reference and algo.shown is algo.held
