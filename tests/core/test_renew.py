"""Shrink and perturb when the answers double (core/learning/renew.py, ADR 0020): the schedule,
the interpolation toward new random weights, models that are never renewed, and the trainer."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import renew
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project


def _policy():
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
    )
    torch.manual_seed(0)
    return build_policy(cfg, {"label": 4})


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_renewals_come_at_32_64_128_answers_and_a_resumed_model_waits_for_the_next_doubling():
    assert [n for n in range(1, 300) if renew.due(n, 0)][:1] == [32]
    at, got = 0, []
    for n in range(1, 300):
        if renew.due(n, at):
            got.append(n)
            at = n
    assert got == [32, 64, 128, 256]
    assert renew.last_doubling(20) == 0 and renew.last_doubling(32) == 32
    assert renew.last_doubling(100) == 64 and renew.last_doubling(256) == 256
    assert not renew.due(100, renew.last_doubling(100)) and renew.due(128, 64)


def test_lambda_one_keeps_the_weights_and_lambda_zero_gives_new_random_ones_from_the_seed():
    a, b = _policy(), _policy()
    before = _params(a)
    renew.shrink_perturb(a, 1.0, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(before, _params(a), strict=True))
    renew.shrink_perturb(a, 0.0, seed=7)
    renew.shrink_perturb(b, 0.0, seed=7)
    after = _params(a)
    assert all(torch.equal(x, y) for x, y in zip(after, _params(b), strict=True))  # seeded
    assert any(not torch.equal(x, y) for x, y in zip(before, after, strict=True))


def test_half_way_is_the_mean_of_the_old_and_the_new_weights_and_buffers_are_kept():
    lin = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3))
    lin[1].running_mean.fill_(2.0)
    old = _params(lin)
    fresh = nn.Sequential(nn.Linear(5, 3), nn.BatchNorm1d(3))
    torch.manual_seed(11)
    # the new weights are what reset_parameters draws from the seed
    renew.shrink_perturb(fresh, 0.0, seed=3)
    renew.shrink_perturb(lin, 0.5, seed=3)
    for o, f, n in zip(old, _params(fresh), _params(lin), strict=True):
        assert torch.allclose(n, 0.5 * o + 0.5 * f)
    assert torch.equal(lin[1].running_mean, torch.full((3,), 2.0))


def test_a_model_with_frozen_weights_is_never_renewed():
    policy = _policy()
    assert renew.from_scratch(policy)
    next(policy.parameters()).requires_grad_(False)
    assert not renew.from_scratch(policy)
    algo = ALGORITHMS["supervised"](
        policy, {"label": 4}, TrainConfig(shrink_perturb=0.5, refit_until=0)
    )
    before = _params(policy)
    assert algo.renew_if_due(1) == {} and algo.renew_if_due(64) == {}
    assert all(torch.equal(x, y) for x, y in zip(before, _params(policy), strict=True))


def test_a_head_on_a_pretrained_encoders_embeddings_is_never_renewed():
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16,
         "pretrained": {"image": {"fingerprint": "f", "embedding_size": 8}}}
    )  # fmt: skip
    policy = build_policy(cfg, {"label": 4})
    assert all(p.requires_grad for p in policy.parameters())  # every weight trains, and yet
    assert not renew.from_scratch(policy)
    algo = ALGORITHMS["supervised"](
        policy, {"label": 4}, TrainConfig(shrink_perturb=0.5, refit_until=0)
    )
    assert algo.renew_if_due(1) == {} and algo.renew_if_due(32) == {}


def test_the_algorithm_renews_once_per_doubling_and_forgets_its_optimiser_moments():
    algo = ALGORITHMS["supervised"](
        _policy(), {"label": 4}, TrainConfig(shrink_perturb=0.5, refit_until=0)
    )
    assert algo.renew_if_due(1) == {}
    algo.optimizer.state[next(algo.policy.parameters())] = {"step": torch.tensor(3.0)}
    before = _params(algo.policy)
    assert algo.renew_if_due(32) == {"train/renewed_at_answers": 32.0}
    assert algo.optimizer.state == {}
    assert any(not torch.equal(x, y) for x, y in zip(before, _params(algo.policy), strict=True))
    assert algo.renew_if_due(33) == {} and algo.renew_if_due(63) == {}
    assert algo.renew_if_due(64) == {"train/renewed_at_answers": 64.0}
    resumed = ALGORITHMS["supervised"](
        _policy(), {"label": 4}, TrainConfig(shrink_perturb=0.5, refit_until=0)
    )
    assert resumed.renew_if_due(100) == {}  # its 64th-answer renewal is behind it
    assert resumed.renew_if_due(128) == {"train/renewed_at_answers": 128.0}
    off = ALGORITHMS["supervised"](
        _policy(), {"label": 4}, TrainConfig(shrink_perturb=1.0, refit_until=0)
    )
    assert off.renew_if_due(1) == {} and off.renew_if_due(32) == {}


def test_the_trainer_renews_when_the_answers_reach_32(tmp_path):
    project = digits_project(tmp_path, n=60, algorithm={"shrink_perturb": 0.5})
    trainer = Trainer(project, device="cpu", checkpoints=False)
    answer(project, 31)
    trainer.train_pending()
    assert trainer.algorithm.renewed_at == 0
    answer(project, 1, seed=1)
    seen = [trainer.step().metrics.get("train/renewed_at_answers")]  # reads the 32nd answer
    while trainer.pending_updates:
        seen.append(trainer.step().metrics.get("train/renewed_at_answers"))
    assert seen[0] == 32.0 and seen[1:].count(32.0) == 0
    assert trainer.algorithm.renewed_at == 32


def test_a_renewal_renews_every_weight_the_fusions_modality_embeddings_too():
    policy = _policy()
    emb = policy.fusion.modality_embedding["image"]
    with torch.no_grad():
        emb.fill_(1.0)
    renew.shrink_perturb(policy, 0.5, seed=3)
    assert torch.allclose(emb, torch.full_like(emb, 0.5))  # halfway to its start, zeros
    renew.shrink_perturb(policy, 0.0, seed=3)
    assert not emb.any()


def test_shrink_perturb_outside_zero_to_one_is_refused_in_a_sentence():
    with pytest.raises(UserError, match="shrink_perturb must be between 0 and 1"):
        TrainConfig.from_dict({"shrink_perturb": 1.5})


def test_renewals_can_start_earlier():
    at, got = 0, []
    for n in range(1, 70):
        if renew.due(n, at, first=8):
            got.append(n)
            at = n
    assert got == [8, 16, 32, 64]
    assert renew.last_doubling(7, first=8) == 0 and renew.last_doubling(12, first=8) == 8


def test_a_catch_up_is_repaid_by_the_next_answers_budgets():
    c = renew.CatchUp()
    assert c.start(20) == 20 and (c.left, c.owed) == (20, 20)
    assert c.budget(8) == 0 and c.budget(8) == 0 and c.budget(8) == 4 and c.budget(8) == 8
    c.ran(pending=5)
    assert c.left == 19
    c.ran(pending=0)  # nothing owed any more: caught up, whatever was counted
    assert c.left == 0


def test_the_trainer_publishes_a_renewed_model_only_after_its_catch_up(tmp_path):
    """λ = 0 from 8 answers with a catch-up of 1 × the answers: the renewal at 8 answers runs 8
    updates before the next model version, and the next answers' budgets repay them — the total
    stays updates_per_event per answer."""
    algorithm = {"shrink_perturb": 0.0, "renew_from": 8, "renew_catch_up": 1.0}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    answer(project, 7)
    trainer.train_pending()
    per = trainer.config.updates_per_event
    start, version = trainer.updates, trainer.model_version
    assert trainer.algorithm.renewed_at == 0
    answer(project, 1, seed=1)
    first = trainer.step()  # reads the 8th answer, renews, runs the first update
    assert first.metrics.get("train/renewed_at_answers") == 8.0
    assert trainer.pending_updates == per + 8 - 1
    versions = [first.model_version]
    while trainer.pending_updates:
        versions.append(trainer.step().model_version)
    assert versions[:7] == [version] * 7  # not shown half way through the 8
    assert versions[7] == version + 1  # shown once they ran; the answer's own updates follow
    assert versions[-1] == version + 2 and trainer.updates - start == per + 8
    k = 1 + 8 // per  # answers enough to repay the 8 (and fewer than the next doubling's 16)
    answer(project, 1, seed=2)
    trainer.train_pending()
    assert trainer.updates - start == per + 8  # this answer's budget went to the debt
    answer(project, k - 1, seed=3)
    trainer.train_pending()
    assert trainer.updates - start == (1 + k) * per  # the total: per for each answer
    assert trainer.algorithm.renewed_at == 8


def test_renewal_settings_out_of_range_are_refused_in_a_sentence():
    with pytest.raises(UserError, match="renew_from must be at least 2"):
        TrainConfig.from_dict({"renew_from": 1})
    with pytest.raises(UserError, match="renew_catch_up must be between 0 and 16"):
        TrainConfig.from_dict({"renew_catch_up": -1})


def test_undo_back_past_a_renewal_drops_its_catch_up_debt(tmp_path):
    """A retraction that rolls the model back to before a renewal takes the catch-up's updates
    with it: no debt for updates no longer there. The rolled-back model never had that renewal,
    so the next 8th answer renews it with a catch-up of its own, which the answers after it
    repay once (before, the undo kept the renewal's count and the rolled-back model never had
    it)."""
    algorithm = {"shrink_perturb": 0.0, "renew_from": 8, "renew_catch_up": 1.0}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    answer(project, 7)
    trainer.train_pending()
    eid = answer(project, 1, seed=1)[0]  # the 8th: renewal and a catch-up of 8
    trainer.train_pending()
    assert trainer.catch_up.owed == 8
    with project.open_store() as store:
        store.retract(eid)
    trainer.poll()  # rolled back to the snapshot taken before the 8th answer
    assert trainer.undo.rollbacks == 1 and trainer.catch_up.owed == 0
    trainer.train_pending()
    per = trainer.config.updates_per_event
    before = trainer.updates
    answer(project, 1, seed=2)  # the 8th again: the renewal and its catch-up of 8
    trainer.train_pending()
    assert trainer.updates - before == per + 8 and trainer.algorithm.renewed_at == 8
    assert trainer.catch_up.owed == 8
    answer(project, 1, seed=3)
    trainer.train_pending()  # its budget repays the new catch-up
    assert trainer.updates - before == per + 8 and trainer.catch_up.owed == 8 - per


def test_refits_come_each_time_the_few_answers_grow_by_half_and_a_resumed_model_waits():
    assert renew.refits(64) == [8, 12, 18, 27, 41, 62] and renew.refits(7) == []
    assert renew.refits(64, 1.25) == [8, 10, 13, 17, 22, 28, 35, 44, 55]
    assert renew.last_renewal(60, until=64, growth=1.25) == 55
    at, got = 0, []
    for n in range(1, 70):
        if renew.refit_due(n, at, 64):
            got.append(n)
            at = n
    assert got == [8, 12, 18, 27, 41, 62]
    assert renew.last_renewal(20, until=64) == 18 and renew.last_renewal(5, until=64) == 0
    assert renew.last_renewal(100, until=64) == 64  # past the refits: the last doubling
    assert renew.last_renewal(40, until=0) == 32 == renew.last_doubling(40)
    assert [n for n in (100, 127, 128) if renew.due_after_refits(n, 62)] == [128]
    assert renew.due_after_refits(32, 0) and not renew.due_after_refits(63, 27)


def test_the_algorithm_refits_to_new_weights_while_answers_are_few_then_shrinks_and_perturbs():
    cfg = TrainConfig(shrink_perturb=0.5, refit_until=30)
    algo = ALGORITHMS["supervised"](_policy(), {"label": 4}, cfg)
    assert algo.renew_if_due(7) == {}
    got = {n: algo.renew_if_due(n) for n in range(8, 130)}
    refits = [n for n, out in got.items() if out.get("train/refit")]
    shrinks = [n for n, out in got.items() if out and not out.get("train/refit")]
    assert refits == [8, 12, 18, 27] and shrinks == [64, 128]  # the doublings without refits
    fresh = _policy()
    renew.shrink_perturb(fresh, 0.0, seed=cfg.seed * 1_000_003 + 8)
    again = ALGORITHMS["supervised"](_policy(), {"label": 4}, cfg)
    assert again.renew_if_due(1) == {}
    again.renew_if_due(8)  # a refit: the new random weights alone (λ = 0), seeded
    assert all(
        torch.equal(x, y) for x, y in zip(_params(again.policy), _params(fresh), strict=True)
    )
    resumed = ALGORITHMS["supervised"](_policy(), {"label": 4}, cfg)
    resumed.updates = 160  # as a checkpoint trained on 20 answers loads it
    assert resumed.renew_if_due(20) == {}  # its refit at 18 is behind it
    assert resumed.renew_if_due(27) == {"train/renewed_at_answers": 27.0, "train/refit": 1.0}


def _refitting(tmp_path, **algorithm):
    """A digits project that refits up to 12 answers with ``algorithm``'s settings, its trainer
    and the trainer's updates per answer."""
    project = digits_project(tmp_path, n=60, algorithm={"refit_until": 12, **algorithm})
    trainer = Trainer(project, device="cpu", checkpoints=False)
    return project, trainer, trainer.config.updates_per_event


