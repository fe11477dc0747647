"""Which item next (issue 19): each strategy's pick on a hand-made pool, the random fraction and
the selection probabilities, and the settings in project.toml's [algorithm] table."""

import numpy as np
import pytest

from mmrl_desktop.core.config import NEXT_ITEM_NAMES, TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import next_item
from mmrl_desktop.core.learning.next_item import (
    Candidates,
    NextItemChooser,
    choose,
    margin,
    pool_candidates,
    thumb_gain,
)

LABELS = ("a", "b", "c")
# four items: sure a, sure b, a coin flip between a and c, fairly sure c
PROBS = np.array(
    [
        [0.96, 0.02, 0.02],
        [0.03, 0.95, 0.02],
        [0.49, 0.02, 0.49],
        [0.10, 0.10, 0.80],
    ]
)
IDS = ["sure-a", "sure-b", "a-or-c", "likely-c"]


def _cands(probs=PROBS, ids=IDS, embedding=None):
    return Candidates(ids=list(ids), probs=np.asarray(probs), embedding=embedding, labels=LABELS)


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_uncertain_picks_the_low_margin_item_first():
    picks = choose("uncertain", _cands(), 2, _rng(), random_fraction=0.0)
    assert [p.item_id for p in picks] == ["a-or-c", "likely-c"]
    margin_picks = choose("uncertain", _cands(), 1, _rng(), 0.0, measure="margin")
    assert margin_picks[0].item_id == "a-or-c"
    assert margin(PROBS).argmin() == 2 and thumb_gain(PROBS).argmax() == 2


def test_a_thumb_on_a_two_way_tie_tells_more_than_on_a_three_way_one():
    """The thumb's information gain is not the entropy: 👍/👎 on one of three equal labels
    leaves more doubt than on one of two."""
    two, three = thumb_gain(np.array([[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]]))
    assert two == pytest.approx(1.0)
    assert three == pytest.approx(0.9183, abs=1e-3)


def test_diverse_does_not_pick_two_near_duplicates():
    # items 0 and 1: the same unsure case twice (embeddings almost equal); 2: unsure, elsewhere
    probs = np.array([[0.5, 0.5, 0.0], [0.5, 0.49, 0.01], [0.6, 0.4, 0.0], [0.98, 0.01, 0.01]])
    emb = np.array([[1.0, 0.0], [0.999, 0.01], [0.0, 1.0], [0.7, 0.7]])
    ids = ["dup1", "dup2", "other", "sure"]
    uncertain = choose("uncertain", _cands(probs, ids, emb), 2, _rng(), 0.0)
    assert [p.item_id for p in uncertain] == ["dup1", "dup2"]  # the failure diverse avoids
    diverse = choose("diverse", _cands(probs, ids, emb), 2, _rng(), 0.0)
    assert [p.item_id for p in diverse] == ["dup1", "other"]


def test_likely_positive_ranks_by_the_probability_of_the_positive_label():
    picks = choose("likely-positive", _cands(), 4, _rng(), 0.0, positive="c")
    assert [p.item_id for p in picks] == ["likely-c", "a-or-c", "sure-a", "sure-b"]
    with pytest.raises(UserError, match="needs a positive label"):
        choose("likely-positive", _cands(), 1, _rng(), 0.0)
    with pytest.raises(UserError, match="'z' is not a label"):
        choose("likely-positive", _cands(), 1, _rng(), 0.0, positive="z")


def test_shuffle_is_the_queue_order_with_uniform_propensities():
    picks = choose("shuffle", _cands(), 3, _rng(), random_fraction=0.5)
    assert [p.item_id for p in picks] == IDS[:3]
    assert [p.propensity for p in picks] == pytest.approx([1 / 4, 1 / 3, 1 / 2])


def test_without_a_model_every_order_takes_the_queue_order():
    picks = choose("uncertain", Candidates(ids=IDS), 2, _rng())
    assert [p.item_id for p in picks] == IDS[:2]


