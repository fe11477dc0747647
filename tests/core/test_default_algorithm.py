"""The default algorithm: pool graph posterior, posterior-sampled labels, pseudo-labels, learning."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.algorithm_options import DefaultOptions
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.algorithms.base import Action, ReplayBatch
from mmrl_desktop.core.learning.graph_views import GraphViews
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row

K = 4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n_per: int = 30, seed: int = 0):
    """Four classes of 8×8 grey images: a bright bar in one of four places, plus noise."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(K):
        for _ in range(n_per):
            img = rng.uniform(0, 0.3, (8, 8))
            if c < 2:
                img[:, 2 + 4 * c : 4 + 4 * c] += 0.7
            else:
                img[2 + 4 * (c - 2) : 4 + 4 * (c - 2), :] += 0.7
            xs.append(np.round(np.clip(img, 0, 1) * 255) / 255)
            ys.append(c)
    order = rng.permutation(len(ys))
    return np.asarray(xs, np.float32)[order, None], np.asarray(ys)[order]


class _Feat:
    def __init__(self, x):
        self.x = x

    def batch(self, ids):
        img = torch.from_numpy(self.x[[int(i) for i in ids]])
        return {"image": img, "image_mask": torch.ones(len(ids), dtype=torch.bool)}


def _batch(buf: ReplayBuffer, rows: list[Row]) -> ReplayBatch:
    """``buf.make_batch(rows)`` naming the item of each row (the algorithm's interface)."""
    made = buf.make_batch(rows)
    return ReplayBatch(made.inputs, made.feedback, [r.item_id for r in rows])


def _algo(seed: int = 0, name: str = "default", **options):
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
    )
    policy = build_policy(cfg, {"label": K})
    config = TrainConfig(seed=seed, options=options)
    return ALGORITHMS[name](policy, {"label": K}, config), config


def _simulate(
    n_events: int, seed: int = 0, attach: bool = True, upe: int = 4, name="default", **options
):
    """``n_events`` answers on the pool's items in turn, ``upe`` updates after each; with
    ``name="supervised"`` each answer also carries the true label as its correction."""
    x, y = _data(seed=seed)
    pool, test = np.arange(90), np.arange(90, len(y))
    algo, config = _algo(seed, name, **options)
    feat = _Feat(x)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    if attach:
        algo.attach_pool([str(i) for i in pool], feat.batch)
    gen = torch.Generator().manual_seed(seed + 1)
    act_gen = torch.Generator().manual_seed(seed + 2)
    props = []
    for t in range(n_events):
        i = int(pool[t % len(pool)])
        a = algo.act(feat.batch([str(i)]), act_gen, [str(i)])["label"]
        shown = int(a.labels[0])
        props.append(float(a.propensity[0]))
        fix = int(y[i]) if name == "supervised" else -1
        buf.add(Row(t + 1, str(i), "label", shown, 1 if shown == y[i] else -1, props[-1], fix))
        algo.refresh(buf)
        for _ in range(upe):
            algo.update(buf.sample(config.batch_size, gen))
    pred = algo.greedy(feat.batch([str(i) for i in test]))["label"].argmax(1).numpy()
    algo.simulated_rows = buf.rows  # the answers, for the tests
    return algo, float((pred == y[test]).mean()), props


def test_learns_from_thumbs_only_with_the_pool():
    algo, acc, props = _simulate(40)
    assert acc >= 0.8
    assert all(0 < p <= 1 for p in props)
    assert algo.fitted and len(algo.pool_ids) == 90
    q = algo.q["label"]
    assert q.shape == (90, K) and np.allclose(q.sum(1), 1)


def test_pseudo_confidence_weighs_each_pool_item_by_its_calibrated_top_probability():
    """pseudo_confidence: a pool item's pseudo-label weight follows the top probability of its
    posterior at the power τ fitted on the answers (the more confident half above chance gets
    full weight), where without it the weight follows the spread of the log-posterior."""
    algo, acc, _ = _simulate(40, pseudo_confidence=True)
    assert acc >= 0.8
    q, w = algo.q["label"], algo.target_weight["label"].numpy()
    top = q**algo.views.temperature
    top = (top / top.sum(1, keepdims=True)).max(1)
    order = np.argsort(top)
    assert np.all(np.diff(w[order]) >= -1e-6)  # never less weight for a more confident item
    assert (w > 1 - 1e-6).mean() >= 0.5 and w.min() >= 0.0
    plain = _simulate(40)[0]
    assert not np.allclose(plain.target_weight["label"].numpy(), w)