def test_a_refit_trains_its_updates_on_top_of_the_answers_budgets_before_it_is_shown(tmp_path):
    # the answers after a refit alone (refit_follow's share of its updates: the test below)
    project, trainer, per = _refitting(tmp_path, refit_updates=20, refit_follow=0.0)
    answer(project, 7)
    trainer.train_pending()
    assert trainer.updates == 7 * per
    version = trainer.model_version
    answer(project, 1, seed=1)
    first = trainer.step()  # reads the 8th answer, refits, runs the first update
    assert first.metrics.get("train/refit") == 1.0
    versions, steps = [first.model_version], [first]
    while trainer.pending_updates:
        steps.append(trainer.step())
        versions.append(steps[-1].model_version)
    assert versions[:19] == [version] * 19  # not shown half way through the 20
    assert versions[19] == version + 1
    # its progress, for the status bar: the updates left after each, and once 0; then nothing
    left = [s.metrics.get("train/retrain_left") for s in steps]
    assert left[:20] == [float(n) for n in range(19, -1, -1)] and set(left[20:]) == {None}
    assert {s.metrics.get("train/retrain_updates") for s in steps[:20]} == {20.0}
    assert trainer.updates == 8 * per + 20
    answer(project, 3, seed=2)
    trainer.train_pending()
    assert trainer.updates == 11 * per + 20  # nothing repaid: each answer keeps its budget
    answer(project, 1, seed=3)  # the 12th: the second refit
    trainer.train_pending()
    assert trainer.updates == 12 * per + 40 and trainer.algorithm.renewed_at == 12