def test_deterministic_picks_carry_the_mixture_propensity():
    eps = 0.1
    picks = choose("uncertain", _cands(), 4, _rng(3), random_fraction=eps)
    for j, p in enumerate(picks):
        m = 4 - j
        expected = eps / m if p.uniform else eps / m + (1 - eps)
        # a uniform draw that lands on the strategy's own choice has the full mixture
        assert p.propensity == pytest.approx(expected) or (
            p.uniform and p.propensity == pytest.approx(eps / m + (1 - eps))
        )
    assert picks[-1].propensity == pytest.approx(1.0)  # the last item left: certain


def test_the_random_fraction_draws_uniformly_and_the_propensity_matches_the_frequency():
    """Over many draws, each item's first-pick frequency equals its stated propensity."""
    eps = 0.3
    counts = dict.fromkeys(IDS, 0)
    stated = {}
    rng = _rng(7)
    trials = 4000
    for _ in range(trials):
        p = choose("uncertain", _cands(), 1, rng, random_fraction=eps)[0]
        counts[p.item_id] += 1
        stated[p.item_id] = p.propensity
    assert stated["a-or-c"] == pytest.approx(eps / 4 + 1 - eps)
    assert stated["sure-a"] == pytest.approx(eps / 4)
    for item_id, c in counts.items():
        assert c / trials == pytest.approx(stated[item_id], abs=0.03)


def test_no_random_fraction_never_draws_uniformly():
    picks = choose("diverse", _cands(embedding=np.eye(4)[:, :3]), 4, _rng(), 0.0)
    assert not any(p.uniform for p in picks)
    assert len({p.item_id for p in picks}) == 4  # no item twice


def test_unknown_order_is_one_sentence():
    with pytest.raises(UserError, match="unknown order 'smart'; choose one of shuffle"):
        choose("smart", _cands(), 1, _rng())


def test_the_project_setting_is_validated():
    assert TrainConfig().next_item == "shuffle"
    assert TrainConfig().next_item_random == pytest.approx(0.1)
    assert TrainConfig.from_dict({"next_item": "diverse"}).next_item == "diverse"
    assert NEXT_ITEM_NAMES == ("shuffle", "uncertain", "diverse", "likely-positive")
    with pytest.raises(UserError, match="unknown next_item 'best'"):
        TrainConfig.from_dict({"next_item": "best"})
    with pytest.raises(UserError, match="next_item_random must be between 0 and 1"):
        TrainConfig.from_dict({"next_item_random": 1.5})
    with pytest.raises(UserError, match="positive_label must name the label to find first"):
        TrainConfig.from_dict({"next_item": "likely-positive"})
    cfg = TrainConfig.from_dict({"next_item": "likely-positive", "positive_label": "tumour"})
    assert cfg.positive_label == "tumour"


# ------------------------------------------------------------------ the trainer's side
def _trainer(tmp_path, **algorithm):
    from mmrl_desktop.core.data.importer import import_source
    from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
    from mmrl_desktop.core.learning.trainer import Trainer
    from tests.core.enginefixtures import TINY_MODEL, make_pngs

    src = make_pngs(tmp_path / "src", per_class=6)
    project = Project.create(
        tmp_path / "p",
        algorithm={"updates_per_event": 1, "batch_size": 4, "device": "cpu"} | algorithm,
        model=TINY_MODEL,
    )
    import_source(src, project, task=DEFAULT_TASK)
    project = Project.open(project.root)
    return project, Trainer(project, queue_size=0, checkpoints=False, resume=False)