def test_deterministic_for_a_seed():
    a1, acc1, p1 = _simulate(12, attach=True)
    a2, acc2, p2 = _simulate(12, attach=True)
    assert acc1 == acc2 and p1 == p2
    for u, v in zip(a1.policy.parameters(), a2.policy.parameters(), strict=True):
        assert torch.equal(u, v)


def test_without_an_attached_pool_the_answered_items_are_the_pool():
    algo, _, props = _simulate(10, attach=False)
    assert len(algo.pool_ids) == 10
    assert all(0 < p <= 1 for p in props)


def test_act_uses_the_pool_posterior_and_neighbours_for_new_items():
    x, y = _data()
    algo, _ = _algo()
    feat = _Feat(x)
    algo.attach_pool([str(i) for i in range(60)], feat.batch)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    for t in range(20):  # the expert confirmed the true label of 20 items
        buf.add(Row(t + 1, str(t), "label", int(y[t]), 1, 1.0, -1))
    algo.refresh(buf)
    gen = torch.Generator().manual_seed(0)
    ids = [str(i) for i in range(20)]
    known = algo.act(feat.batch(ids), gen, ids)["label"]
    assert isinstance(known, Action)
    # a confirmed item is shown its confirmed label almost surely
    assert (known.labels.numpy() == y[:20]).mean() >= 0.9
    ids = [str(i) for i in range(100, 120)]
    new = algo.act(feat.batch(ids), gen, ids)["label"]
    assert ((new.propensity > 0) & (new.propensity <= 1)).all()
    assert (new.labels.numpy() == y[100:120]).mean() >= 0.6


def test_thumbs_down_moves_the_posterior_away_from_the_shown_label():
    x, _ = _data()
    algo, _ = _algo()
    feat = _Feat(x)
    algo.attach_pool([str(i) for i in range(30)], feat.batch)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    buf.add(Row(1, "3", "label", 2, -1, 0.25, -1))
    algo.refresh(buf)
    q = algo.q["label"][algo.pool_index["3"]]
    assert q[2] < 0.1 and q.argmax() != 2


def test_the_graph_views_of_images_are_weighed_by_answers_they_had_not_seen():
    """Issue 17: beside the fixed views, the policy's own embedding is a candidate view for
    images over 16 px (judged only on answers it had not been trained on); on tiny images
    (8×8 digits) the graph keeps the fixed views: there the embedding's scores overtook the
    pixels' while its graph was less right (digits seed 0: .963 → .922 at 300 answers)."""
    algo, _, _ = _simulate(40)
    assert algo.views.share == 0.99
    assert algo.views.tiny_images and "embedding" not in algo.views.graphs
    assert {"pixels", "gradients", "hog"} <= set(algo.views.graphs)
    assert algo.graph_view == "pixels"
    x, _ = _data()
    big = torch.from_numpy(x).repeat_interleave(4, 2).repeat_interleave(4, 3)  # 32×32
    gv = GraphViews(DefaultOptions())
    gv.rebuild(np.eye(len(big))[:, :16], lambda: iter([{"image": big}]), 16000, 5, True)
    assert not gv.tiny_images and "embedding" in gv.graphs
    wide, _ = _algo(input_views="0.99,0.5,0")  # an older project's list still loads
    assert wide.options.input_views == "0.99,0.5,0"


def test_options_are_checked():
    with pytest.raises(UserError):
        _algo(input_views="1.5")
    with pytest.raises(UserError):
        _algo(graph_k=0)
    with pytest.raises(UserError):
        _algo(suspect_ratio=0.5)