def test_answers_after_a_refit_are_learned_as_hard_as_the_refits_own():
    # refit at 27 with 300 updates: 300 / 27 ≈ 11 more for each answer until the next one
    assert renew.follow_updates(28, 27, 64, 300, 1.0) == 11
    assert renew.follow_updates(40, 27, 64, 300, 0.5) == 6
    assert renew.follow_updates(41, 27, 64, 300, 1.0) == 0  # the next refit trains on them all
    assert renew.follow_updates(65, 62, 64, 300, 1.0) == 0  # past the refits: the budget alone
    assert renew.follow_updates(9, 0, 64, 300, 1.0) == 0  # no refit yet
    assert renew.follow_updates(9, None, 64, 300, 1.0) == 0
    assert renew.follow_updates(28, 27, 64, 300, 0.0) == 0  # off
    assert renew.follow_updates(70, 64, 0, 300, 1.0) == 0  # a shrink-perturb, not a refit
    assert renew.follow_updates(61, 41, 64, 300, 1.0) == 7
    assert renew.follow_updates(63, 62, 64, 300, 1.0) == 0  # after the last refit: none


def test_a_refit_trains_the_same_model_whatever_came_before_it(tmp_path):
    """The refit's weights, every one of them (the fusion's modality embeddings too), and its
    replay's draws are seeded (``renew.draws_seed``): two ``supervised`` trainers that trained
    the first answers differently (``refit_follow``'s extra updates) hold the same model once
    the refit at 12 answers has run, and on after it. (Thumbs only's pool targets remember the
    model before the refit: not so there.)"""
    models = []
    for follow in (0.0, 2.0):
        project, trainer, _ = _refitting(
            tmp_path / str(follow), algorithm="supervised", refit_updates=24, refit_follow=follow
        )
        answer(project, 8)  # the first refit
        trainer.train_pending()
        answer(project, 2, seed=3)  # 9 and 10: with the option 2 × 24 / 8 = 6 more updates each
        trainer.train_pending()
        models.append([trainer])
        answer(project, 2, seed=1)  # 11, and 12: the last refit
        trainer.train_pending()
        models[-1].append(copy.deepcopy(trainer.algorithm.policy.state_dict()))
        answer(project, 3, seed=2)
        trainer.train_pending()
        models[-1].append(copy.deepcopy(trainer.algorithm.average.state_dict()))
    (a, a_refit, a_on), (b, b_refit, b_on) = models
    assert a.updates < b.updates  # the option trained answers 9 and 10 harder
    for x, y in ((a_refit, b_refit), (a_on, b_on)):
        assert [k for k in x if not torch.equal(x[k], y[k])] == []