def test_the_trainer_chooses_unanswered_pool_items_on_its_current_model(tmp_path, monkeypatch):
    monkeypatch.setattr(next_item, "READY_Z", None)  # no evidence needed (test_next_item_ready)
    project, trainer = _trainer(tmp_path, next_item="uncertain", next_item_random=0.0)
    chooser = NextItemChooser(trainer.config)
    assert chooser.active and chooser.due(answers=0, model_version=0)
    # in the warm-up (10 per label) uncertain is due to score the pool, not to choose
    assert chooser.due(answers=19, model_version=0, num_labels=2)
    likely = NextItemChooser(TrainConfig(next_item="likely-positive", positive_label="a"))
    assert not likely.due(answers=19, model_version=0, num_labels=2)  # 10 per label first
    assert likely.due(answers=20, model_version=0, num_labels=2)
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)  # 3 answers: past the warm-up now
    trainer.info()  # built
    answered = set(trainer.pool_ids[:3])
    picks = chooser.choose(trainer, answered, model_version=0)
    unanswered = [i for i in trainer.pool_ids if i not in answered]
    assert len(picks) == min(next_item.BATCH, len(unanswered))
    assert {p.item_id for p in picks} <= set(unanswered)
    items = trainer._items(unanswered)
    gain = thumb_gain(pool_candidates(trainer, items, "label").probs)
    assert picks[0].item_id == unanswered[int(np.argmax(gain))]
    assert all(0 < p.propensity <= 1 for p in picks)
    assert not chooser.due(answers=3, model_version=0)  # the same model version
    assert not chooser.due(answers=4, model_version=1)  # a new version, too few new answers
    assert chooser.due(answers=3 + next_item.REPICK_ANSWERS, model_version=1)
    trainer.close(checkpoint=False)


def test_a_large_pool_is_scored_on_a_subset_with_the_uniform_part_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(next_item, "MAX_CANDIDATES", 4)
    _project, trainer = _trainer(tmp_path, next_item="likely-positive", positive_label="light")
    chooser = NextItemChooser(trainer.config)
    trainer.info()
    m = len(trainer.pool_ids)
    picks = chooser.choose(trainer, set())
    assert len(picks) == 4  # only the subset was scored
    eps = trainer.config.next_item_random
    for j, p in enumerate(picks):
        assert p.propensity == pytest.approx(eps / (m - j)) or p.propensity == pytest.approx(
            eps / (m - j) + 1 - eps
        )
    trainer.close(checkpoint=False)


def test_shuffle_never_chooses():
    chooser = NextItemChooser(TrainConfig())
    assert not chooser.active and not chooser.due(answers=100, model_version=5)


def test_the_trainer_loop_sends_its_choice_and_the_predictions_of_the_chosen(tmp_path, monkeypatch):
    """With an active order the loop, after a model version, sends the next items (unanswered
    pool items, with their selection probabilities and the order) and their predictions; the
    Info names the order for the status bar."""
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)  # a 12-item project: no warm-up
    monkeypatch.setattr(next_item, "READY_Z", None)  # and no evidence needed
    import threading
    import time

    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Info, NextItems, Predictions

    project, trainer = _trainer(tmp_path, next_item="diverse")
    with project.open_store() as store:
        first = store.items(split="pool")[0].item_id
        store.record_feedback(first, "label", "dark", 0.5, 1)
    control, reports = LoopControl(), []
    thread = threading.Thread(target=run_loop, args=(lambda: trainer, control, reports.append))
    thread.start()
    deadline = time.monotonic() + 60
    while not any(isinstance(r, NextItems) for r in reports) and time.monotonic() < deadline:
        time.sleep(0.05)
    control.request_stop()
    thread.join(60)
    info = next(r for r in reports if isinstance(r, Info))
    assert info.info["next_item"] == "diverse"
    chosen = next(r for r in reports if isinstance(r, NextItems))
    assert chosen.order == "diverse" and len(chosen.item_ids) == len(chosen.propensities)
    assert first not in chosen.item_ids  # answered
    assert set(chosen.item_ids) <= set(trainer.pool_ids)
    assert all(0 < p <= 1 for p in chosen.propensities)
    unanswered = len(trainer.pool_ids) - 1
    assert chosen.pools == tuple(range(unanswered, unanswered - len(chosen.item_ids), -1))
    after = reports[reports.index(chosen) + 1]
    assert isinstance(after, Predictions) and set(after.predictions) == set(chosen.item_ids)