def test_a_thumb_its_neighbours_contradict_is_set_aside():
    """A 👎 on an item's true label, among neighbours answered 👍 on that label, is a likely
    mis-click: set aside, it leaves the item's posterior on the true label and adds no loss."""
    x, y = _data()
    feat = _Feat(x)
    out = {}
    for above in (3.0, 0.0):
        algo, _ = _algo(0, suspect_ratio=above)
        buf = ReplayBuffer(["label"], feat, lambda i: i)
        algo.attach_pool([str(i) for i in range(90)], feat.batch)
        for t in range(60):
            buf.add(Row(t + 1, str(t), "label", int(y[t]), 1, 1.0, -1))
        misclick = Row(61, "75", "label", int(y[75]), -1, 1.0, -1)
        buf.add(misclick)
        algo.refresh(buf)
        loss = algo.update(_batch(buf, [misclick]))["loss/label"]
        out[above] = (algo.suspect.get("label", set()), int(algo.q["label"][75].argmax()), loss)
    suspect, label, loss = out[3.0]
    assert suspect == {(75, int(y[75]), False)}  # only the mis-click: no 👍 is contradicted
    assert label == y[75] and loss == 0.0
    suspect, label, loss = out[0.0]
    assert not suspect and label != y[75] and loss > 0.0


def _answered_pool(n_pool: int = 60, n_answers: int = 20):
    x, y = _data()
    algo, _ = _algo()
    feat = _Feat(x)
    algo.attach_pool([str(i) for i in range(n_pool)], feat.batch)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    for t in range(n_answers):  # the expert confirmed the true label of these items
        buf.add(Row(t + 1, str(t), "label", int(y[t]), 1, 1.0, -1))
    algo.refresh(buf)
    return algo, feat, buf, x, y


def test_act_knows_a_pool_item_by_its_id_not_by_its_content():
    """The interface names the items: a pool item acts on its own posterior row whatever its
    inputs look like (an augmented or re-decoded image), and an item outside the pool with a
    pool item's exact pixels is not taken for it (the old content hash did both wrong)."""
    algo, feat, _, x, _ = _answered_pool()
    gen = torch.Generator().manual_seed(0)
    shifted = feat.batch(["3"])
    shifted["image"] = (shifted["image"] + 0.2).clamp(0, 1)  # not byte-equal to the pool's copy
    acted = algo.act(shifted, gen, ["3"])["label"]
    q = algo.q["label"][algo.pool_index["3"]]
    assert torch.allclose(acted.probs[0], torch.from_numpy(q / q.sum()).float())
    # an outside item with the pixels of pool item "3": the neighbours' vote, not item 3's row
    twin = feat.batch(["3"])
    outside = algo.act(twin, gen, ["not-in-the-pool"])["label"]
    assert not torch.allclose(outside.probs[0], acted.probs[0])
    assert "not-in-the-pool" not in algo.pool_index


def test_update_finds_set_aside_thumbs_by_item_id_in_an_augmented_batch():
    """A set-aside thumb adds no loss even when the replayed inputs were augmented (they no
    longer match the pool's copy byte for byte): the batch's item ids say which item it is."""
    x, y = _data()
    feat = _Feat(x)
    algo, _ = _algo(0)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    algo.attach_pool([str(i) for i in range(90)], feat.batch)
    for t in range(60):
        buf.add(Row(t + 1, str(t), "label", int(y[t]), 1, 1.0, -1))
    misclick = Row(61, "75", "label", int(y[75]), -1, 1.0, -1)
    buf.add(misclick)
    algo.refresh(buf)
    assert algo.suspect["label"] == {(75, int(y[75]), False)}
    batch = _batch(buf, [misclick])
    batch.inputs["image"] = torch.flip(batch.inputs["image"], dims=[-1])  # an augmentation
    assert algo.update(batch)["loss/label"] == 0.0
    unnamed = ReplayBatch(batch.inputs, batch.feedback)  # no ids: no row is known to be set aside
    assert algo.update(unnamed)["loss/label"] > 0.0


def test_the_replay_buffer_names_the_item_of_each_row():
    x, _ = _data()
    buf = ReplayBuffer(["label"], _Feat(x), lambda i: i)
    rows = [Row(t + 1, str(t), "label", 0, 1, 1.0, -1) for t in range(3)]
    for r in rows:
        buf.add(r)
    assert buf.make_batch(rows).item_ids == ["0", "1", "2"]
    assert sorted(buf.sample(8, torch.Generator().manual_seed(0)).item_ids) == ["0", "1", "2"]


def _policy_inputs(algo, batch) -> torch.Tensor:
    """The images the policy's training forward saw in one ``update``."""
    seen = []
    hook = algo.policy.register_forward_pre_hook(lambda m, a: seen.append(a[0]["image"].clone()))
    try:
        algo.update(batch)
    finally:
        hook.remove()
    return seen[0]