def test_the_trainer_gives_each_answer_after_a_refit_its_share_of_the_refits_updates(tmp_path):
    project, trainer, per = _refitting(tmp_path, refit_updates=24, refit_follow=1.0)
    answer(project, 8)
    trainer.train_pending()
    assert trainer.updates == 8 * per + 24 and trainer.algorithm.renewed_at == 8
    answer(project, 2, seed=1)  # answers 9 and 10: 24 / 8 = 3 more each
    trainer.train_pending()
    assert trainer.updates == 10 * per + 24 + 2 * 3
    answer(project, 2, seed=2)  # 11, and 12 — the second refit: 11 and 12 together, then 24
    trainer.train_pending()
    assert trainer.algorithm.renewed_at == 12
    assert trainer.updates == 12 * per + 48 + 2 * 3
    answer(project, 1, seed=3)  # 13: past refit_until, the budget alone
    trainer.train_pending()
    assert trainer.updates == 13 * per + 48 + 2 * 3


def test_supervised_follows_its_refits_by_its_own_choice_while_the_answers_are_few(tmp_path):
    """``refit_follow`` −1 (the default): ``supervised`` on ten labels (few until 80 answers)
    follows its refits as with 1 (ADR 0034); the thumbs learner does not."""
    extra = {}
    for name in ("supervised", "default"):
        project, trainer, per = _refitting(tmp_path / name, algorithm=name, refit_updates=24)
        assert trainer.config.refit_follow == -1
        answer(project, 8)  # the first refit
        trainer.train_pending()
        answer(project, 2, seed=1)  # answers 9 and 10
        trainer.train_pending()
        extra[name] = trainer.updates - 10 * per - 24
    assert extra == {"supervised": 2 * 3, "default": 0}  # 24 / 8 = 3 more each, or none


