"""Off-policy estimates under a chosen order (issue 19, ADR 0013): each answer re-weighted by its
item's stored selection probability; evaluate names the order that chose the answers."""

from __future__ import annotations

import numpy as np
import pytest

from mmrl_desktop.core.data.store import Selection
from mmrl_desktop.core.evaluation import ope
from mmrl_desktop.core.evaluation.evaluate import evaluate_project, format_report
from tests.core.enginefixtures import DEFAULT_TASK, digits_project


def _actively_chosen(n_pool=2000, answers=600, eps=0.1, seed=0):
    """A pool of hard (thumbs down) and easy (thumbs up) items, half each; the strategy asks the
    hard ones first, a fraction ``eps`` of picks is uniform. Returns rewards, selection
    probabilities, pools, and the mean over the picks of the unanswered items' true rate."""
    rng = np.random.default_rng(seed)
    easy = np.arange(n_pool) % 2 == 1
    left = np.ones(n_pool, dtype=bool)
    rewards, probs, pools, targets = [], [], [], []
    for _ in range(answers):
        m = int(left.sum())
        targets.append(easy[left].mean())
        det = int(np.flatnonzero(left & ~easy)[0]) if (left & ~easy).any() else 0
        idx = int(rng.choice(np.flatnonzero(left))) if rng.random() < eps else det
        probs.append(eps / m + (1 - eps) * (idx == det))
        pools.append(m)
        rewards.append(1 if easy[idx] else -1)
        left[idx] = False
    return np.array(rewards), probs, pools, float(np.mean(targets))


def test_selection_weights_re_weight_chosen_answers_to_a_uniform_draw():
    rewards, probs, pools, target = _actively_chosen()
    n = len(rewards)
    greedy = np.ones((n, 1))  # the candidate shows the logged label: only the items differ
    actions, label_p = np.zeros(n, dtype=int), np.ones(n)
    plain = ope.snips(actions, label_p, rewards, greedy)
    v = ope.selection_weights(probs, pools)
    weighted = ope.snips(actions, label_p, rewards, greedy, item_weights=v)
    assert plain.value < 0.1  # the chosen items are the hard ones
    assert abs(weighted.value - target) < 0.1  # about a uniformly drawn unanswered item
    assert weighted.effective_n < 0.2 * n  # it rests on the ε-uniform picks
    dr = ope.doubly_robust(actions, label_p, rewards, greedy, np.full((n, 1), 0.5), item_weights=v)
    assert abs(dr.value - target) < 3 * dr.stderr


def test_the_queue_order_and_unknown_selections_weigh_one():
    v = ope.selection_weights([0.25, None, 0.9, 0.01], [4, None, 10, None])
    assert v.tolist() == pytest.approx([1.0, 1.0, 1 / 9, 1.0])
    with pytest.raises(ValueError):
        ope.ips([0], [0.5], [1], [[1.0]], item_weights=[-1.0])


def test_evaluate_names_the_order_and_weights_the_chosen_answers(tmp_path):
    project = digits_project(tmp_path, n=60, algorithm={"next_item": "uncertain"})
    with project.open_store() as store:
        pool = store.items(split="pool")
        for k, it in enumerate(pool[:40]):
            m = len(pool) - k
            if k < 20:  # the warm-up in the queue order
                sel = Selection(1 / m, m, "shuffle")
            else:  # the strategy's own pick, or (every fifth) a uniform one
                sel = Selection(0.9 + 0.1 / m if k % 5 else 0.1 / m, m, "uncertain")
            shown = it.labels[DEFAULT_TASK] if k % 2 else "0"
            reward = 1 if shown == it.labels[DEFAULT_TASK] else -1
            store.record_feedback(it.item_id, DEFAULT_TASK, shown, 0.5, reward, selection=sel)
        store.record_feedback(pool[40].item_id, DEFAULT_TASK, "0", 0.5, -1)  # unknown
    res = evaluate_project(project)
    assert res["order"] == "uncertain"
    assert res["answers_by_order"] == {"shuffle": 20, "uncertain": 20, "unknown": 1}
    assert "20 of 41 answers were on items chosen by the model" in res["order_note"]
    est = res["tasks"][DEFAULT_TASK]["ope"]["reference"]
    assert est["n"] == 41 and est["selection_weighted"] == 20
    assert "20 answers on items the model chose count little" in est["reason"]
    assert "next item: uncertain; 20 of 41 answers were on items chosen" in format_report(res)