@pytest.mark.parametrize("augment", [False, True])
def test_pool_augment_shows_the_pseudo_labelled_pool_items_augmented(augment):
    """``pool_augment``: the pool items the pseudo-labels train on go through the replay's
    augmentation (here the project's flips and turns), drawn from their own generator, so the
    pool items drawn are the same ones with and without it; off, they are the pool's copy."""
    x, y = _data()
    feat = _Feat(x)
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
    )
    config = TrainConfig(seed=0, orientation_free=True, options={"pool_augment": augment})
    algo = ALGORITHMS["default"](build_policy(cfg, {"label": K}), {"label": K}, config)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    algo.attach_pool([str(i) for i in range(90)], feat.batch)
    for t in range(20):
        buf.add(Row(t + 1, str(t), "label", int(y[t]), 1, 1.0, -1))
    algo.refresh(buf)
    batch = _batch(buf, buf.rows[:8])
    gen = algo.pool_gen.get_state()
    seen = _policy_inputs(algo, batch)
    algo.pool_gen.set_state(gen)
    idx = torch.randint(len(algo.pool_ids), (8,), generator=algo.pool_gen)
    raw = algo._pool_batch(idx)["image"]
    assert seen.shape[0] == 16 and torch.equal(seen[:8], batch.inputs["image"])
    assert torch.equal(seen[8:], raw) is not augment
    if augment:  # a flip or turn of each pool image: the same pixels, rearranged
        assert torch.allclose(seen[8:].flatten(1).sort(1).values, raw.flatten(1).sort(1).values)


def test_pseudo_agree_keeps_pseudo_labels_only_where_the_network_agrees_with_the_graph():
    """``pseudo_agree``: a pool item whose graph top label is not the network's gets no
    pseudo-label weight; the others keep the weight they have without the option."""
    plain = _simulate(10)[0]  # early: the network and the graph agree on about half
    algo = _simulate(10, pseudo_agree=True)[0]
    q, net = algo.q["label"], algo.views.net["label"]
    agree = net.argmax(1) == q.argmax(1)
    w, w0 = algo.target_weight["label"].numpy(), plain.target_weight["label"].numpy()
    assert 0 < agree.sum() < len(agree)
    assert np.all(w[~agree] == 0) and np.any(w[agree] > 0)
    assert np.any(w0[~agree] > 0)


def test_gate_open_until_keeps_the_pseudo_labels_at_full_weight_while_the_answers_are_few():
    """``gate_open_until``: below that many answers the pseudo-label gate is open whatever the
    answers say (without it the gate is shut until the posterior has foretold enough answers);
    from then on the gate judges as before."""
    plain = _simulate(8)[0]
    early = _simulate(8, gate_open_until=10)[0]
    assert plain.views.pseudo_gate == 0.0 and early.views.pseudo_gate == 1.0
    later = _simulate(12, gate_open_until=10)[0]
    assert later.views.pseudo_gate == 0.0  # 12 answers: the gate's own verdict, still shut


def test_self_train_teaches_the_networks_sure_labels_that_no_answer_refused():
    """``self_train``: a pool item the network gives a label at least that probability, a label
    its own answers have not refused, is taught that label at full weight; the others keep
    the graph's pseudo-label and its weight."""
    tau = 0.55
    algo = _simulate(10, self_train=tau)[0]
    net = algo.views.net["label"]
    top, sure = net.argmax(1), net.max(1) >= tau
    for r in algo.simulated_rows:  # an item's own 👎 on its sure label: not taught
        if r.reward < 0 and r.shown == top[algo.pool_index[r.item_id]]:
            sure[algo.pool_index[r.item_id]] = False
    assert 0 < sure.sum() < len(sure)
    target, w = algo.targets["label"].numpy(), algo.target_weight["label"].numpy()
    assert np.all(target[sure].argmax(1) == top[sure]) and np.all(target[sure].max(1) == 1.0)
    assert np.all(w[sure] == 1.0)
    assert np.allclose(target[~sure].sum(1), 1.0)
    # a 👎 on an item's sure label: it keeps the graph's pseudo-label
    row = int(np.flatnonzero(sure)[0])
    item = algo.pool_ids[row]
    down = Row(99, item, "label", int(top[row]), -1, 0.5, -1)
    graph_target = torch.full((len(top), K), 1.0 / K)
    algo.targets["label"] = graph_target.clone()
    weight = np.full(len(top), 0.25, dtype=np.float32)
    algo._self_train(SimpleNamespace(rows=[down]), "label", net, weight, {})
    assert torch.equal(algo.targets["label"][row], graph_target[row]) and weight[row] == 0.25
    others = np.flatnonzero(sure)[1:]
    assert np.all(weight[others] == 1.0)
    assert np.all(algo.targets["label"].numpy()[others].argmax(1) == top[others])