def test_a_refit_due_while_a_refit_runs_joins_it_instead_of_drawing_new_weights(tmp_path):
    """Answers faster than a refit runs (the GUI; the bench waits for every update): the refit
    at 12 answers, due while the one at 8 still has updates to run, keeps its weights and its
    updates left — before, each refit point drew new weights and added its updates again, so
    the model shown waited for every one of them (ADR 0029)."""
    algorithm = {"refit_until": 20, "refit_updates": 20}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    per = trainer.config.updates_per_event
    answer(project, 8)
    first = trainer.step()  # reads the 8 answers, refits (a fresh trainer on 8), one update
    assert first.metrics.get("train/refit") == 1.0 and trainer.catch_up.refitting
    for _ in range(4):
        trainer.step()  # 5 of the refit's 20 updates have run
    version, weights = trainer.model_version, _params(trainer.algorithm.policy)
    answer(project, 4, seed=1)  # the 12th answer arrives while the refit runs
    joined = trainer.step()
    assert joined.metrics.get("train/refit_joined") == 1.0
    assert "train/refit" not in joined.metrics and trainer.algorithm.renewed_at == 12
    # one more update of the same weights (not new random ones): close to them, not far
    moved = max((a - b).abs().max().item() for a, b in zip(
        _params(trainer.algorithm.policy), weights, strict=True))  # fmt: skip
    assert 0 < moved < 0.1
    assert joined.metrics.get("train/retrain_left") == 14.0  # 20 − 6: nothing added
    assert joined.metrics.get("train/retrain_updates") == 20.0 and trainer.catch_up.refitting
    versions = [joined.model_version]
    while trainer.catch_up.left:
        versions.append(trainer.step().model_version)
    assert len(versions) == 15 and set(versions[:-1]) == {version}  # shown once the 20 ran
    assert versions[-1] == version + 1
    trainer.train_pending()
    assert trainer.updates == 12 * per + 20  # one refit's updates, not two
    answer(project, 6, seed=2)  # the 18th, the refits done: the next refit draws new weights
    assert trainer.step().metrics.get("train/refit") == 1.0