def test_the_shuffle_order_sends_no_choice(tmp_path):
    import threading
    import time

    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Info, NextItems, State

    _project, trainer = _trainer(tmp_path)
    control, reports = LoopControl(), []
    thread = threading.Thread(target=run_loop, args=(lambda: trainer, control, reports.append))
    thread.start()
    deadline = time.monotonic() + 60
    while not any(isinstance(r, State) and r.state == "idle" for r in reports):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    control.request_stop()
    thread.join(60)
    assert next(r for r in reports if isinstance(r, Info)).info["next_item"] == "shuffle"
    assert not any(isinstance(r, NextItems) for r in reports)


def test_the_loop_looks_at_the_answers_once_per_model_version(tmp_path, monkeypatch):
    """Between two model versions the loop steps many times; it reads the answered items once."""
    monkeypatch.setattr(next_item, "WARM_UP_PER_LABEL", 0)
    monkeypatch.setattr(next_item, "READY_Z", None)
    from mmrl_desktop.core.learning.trainer_loop import _choose_next

    _project, trainer = _trainer(tmp_path, next_item="uncertain")
    trainer.info()
    chooser = NextItemChooser(trainer.config)
    reads = []
    store_read = trainer.store.answered_item_ids
    trainer.store.answered_item_ids = lambda: reads.append(1) or store_read()
    sent = []
    _choose_next(trainer, chooser, 7, sent.append)
    assert len(reads) == 1 and len(sent) == 2  # NextItems, then their Predictions
    for _ in range(5):  # a new version, no new answers: not due, and looked at once
        _choose_next(trainer, chooser, 8, sent.append)
    assert len(reads) == 2 and len(sent) == 2
    trainer.close(checkpoint=False)


def test_no_choice_is_sent_during_the_warm_up(tmp_path):
    from mmrl_desktop.core.learning.trainer_loop import _choose_next

    _project, trainer = _trainer(tmp_path, next_item="uncertain")
    trainer.info()
    sent = []
    _choose_next(trainer, NextItemChooser(trainer.config), 1, sent.append)
    assert sent == []  # 0 answers < 10 per label: the queue order goes on
    trainer.close(checkpoint=False)


def test_bench_takes_order_and_positive_on_the_command_line():
    """`bench --order/--positive` reach run_bench (before, commands/bench.py read them with
    getattr and every command-line run fell back to shuffle); the CLI's names are config's."""
    from mmrl_desktop import cli
    from mmrl_desktop.core.config import NEXT_ITEM_NAMES

    args = cli.build_parser().parse_args(
        ["bench", "--data", "digits", "--order", "likely-positive", "--positive", "3"]
    )
    assert (args.order, args.positive) == ("likely-positive", "3")
    assert tuple(cli.NEXT_ITEM_NAMES) == tuple(NEXT_ITEM_NAMES)


def test_typicality_discounts_an_outlier_in_diverse_picks(monkeypatch):
    """After the first pick, plain k-center takes the item farthest from it — here a lone outlier;
    weighing the distance by typicality takes a case from the dense group instead."""
    rng = np.random.default_rng(0)
    group = np.array([0.0, 1.0, 0.0]) + 0.02 * rng.standard_normal((6, 3))
    emb = np.vstack([[1.0, 0.0, 0.0], [1.0, 0.05, 0.0], [-0.3, 0.0, 1.0], group])
    probs = np.tile([0.5, 0.3, 0.2], (len(emb), 1))
    probs[0] = [0.4, 0.3, 0.3]  # the most uncertain: the first pick
    ids = ["first", "near-first", "outlier", *(f"g{i}" for i in range(6))]
    typical = next_item.typicality(
        emb / np.linalg.norm(emb, axis=1, keepdims=True), np.ones(9, bool), k=2
    )
    assert typical[2] < typical[3:].min()  # the outlier's neighbours are far
    plain = choose("diverse", _cands(probs, ids, emb), 2, _rng(), 0.0)
    assert [p.item_id for p in plain] == ["first", "outlier"]
    monkeypatch.setattr(next_item, "TYPICAL", 1.0)
    monkeypatch.setattr(next_item, "TYPICAL_K", 2)
    weighed = choose("diverse", _cands(probs, ids, emb), 2, _rng(), 0.0)
    assert weighed[0].item_id == "first" and weighed[1].item_id.startswith("g")