def test_new_item_vote_predicts_held_out_items_from_the_network_and_the_pools_vote():
    """new_item_vote: after 20 answers (one update each) the network is still near chance on
    held-out items; the vote of their pool neighbours, which foretold the answers better, carries
    the prediction. Without it a held-out item gets the network's (what an export carries)."""
    x, y = _data()
    test = [str(i) for i in range(90, len(y))]
    feat = _Feat(x)
    algo, net_acc, _ = _simulate(20, upe=1, new_item_vote=True)
    assert algo.votes_for_new_items
    assert algo.views.stacks["label"].powers != (1.0, 0.0)  # the vote has its say
    pred = algo.predict_unseen(feat.batch(test))["label"]
    assert torch.allclose(pred.sum(1), torch.ones(len(test)))
    assert (pred.argmax(1).numpy() == y[90:]).mean() >= net_acc + 0.3
    plain, plain_acc, _ = _simulate(20, upe=1)
    assert plain_acc == net_acc  # the option changes no training
    assert not plain.votes_for_new_items and not plain.views.stacks
    assert torch.equal(plain.predict_unseen(feat.batch(test))["label"],
                       plain.greedy(feat.batch(test))["label"])  # fmt: skip


def test_new_item_vote_logs_only_an_items_first_answer():
    """Once answered, an item has taught the network and its neighbours (through the graph):
    a held-out item has done neither, so its later answers foretell nothing about one."""
    algo, _, _ = _simulate(100, upe=0, new_item_vote=True)  # the 90-item pool cycles
    log = algo.views.stacks["label"].log
    items = [r.item_id for _, _, r in log]
    assert len(items) == len(set(items)) and 80 <= len(items) <= 90


def test_explore_network_shows_the_networks_first_label_where_the_graph_disagrees():
    """explore_network: on the pool items where the network's first label is not the graph
    posterior's, that share of the acting distribution goes to the network's — the only way
    answers can judge the network's own choices there (ADR 0030)."""
    algo, _, _ = _simulate(15, upe=1, explore_network=0.3)
    net = algo.views.net["label"].argmax(1)
    top = algo.q["label"].argmax(1)
    acting = algo.acting["label"]
    rows = np.flatnonzero(net != top)
    assert len(rows) > 0 and np.allclose(acting.sum(1), 1)
    assert (acting[rows, net[rows]] >= 0.3).all()
    plain, _, _ = _simulate(15, upe=1)
    assert (plain.acting["label"][rows, net[rows]] < 0.3).any()
    with pytest.raises(UserError):
        _algo(explore_network=1.0)


def test_the_acting_bonus_favours_the_labels_the_answers_have_confirmed_least():
    """The shown label is drawn from softmax(act_kappa · (z + bonus)), the bonus ``optimism`` /
    √(1 + the label's 👍 and corrections so far), 2 by default (ADR 0035): a label few answers
    have confirmed is shown more than its posterior alone would show it."""
    assert DefaultOptions().optimism == 2.0
    algo, _, _ = _simulate(15, upe=1)
    confirmed = np.zeros(K)
    for r in algo.simulated_rows:
        if r.reward > 0:
            confirmed[r.shown] += 1
    assert 0 < confirmed.sum() < 15 and confirmed.min() < confirmed.max()
    assert np.allclose(algo.bonus["label"], 2.0 / np.sqrt(1.0 + confirmed))
    lq = np.log(algo.q["label"] + 1e-12)
    z = (lq - lq.mean(1, keepdims=True)) / (lq.std(1, keepdims=True) + 1e-12)
    plain = algo._acting(lq, z, np.zeros(K))
    least, most = int(confirmed.argmin()), int(confirmed.argmax())
    ratio = algo.acting["label"][:, least] / algo.acting["label"][:, most]
    assert np.allclose(algo.acting["label"].sum(1), 1)
    assert (ratio > plain[:, least] / plain[:, most]).all()