def test_a_model_saved_while_a_refit_trains_goes_on_with_it_when_resumed(tmp_path):
    """The model on disk is saved every few seconds and a refit takes tens of them: a trainer
    resumed from a save made half way through a refit runs the refit's updates left before it
    shows the model — before, it counted the refit as done and showed weights a few updates
    from random (ADR 0029)."""
    algorithm = {"refit_until": 20, "refit_updates": 20}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", queue_size=0)
    answer(project, 8)
    for _ in range(6):
        trainer.step()  # the refit at 8 answers and 5 more of its 20 updates
    assert trainer.catch_up.left == 14 and trainer.algorithm.renewed_at == 8
    version = trainer.model_version
    trainer.save_checkpoint("on close")
    trainer.close(checkpoint=False)
    again = Trainer(Project.open(project.root), device="cpu", queue_size=0, checkpoints=False)
    again.info()
    assert again.resumed_from and again.algorithm.renewed_at == 8
    assert again.catch_up.refitting and again.catch_up.left == 14
    steps = [again.step() for _ in range(14)]
    assert "train/refit" not in steps[0].metrics  # not drawn again: the same refit goes on
    assert [s.metrics.get("train/retrain_left") for s in steps] == [
        float(n) for n in range(13, -1, -1)
    ]
    assert [s.model_version for s in steps[:-1]] == [version] * 13
    assert steps[-1].model_version == version + 1  # shown once its 20 updates have run
    again.close(checkpoint=False)


def test_an_undo_while_a_refit_trains_rolls_back_to_the_refit_still_under_way(tmp_path):
    """An answer given and undone during a refit: the rollback goes to the snapshot taken when
    it arrived, half way through the refit — the refit goes on from there and its model is shown
    once its updates have run, and a refit point after it still joins it. Before, the rollback
    dropped the catch-up: the half-trained model was shown at the next update (ADR 0029)."""
    algorithm = {"refit_until": 20, "refit_updates": 20}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    answer(project, 8)
    for _ in range(5):
        trainer.step()  # the refit at 8 answers and 4 more of its 20 updates
    version = trainer.model_version
    eid = answer(project, 1, seed=1)[0]  # the 9th, while the refit has 15 updates left
    for _ in range(3):
        trainer.step()
    with project.open_store() as store:
        store.retract(eid)
    trainer.poll()
    assert trainer.undo.rollbacks == 1
    assert trainer.catch_up.refitting and trainer.catch_up.left == 15
    answer(project, 4, seed=2)  # the 12th answer: joins the refit
    steps = [trainer.step() for _ in range(15)]
    assert steps[0].metrics.get("train/refit_joined") == 1.0
    assert [s.model_version for s in steps[:-1]] == [version] * 14
    assert steps[-1].model_version == version + 1


def test_an_undo_of_the_answer_that_brought_a_refit_lets_the_refit_come_again(tmp_path):
    """The 12th answer brings a refit; undone, the model goes back to the one before it and so
    does the count of the last refit (8), so the next 12th answer refits again. Before, the undo
    kept the refit's count: the rolled-back model never had that refit (ADR 0029)."""
    algorithm = {"refit_until": 12, "refit_updates": 10}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    answer(project, 8)
    trainer.train_pending()  # the refit at 8
    answer(project, 3, seed=1)
    trainer.train_pending()
    assert trainer.algorithm.renewed_at == 8
    eid = answer(project, 1, seed=2)[0]  # the 12th: a refit
    first = trainer.step()
    assert first.metrics.get("train/refit") == 1.0 and trainer.algorithm.renewed_at == 12
    with project.open_store() as store:
        store.retract(eid)
    trainer.poll()
    assert trainer.undo.rollbacks == 1 and trainer.algorithm.renewed_at == 8
    assert not trainer.catch_up.refitting
    trainer.train_pending()
    answer(project, 1, seed=3)  # another 12th answer
    assert trainer.step().metrics.get("train/refit") == 1.0


def test_a_trainer_that_starts_on_answers_refits_at_once_and_a_resumed_one_does_not(tmp_path):
    """Answers given while the trainer loaded (or a project opened without a checkpoint): the
    new weights have had no refit, so the first update refits them on all the answers."""
    algorithm = {"refit_until": 64, "refit_updates": 20}
    project = digits_project(tmp_path, n=60, algorithm=algorithm)
    answer(project, 9)
    trainer = Trainer(project, device="cpu", checkpoints=False)
    per = trainer.config.updates_per_event
    first = trainer.step()
    assert first.metrics.get("train/refit") == 1.0
    assert first.metrics.get("train/retrain_left") == 19.0
    trainer.train_pending()
    assert trainer.updates == 9 * per + 20 and trainer.algorithm.renewed_at == 9
    algo = trainer.algorithm
    resumed = type(algo)(copy.deepcopy(algo.policy), algo.num_labels, trainer.config)
    resumed.load_state_dict(algo.state_dict())  # as from a checkpoint: it has updates
    assert resumed.renew_if_due(9) == {} and resumed.renewed_at == 8


def _large_policy():
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 32, "image_channels": 1, "embed_dim": 16}
    )
    torch.manual_seed(0)
    return build_policy(cfg, {"label": 4})


def _refits(algo) -> list[int]:
    return [n for n in range(1, 130) if algo.renew_if_due(n).get("train/refit")]


def test_supervised_and_default_refit_by_default_except_default_on_the_tiny_design():
    assert TrainConfig(algorithm="supervised").refit_answers == 64
    assert TrainConfig(algorithm="default").refit_answers == 64
    assert TrainConfig(algorithm="reinforce").refit_answers == 0
    assert TrainConfig(algorithm="supervised", refit_until=0).refit_answers == 0
    assert TrainConfig(algorithm="default", refit_until=30).refit_answers == 30
    got = ALGORITHMS["supervised"](_policy(), {"label": 4}, TrainConfig(algorithm="supervised"))
    assert _refits(got) == [8, 12, 18, 27, 41, 62]
    cfg = TrainConfig(algorithm="reinforce")
    assert not _refits(ALGORITHMS["reinforce"](_policy(), {"label": 4}, cfg))
    # the thumbs learner: refits on the large design (32 px), none on the tiny 8×8 one unless
    # the project names refit_until itself (docs/benchmarks.md §5zd)
    cfg = TrainConfig(algorithm="default")
    assert renew.tiny_design(_policy()) and not renew.tiny_design(_large_policy())
    assert _refits(ALGORITHMS["default"](_large_policy(), {"label": 4}, cfg)) == [
        8,
        12,
        18,
        27,
        41,
        62,
    ]
    assert not _refits(ALGORITHMS["default"](_policy(), {"label": 4}, cfg))
    cfg = TrainConfig(algorithm="default", refit_until=20)
    assert _refits(ALGORITHMS["default"](_policy(), {"label": 4}, cfg)) == [8, 12, 18]
    cfg = TrainConfig(algorithm="supervised", refit_growth=1.25)
    assert _refits(ALGORITHMS["supervised"](_policy(), {"label": 4}, cfg)) == [
        *(8, 10, 13, 17, 22, 28, 35, 44, 55)
    ]


def test_refit_settings_out_of_range_are_refused_in_a_sentence():
    with pytest.raises(UserError, match="refit_until must be −1 .the algorithm's choice., 0 or"):
        TrainConfig.from_dict({"refit_until": -2})
    with pytest.raises(UserError, match="refit_updates must be between 1 and 100000"):
        TrainConfig.from_dict({"refit_updates": 0})
    with pytest.raises(UserError, match="refit_growth must be between 1.1 and 4"):
        TrainConfig.from_dict({"refit_growth": 1.0})
    with pytest.raises(UserError, match="refit_follow must be −1 .* or between 0 and 10"):
        TrainConfig.from_dict({"refit_follow": -2})
