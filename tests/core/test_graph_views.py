"""The default algorithm's graph views (core/learning/views.py) and their choice by held-back
answers (core/learning/graph_views.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import views
from mmrl_desktop.core.learning.algorithm_options import DefaultOptions, parse_options
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.graph_views import NETWORK, GraphViews, _score
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _textures(n_per: int = 40, seed: int = 0, side: int = 32):
    """Two classes of colour images whose pixels say nothing of the class: stripes (random
    orientation, phase and colours) and dots (random phase and colours)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    xs, ys = [], []
    for c in range(2):
        for _ in range(n_per):
            a, ph, period = rng.uniform(0, np.pi), rng.uniform(0, 2 * np.pi), rng.uniform(5, 7)
            if c == 0:
                u = np.cos(a) * xx + np.sin(a) * yy
                m = (np.sin(2 * np.pi * u / period + ph) > 0).astype(np.float32)
            else:
                m = (
                    (np.sin(2 * np.pi * xx / period + ph) > 0.5)
                    & (np.sin(2 * np.pi * yy / period + ph) > 0.5)
                ).astype(np.float32)
            fg, bg = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
            img = m[None] * fg[:, None, None] + (1 - m[None]) * bg[:, None, None]
            img += rng.normal(0, 0.05, img.shape)
            xs.append(np.round(np.clip(img, 0, 1) * 255) / 255)
            ys.append(c)
    order = rng.permutation(len(ys))
    return np.asarray(xs, np.float32)[order], np.asarray(ys)[order]


def _loo_1nn(v: np.ndarray, y: np.ndarray) -> float:
    s = v @ v.T
    np.fill_diagonal(s, -np.inf)
    return float((y[s.argmax(1)] == y).mean())


def test_the_gradients_view_sees_textures_the_pixels_do_not():
    x, y = _textures()
    inputs = {"image": torch.from_numpy(x), "image_mask": torch.ones(len(y), dtype=torch.bool)}
    fixed, stats = views.fixed_views([inputs])
    assert set(fixed) == {"pixels", "gradients", "hog", "edges"}
    assert np.allclose(np.linalg.norm(fixed["gradients"], axis=1), 1)
    assert _loo_1nn(fixed["gradients"], y) >= 0.9
    assert _loo_1nn(fixed["pixels"], y) <= 0.75
    # an item outside the pool is placed as the pool's own copy of it
    again = views.view_of("gradients", {"image": inputs["image"][:5]}, stats)
    assert np.allclose(again, fixed["gradients"][:5])


def test_the_logmel_view_hears_pitch_whatever_the_gain_and_onset():
    rng = np.random.default_rng(0)
    sr, waves, ys = 8000, [], []
    for c, f in enumerate((300.0, 900.0)):
        for _ in range(12):
            w = np.zeros(sr, np.float32)
            start, n = rng.integers(0, sr // 2), sr // 3
            t = np.arange(n) / sr
            w[start : start + n] = rng.uniform(0.05, 1.0) * np.sin(2 * np.pi * f * t)
            waves.append(w + rng.normal(0, 0.002, sr).astype(np.float32))
            ys.append(c)
    fixed, _ = views.fixed_views([{"audio": torch.from_numpy(np.stack(waves))}], sr)
    assert set(fixed) == {"logmel", "cepstra"}
    assert _loo_1nn(fixed["logmel"], np.asarray(ys)) >= 0.9


def _tone_words(sr: int, rng: np.random.Generator, n_per: int = 12):
    """Two 'words' of the same two voiced sounds (harmonics of 200 and 500 Hz, smooth onsets)
    in opposite order, at any speed, onset and gain."""
    waves, ys = [], []
    for c, order in enumerate(((200.0, 500.0), (500.0, 200.0))):
        for _ in range(n_per):
            n = int(sr * rng.uniform(0.15, 0.3))  # each sound's length: the speed varies
            t = np.arange(n) / sr
            ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)  # 20 ms fades
            word = np.concatenate(
                [ramp * sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, 6)) for f in order]
            )
            w = np.zeros(sr, np.float32)
            start = rng.integers(0, sr - len(word))
            w[start : start + len(word)] = rng.uniform(0.05, 1.0) * word
            waves.append(w + rng.normal(0, 0.002, sr).astype(np.float32))
            ys.append(c)
    return np.stack(waves), np.asarray(ys)


def test_the_cepstra_view_hears_the_order_of_sounds_whatever_the_speed_gain_and_onset():
    sr = 8000
    x, y = _tone_words(sr, np.random.default_rng(0))
    fixed, stats = views.fixed_views([{"audio": torch.from_numpy(x)}], sr)
    assert fixed["cepstra"].shape == (len(y), 12 * 40)
    assert np.allclose(np.linalg.norm(fixed["cepstra"], axis=1), 1)
    assert _loo_1nn(fixed["cepstra"], y) >= 0.95
    mask = torch.tensor([True, False, True])
    out = views.view_of(
        "cepstra", {"audio": torch.from_numpy(x[:3]), "audio_mask": mask}, stats, sr
    )
    assert np.allclose(out[[0, 2]], fixed["cepstra"][[0, 2]])  # as the pool placed them


def test_the_ngram_view_places_texts_by_their_words():
    ids = torch.tensor([[5, 6, 7, 0], [5, 6, 8, 0], [900, 901, 902, 903], [900, 901, 904, 0]])
    fixed, _ = views.fixed_views([{"text": ids}])
    assert _loo_1nn(fixed["ngrams"], np.array([0, 0, 1, 1])) == 1.0


def _rows(answers):
    """Replay rows from (event id, pool row, shown, reward)."""
    return [Row(e, str(i), "label", a, r, 0.5, -1) for e, i, a, r in answers]


def test_each_answer_is_scored_once_by_the_prediction_made_before_it():
    gv = GraphViews(DefaultOptions(view_min_labels=2, answer_noise=0.1, view_score="loglik"))
    gv.graphs = {"pixels": None, "gradients": None}
    gv.fixed = {"pixels": np.eye(2), "gradients": np.eye(2)}
    gv.q = {"pixels": {"label": np.array([[0.9, 0.1]] * 3)}}
    gv.q["gradients"] = {"label": np.array([[0.2, 0.8]] * 3)}
    gv.net = {"label": np.array([[0.5, 0.5]] * 3)}
    index = {str(i): i for i in range(3)}
    rows = _rows([(1, 0, 0, 1), (2, 1, 1, -1)])  # 👍 label 0 on item 0, 👎 label 1 on item 1
    gv.score(rows, index, {"label": 2})
    gv.score(rows, index, {"label": 2})  # seen: not scored twice
    p = 0.9 * 0.9 + 0.1 / 2, 1 - (0.9 * 0.1 + 0.05)
    assert list(gv.scores["pixels"]) == pytest.approx([np.log(p[0]), np.log(p[1])])
    gv.choose()
    assert gv.chosen == "pixels"  # it predicted both answers better than gradients
    assert gv.net_weight < 0.5  # and better than the network's coin flip


def test_a_surprise_costs_a_bounded_score_and_one_does_not_switch_the_view():
    """A posterior sure of ten answers, one of them wrong: the Brier score charges the surprise
    at most 1 (the log-likelihood ~6.5), and a view that was better on that one answer only is
    not chosen over the first: the switch takes view_z standard errors of advantage."""
    wrong = _rows([(1, 0, 0, -1)])[0]
    sure = np.array([0.999, 0.001])
    assert _score(sure, wrong, 0.001, "brier") == pytest.approx(-(0.999**2))
    assert _score(sure, wrong, 0.001, "loglik") < -6
    index = {str(i): i for i in range(10)}
    answers = _rows([(e, e, 0, 1 if e else -1) for e in range(10)])
    gv = GraphViews(DefaultOptions(view_min_labels=5, net_temper=1.0))
    gv.graphs, gv.fixed = {"pixels": None, "gradients": None}, {"pixels": 1, "gradients": 1}
    gv.q = {"pixels": {"label": np.tile(sure, (10, 1))}}
    gv.q["gradients"] = {"label": np.tile([0.5, 0.5], (10, 1))}
    gv.net = {"label": np.tile([0.7, 0.3], (10, 1))}
    gv.score(answers, index, {"label": 2})
    gv.choose()
    assert gv.chosen == "pixels" and gv.net_weight == 0.0


def test_the_network_takes_over_when_it_predicts_the_answers_better():
    gv = GraphViews(DefaultOptions(view_min_labels=5, net_temper=1.0))
    gv.graphs = {"pixels": None}
    gv.fixed = {"pixels": np.eye(2)}
    gv.q = {"pixels": {"label": np.full((10, 2), 0.5)}}
    gv.net = {"label": np.tile([0.95, 0.05], (10, 1))}
    gv.score(_rows([(e, e, 0, 1) for e in range(10)]), {str(i): i for i in range(10)}, {"label": 2})
    gv.choose()
    assert gv.net_weight == 1.0  # it predicted every answer better
    assert len(gv.scores[NETWORK]) == 10


def _strokes(n_per: int = 20, seed: int = 0, side: int = 32):
    """Two letter-like classes, L and T, drawn as thick strokes at a random shift, stroke width
    and polarity (dark on light or light on dark) with noise: the raw pixels place them by their
    polarity, the orientation histograms by their strokes."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for c in range(2):
        for _ in range(n_per):
            m = np.zeros((side, side), np.float32)
            w, dx, dy = rng.integers(3, 6), rng.integers(-3, 4), rng.integers(-3, 4)
            lo, hi = 8 + dy, 24 + dy
            left, right = 8 + dx, 24 + dx
            if c == 0:  # L: a vertical stroke and a bottom bar
                m[lo:hi, left : left + w] = 1
                m[hi - w : hi, left:right] = 1
            else:  # T: a top bar and a vertical stroke in the middle
                m[lo : lo + w, left:right] = 1
                mid = (left + right) // 2
                m[lo:hi, mid - w // 2 : mid - w // 2 + w] = 1
            if rng.random() < 0.5:
                m = 1 - m
            img = np.clip(m + rng.normal(0, 0.1, m.shape), 0, 1)
            xs.append(np.repeat(img[None], 3, 0))
            ys.append(c)
    return np.asarray(xs, np.float32), np.asarray(ys)


def test_the_hog_view_sees_strokes_whatever_their_polarity():
    x, y = _strokes()
    inputs = {"image": torch.from_numpy(x), "image_mask": torch.ones(len(y), dtype=torch.bool)}
    fixed, stats = views.fixed_views([inputs])
    assert "hog" in fixed
    assert np.allclose(np.linalg.norm(fixed["hog"], axis=1), 1)
    assert _loo_1nn(fixed["hog"], y) >= 0.95
    inverse = views.view_of("hog", {"image": 1 - inputs["image"][:5]}, stats)
    assert ((inverse * fixed["hog"][:5]).sum(1) > 0.99).all()  # blind to polarity


def test_the_edges_view_sees_both_textures_and_strokes():
    """hog and gradients side by side: each item's cosine the mean of theirs, so the view keeps
    what either sees (the textures gradients place, the strokes hog places)."""
    for (x, y), best in ((_textures(), "gradients"), (_strokes(), "hog")):
        inputs = {"image": torch.from_numpy(x), "image_mask": torch.ones(len(y), dtype=torch.bool)}
        fixed, stats = views.fixed_views([inputs])
        e = fixed["edges"]
        assert np.allclose(np.linalg.norm(e, axis=1), 1)
        assert np.allclose(
            e @ e.T, (fixed["hog"] @ fixed["hog"].T + fixed["gradients"] @ fixed["gradients"].T) / 2
        )
        assert _loo_1nn(e, y) >= 0.9 and _loo_1nn(fixed[best], y) >= 0.9
        again = views.view_of("edges", {"image": inputs["image"][:5]}, stats)
        assert np.allclose(again, e[:5])
    assert views.view_of("edges", {"text": torch.zeros(2, 3, dtype=torch.long)}, stats) is None


def _scored(options, q_by_view, answers, k=2):
    gv = GraphViews(dataclasses.replace(options, graph_views=",".join(q_by_view)))
    gv.graphs = {v: None for v in q_by_view}
    gv.fixed = {v: 1 for v in q_by_view}
    gv.q = {v: {"label": q} for v, q in q_by_view.items()}
    n = max(len(q) for q in q_by_view.values())
    gv.score(answers, {str(i): i for i in range(n)}, {"label": k})
    gv.choose()
    return gv


def test_the_views_are_weighed_by_how_well_they_foretold_unseen_answers():
    """view_choice = mixture: each view's posterior weighs exp(the sum of its scores on the
    answers it had not seen), the Bayesian weight of "this view is the right one"; a tie keeps
    them equal, and the graph's view is the heaviest."""
    answers = _rows([(e, e, 0, 1) for e in range(20)])
    good, flat = np.tile([0.8, 0.2], (20, 1)), np.full((20, 2), 0.5)
    gv = _scored(DefaultOptions(view_choice="mixture"), {"pixels": flat, "hog": good}, answers)
    assert gv.chosen == "hog"
    assert gv.weights["hog"] > 0.99 and sum(gv.weights.values()) == pytest.approx(1.0)
    tie = _scored(DefaultOptions(view_choice="mixture"), {"pixels": flat, "hog": flat}, answers)
    assert tie.weights == pytest.approx({"pixels": 0.5, "hog": 0.5})
    assert tie.chosen == "pixels"  # a tie keeps the first candidate
    switch = _scored(
        DefaultOptions(view_choice="switch", view_min_labels=5),
        {"pixels": flat, "hog": good},
        answers,
    )
    assert switch.weights == {"hog": 1.0}


def test_auto_mixes_the_views_of_large_images_and_sounds_and_switches_otherwise():
    """view_choice = auto: the mixture where no fixed view is known to be right (images over 16
    px, sounds), the switch on tiny images (digits' pixels) and texts."""
    gv = GraphViews(DefaultOptions(view_choice="auto"))
    cases = [
        ({"image"}, False, True),
        ({"image"}, True, False),  # 8×8 digits
        ({"audio"}, False, True),
        ({"text"}, False, False),
        ({"image", "text"}, False, True),
        (set(), False, False),  # volumes only: no fixed view at all
    ]
    for modalities, tiny, mixing in cases:
        gv.modalities, gv.tiny_images = frozenset(modalities), tiny
        assert gv.mixing is mixing, (modalities, tiny)
    assert GraphViews(DefaultOptions(view_choice="mixture")).mixing
    assert not GraphViews(DefaultOptions(view_choice="switch")).mixing
    with pytest.raises(UserError, match="mixture, switch or auto"):
        DefaultOptions(view_choice="vote").validate()


def test_pseudo_labels_wait_until_the_posterior_foretells_answers_better_than_chance():
    """pseudo_gate: the pool's pseudo-labels count only as far as the posterior predicted the
    answers it had not seen better than a uniform guess (view_z standard errors: full weight);
    without the option they always count."""
    assert GraphViews(DefaultOptions(pseudo_gate=False)).pseudo_gate == 1.0
    ups = _rows([(e, e, 0, 1 if e % 10 else -1) for e in range(30)])
    opts = DefaultOptions(view_min_labels=10, pseudo_gate=True)
    gv = _scored(opts, {"pixels": np.full((30, 2), 0.5)}, [])
    gv.mixed = {"label": np.full((30, 2), 0.5)}
    gv.score(ups, {str(i): i for i in range(30)}, {"label": 2})
    gv.choose()
    assert gv.pseudo_gate == 0.0  # no better than a coin
    gv.seen = set()
    gv.scores = {}
    gv.mixed = {"label": np.tile([0.7, 0.3], (30, 1))}  # leaning to label 0: 9 answers in 10
    gv.score(ups, {str(i): i for i in range(30)}, {"label": 2})
    gv.choose()
    assert gv.pseudo_gate == 1.0


def test_options_name_known_views():
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"graph_views": "pixels,colour"}, "default")
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"net_temper": -1}, "default")
    ok = parse_options(DefaultOptions, {"graph_views": "embedding, gradients"}, "default")
    assert GraphViews(ok).candidates() == ["embedding"]  # gradients: no pool seen yet


def _algo(seed: int = 0, **options):
    torch.manual_seed(seed)
    cfg = ModelConfig.from_dict(
        {"modalities": "image", "image_size": 32, "image_channels": 3, "embed_dim": 16}
    )
    policy = build_policy(cfg, {"label": 2})
    return ALGORITHMS["default"](policy, {"label": 2}, TrainConfig(seed=seed, options=options))


class _Feat:
    def __init__(self, x):
        self.x = x

    def batch(self, ids):
        img = torch.from_numpy(self.x[[int(i) for i in ids]])
        return {"image": img, "image_mask": torch.ones(len(ids), dtype=torch.bool)}


def test_a_pool_of_large_images_starts_its_graph_on_edges_by_default():
    x, y = _textures(n_per=10)  # 32 px
    algo = _algo()
    feat = _Feat(x)
    algo.attach_pool([str(i) for i in range(len(y))], feat.batch)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    buf.add(Row(1, "0", "label", int(y[0]), 1, 0.5, -1))
    algo.refresh(buf)
    assert algo.graph_view == "edges" and "pixels" in algo.views.graphs


def test_the_graph_moves_to_the_view_that_predicts_the_thumbs():
    """Stripes vs dots in random colours: the raw pixels place them at random, the gradients
    view by their kind; after the first answers the graph is built on the gradients and acts
    with exact propensities (the acting distribution's probability of the label shown)."""
    x, y = _textures(n_per=30)
    algo = _algo(view_min_labels=15, large_first="")  # the switch from the raw pixels
    feat = _Feat(x)
    algo.attach_pool([str(i) for i in range(len(y))], feat.batch)
    buf = ReplayBuffer(["label"], feat, lambda i: i)
    assert algo.graph_view == ""
    gen = torch.Generator().manual_seed(0)
    ups = []
    for t in range(40):
        a = algo.act(feat.batch([str(t)]), gen, [str(t)])["label"]
        shown = int(a.labels[0])
        if algo.fitted:
            assert float(a.propensity[0]) == pytest.approx(algo.acting["label"][t, shown], 1e-6)
        ups.append(shown == y[t])
        buf.add(
            Row(t + 1, str(t), "label", shown, 1 if ups[-1] else -1, float(a.propensity[0]), -1)
        )
        algo.refresh(buf)
        if t == 0:
            assert algo.graph_view == "pixels"  # the first candidate until answers are scored
    assert algo.graph_view == "gradients"
    pred = algo.q["label"][40:].argmax(1)
    assert (pred == y[40:]).mean() >= 0.8
    # items passed without their ids act on their neighbours in the gradients view
    new = algo.act(feat.batch([str(i) for i in range(40, 60)]), gen)["label"]
    assert ((new.propensity > 0) & (new.propensity <= 1)).all()
    assert (new.labels.numpy() == y[40:60]).mean() >= 0.7


def test_the_posterior_temperature_is_fitted_on_the_answers_it_had_not_seen():
    """act_rule = calibrated: an overconfident posterior (sure of one label, right one time in
    two) is flattened (τ < 1), a timid one that is always right is sharpened (τ > 1)."""
    opts = DefaultOptions(view_min_labels=10, act_rule="calibrated")
    rows = _rows([(e, e, 0, 1 if e % 2 else -1) for e in range(40)])
    gv = _scored(opts, {"pixels": np.full((40, 3), 1 / 3)}, [])
    gv.mixed = {"label": np.tile([0.98, 0.01, 0.01], (40, 1))}
    gv.score(rows, {str(i): i for i in range(40)}, {"label": 3})
    assert gv.fit_temperature() < 0.5
    timid = _scored(opts, {"pixels": np.full((40, 3), 1 / 3)}, [])
    timid.mixed = {"label": np.tile([0.4, 0.3, 0.3], (40, 1))}
    timid.score(
        _rows([(e, e, 0, 1) for e in range(40)]), {str(i): i for i in range(40)}, {"label": 3}
    )
    assert timid.fit_temperature() > 3
    assert GraphViews(opts).fit_temperature() == 1.0  # no answers scored yet


def _sure_and_timid(n: int, k: int, conf: float = 0.99999, acc: float = 0.8):
    """Two views' posteriors of n items with k labels — sure (right on ~``acc``, its top label at
    ``conf``) and timid (right on ~60 %, its top label at .45) —, a 👎 on a wrong label of every
    item, and the items' true labels."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, k, n)

    def view(acc, conf):
        top = np.where(rng.random(n) < acc, y, (y + rng.integers(1, k, n)) % k)
        q = np.full((n, k), (1 - conf) / (k - 1))
        q[np.arange(n), top] = conf
        return q

    sure, timid = view(acc, conf), view(0.6, 0.45)
    wrong = (y + rng.integers(1, k, n)) % k
    rows = [Row(e, str(e), "label", int(wrong[e]), -1, 0.5, -1) for e in range(n)]
    return sure, timid, rows, y


def test_a_view_that_ranks_labels_right_outweighs_one_whose_confidence_happens_to_fit():
    """view_score = calibrated: each view's posterior is judged at the power that fits the
    answers best. With the plain log-likelihood an overconfident view right on 82 % of the items
    weighed less than a timid one right on 58 % (the digits' pixels and gradients scored the
    same: −1.84 per answer); calibrated, the better ranker takes the weight."""
    k = 3
    sure, timid, rows, _ = _sure_and_timid(60, k)
    weights = {}
    for rule in ("loglik", "calibrated"):
        opts = DefaultOptions(view_score=rule, view_choice="mixture")
        gv = _scored(opts, {"pixels": timid, "hog": sure}, rows, k)
        weights[rule] = gv.weights["hog"]
    assert weights["loglik"] < 0.5 < 0.95 < weights["calibrated"]


def test_the_rate_gate_does_not_open_for_a_posterior_that_only_foretells_the_thumbs_down():
    """gate_baseline = rate: an item-blind posterior (the same row for every item: sure that
    labels 1–9, the ones shown to explore, are rare) foretells 19 👎 in 20 better than a 1/K
    guess, so the uniform gate opens; measured against the best constant 👍 probability it
    has foretold nothing about any item, and the pseudo-labels stay out."""
    n, k = 150, 10
    rows = _rows([(e, e, 1 + e % 9, 1 if e % 20 == 0 else -1) for e in range(n)])
    blind = np.tile([0.55] + [0.05] * 9, (n, 1))

    def gate(baseline):
        opts = DefaultOptions(view_min_labels=10, gate_baseline=baseline)
        gv = _scored(opts, {"pixels": blind}, [], k)
        gv.mixed = {"label": blind}
        gv.score(rows, {str(i): i for i in range(n)}, {"label": k})
        gv.choose()
        return gv.pseudo_gate

    assert gate("uniform") > 0.5
    assert gate("rate") < 0.1  # (the temperature grid fits the rate only to a step)
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"gate_baseline": "coin"}, "default")


def test_the_calibrated_switch_moves_to_the_view_that_ranks_labels_right():
    """switch_score = calibrated: the switch compares the views at the power of each posterior
    that fits the answers best. An overconfident view right on 85 % of the items does not beat a
    timid one right on 60 % when every answer's log-probability is compared as it stands (its
    confident mistakes cost more than its many right calls gain); calibrated, it does."""
    n, k = 150, 3
    sure, timid, _, y = _sure_and_timid(n, k, acc=0.85)
    shown = np.arange(n) % k  # each label shown in turn: a 👍 when it is the item's
    rows = [Row(e, str(e), "label", int(shown[e]), 1 if shown[e] == y[e] else -1, 1 / k, -1)
            for e in range(n)]  # fmt: skip
    chosen = {}
    for rule in ("answers", "calibrated"):
        opts = DefaultOptions(view_min_labels=30, switch_score=rule)
        chosen[rule] = _scored(opts, {"pixels": timid, "hog": sure}, rows, k).chosen
    assert chosen == {"answers": "pixels", "calibrated": "hog"}
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"switch_score": "votes"}, "default")


def test_the_label_score_of_a_thumb_is_unbiased_whatever_label_the_acting_showed():
    """switch_score = labels: over the acting distribution μ, a 👍 on the shown label weighted by
    1 / μ(shown) sums to the log-probability the view gave the true label, whichever view the
    acting followed; a 👎 counts 0 for every view, a correction its label's log-probability."""
    from mmrl_desktop.core.learning.graph_views import _label_score

    q, noise, y = np.array([0.1, 0.6, 0.3]), 0.05, 2
    p = (1 - noise) * q + noise / 3
    for mu in (np.array([0.2, 0.5, 0.3]), np.array([0.7, 0.2, 0.1])):
        rows = [Row(s, "0", "label", s, 1 if s == y else -1, float(mu[s]), -1) for s in range(3)]
        expected = sum(mu[s] * _label_score(q, r, noise) for s, r in enumerate(rows))
        assert expected == pytest.approx(np.log(p[y]))
    assert _label_score(q, Row(0, "0", "label", 0, -1, 0.5, 1), noise) == pytest.approx(
        np.log(p[1])
    )


def test_a_calibrated_network_enters_where_its_raw_overconfidence_kept_it_out():
    """net_score = calibrated: a network right on 85 % of the items but overconfident foretells
    the answers worse than a timid graph right on 60 % when its raw probabilities are scored, and
    never enters the posterior (docs/benchmarks.md §5i); at the power that fits the answers best
    it is the better predictor, takes the full weight and enters at that power (below 1)."""
    n, k = 150, 3
    sure, timid, _, y = _sure_and_timid(n, k, acc=0.85)
    shown = np.arange(n) % k
    rows = [Row(e, str(e), "label", int(shown[e]), 1 if shown[e] == y[e] else -1, 1 / k, -1)
            for e in range(n)]  # fmt: skip
    out = {}
    for rule in ("answers", "calibrated"):
        opts = DefaultOptions(view_min_labels=30, net_temper=1.0, net_score=rule)
        gv = GraphViews(dataclasses.replace(opts, graph_views="pixels"))
        gv.graphs, gv.fixed = {"pixels": None}, {"pixels": 1}
        gv.q, gv.net = {"pixels": {"label": timid}}, {"label": sure}
        gv.score(rows, {str(i): i for i in range(n)}, {"label": k})
        gv.choose()
        out[rule] = (gv.net_weight, gv.net_tau)
    assert out["answers"] == (0.0, 1.0)
    assert out["calibrated"][0] == 1.0 and out["calibrated"][1] < 0.5
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"net_score": "raw"}, "default")


def test_the_switch_from_current_keeps_the_view_it_moved_to_until_another_beats_it():
    """switch_from = current: once the answers moved the graph off the first view, it stays on
    the new one when the evidence for it fades, until a view beats it by view_z standard errors;
    switch_from = first goes back to the first view."""
    n, k = 40, 2
    good, flat = np.tile([0.8, 0.2], (n, 1)), np.full((n, k), 0.5)
    moved = {}
    for origin in ("first", "current"):
        opts = DefaultOptions(view_min_labels=5, switch_from=origin, view_score="loglik")
        gv = _scored(opts, {"pixels": flat, "hog": good}, _rows([(e, e, 0, 1) for e in range(n)]))
        assert gv.chosen == "hog"  # 40 👍 that hog foretold
        gv.q["hog"] = {"label": flat}  # hog now predicts no better than the pixels
        gv.score(_rows([(n + e, e % n, 0, 1) for e in range(200)]), {str(i): i for i in range(n)},
                 {"label": k})  # fmt: skip
        gv.choose()
        moved[origin] = gv.chosen
    assert moved == {"first": "pixels", "current": "hog"}
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"switch_from": "best"}, "default")


def test_the_precision_gate_weighs_pseudo_labels_by_how_often_the_first_label_is_right():
    """pseudo_precision: every item's posterior puts label 0 first; half the answers show it
    (propensity .5), the rest show another label. Where label 0 is the item's label on 90 % of
    the items the gate stays as it was; on 20 % it keeps (.2 − .1) / (.5 − .1) of it: the
    estimate of how often the first label is right (a 👍 on it weighted by 1 / .5) is .2."""
    n, k = 200, 10
    row = np.tile([0.55] + [0.05] * 9, (n, 1))

    def gate(right_share, precision):
        rows = []
        for e in range(n):
            true = 0 if (e // 2) % 10 < right_share * 10 else 1 + e % 9
            shown = 0 if e % 2 == 0 else 1 + (e // 2) % 9
            prop = 0.5 if shown == 0 else 0.5 / 9
            rows.append(Row(e, str(e), "label", shown, 1 if shown == true else -1, prop, -1))
        opts = DefaultOptions(view_min_labels=10, view_window=n, pseudo_precision=precision)
        gv = _scored(opts, {"pixels": row}, [], k)
        gv.mixed = {"label": row}
        gv.score(rows, {str(i): i for i in range(n)}, {"label": k})
        gv.choose()
        return gv.pseudo_gate, gv.metrics()

    assert gate(0.9, 0.5)[0] == gate(0.9, 0.0)[0] == 1.0
    low, metrics = gate(0.2, 0.5)
    assert metrics["policy/first_label_right"] == pytest.approx(0.2)
    assert 0.0 < low == pytest.approx(gate(0.2, 0.0)[0] * 0.25)
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"pseudo_precision": 1.5}, "default")


def test_pseudo_recent_estimates_the_first_label_on_the_latest_answers_only():
    """pseudo_recent: the posterior's first label was right on 20 % of the first 100 items
    answered and on 90 % of the latest 100. On the whole window the estimate is .55 (the gate
    keeps (.55 − .1) / (.9 − .1) of itself); on the latest 100 it is .9 (all of it)."""
    n, k = 200, 10
    row = np.tile([0.55] + [0.05] * 9, (n, 1))

    def gate(recent):
        rows = []
        for e in range(n):
            share = 0.2 if e < n // 2 else 0.9
            true = 0 if (e // 2) % 10 < share * 10 else 1 + e % 9
            shown = 0 if e % 2 == 0 else 1 + (e // 2) % 9
            prop = 0.5 if shown == 0 else 0.5 / 9
            rows.append(Row(e, str(e), "label", shown, 1 if shown == true else -1, prop, -1))
        opts = DefaultOptions(
            view_min_labels=10, view_window=n, pseudo_precision=0.9, pseudo_recent=recent
        )
        gv = _scored(opts, {"pixels": row}, [], k)
        gv.mixed = {"label": row}
        gv.score(rows, {str(i): i for i in range(n)}, {"label": k})
        gv.choose()
        return gv.pseudo_gate, gv.metrics()["policy/first_label_right"]

    whole, recent = gate(0), gate(100)
    assert whole[1] == pytest.approx(0.55) and recent[1] == pytest.approx(0.9)
    assert 0.0 < whole[0] == pytest.approx(recent[0] * 0.45 / 0.8)
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"pseudo_recent": -1}, "default")


def test_large_first_starts_the_graph_of_large_images_on_that_view_only():
    """large_first: a pool of images over 8 px starts (and, under the switch, falls back) on
    the named view, a candidate there even when graph_views does not name it; 8×8 images keep
    the pixels, a pool without images keeps graph_views' order."""

    def first(modalities, tiny, **opts):
        gv = GraphViews(DefaultOptions(**opts))
        gv.fixed = {"pixels": 1, "gradients": 1, "hog": 1, "edges": 1, "logmel": 1}
        gv.modalities, gv.tiny_images = frozenset(modalities), tiny
        return gv.candidates()

    assert first({"image"}, False, large_first="hog")[:2] == ["hog", "pixels"]
    assert first({"image"}, True, large_first="hog")[0] == "pixels"
    assert first({"audio"}, False, large_first="hog")[0] == "pixels"
    assert first({"image"}, False, large_first="")[0] == "pixels"
    assert "edges" not in first({"image"}, False, large_first="")  # not in graph_views
    assert first({"image"}, False)[:2] == ["edges", "pixels"]  # the default (ADR 0026)
    assert "edges" not in first({"image"}, True, large_first="edges")
    assert "edges" not in first({"audio"}, False, large_first="edges")
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"large_first": "colour"}, "default")


def test_neighbour_overlap_is_one_for_the_same_view_and_small_for_unrelated_ones():
    rng = np.random.default_rng(0)
    a, b = (views.unit_rows(rng.normal(size=(200, 16))) for _ in range(2))
    assert views.neighbour_overlap(a, a, 5) == pytest.approx(1.0)
    assert views.neighbour_overlap(a, b, 5) < 0.1  # chance: 5 / 199
    assert views.neighbour_overlap(a[:3], b[:3], 5) == pytest.approx(1.0)  # k capped at n - 1
    assert views.neighbour_overlap(a[:1], b[:1], 5) == 0.0


def _digits_at(side: int, n: int = 300) -> torch.Tensor:
    """scikit-learn's 8×8 digits drawn at ``side`` px in three channels (the demo's kind)."""
    from sklearn.datasets import load_digits

    x = torch.from_numpy(load_digits().images[:n].astype(np.float32) / 16)[:, None]
    x = torch.nn.functional.interpolate(x, size=side, mode="bilinear", align_corners=False)
    return x.repeat(1, 3, 1, 1)


def test_aligned_images_keep_the_pixels_first_where_the_others_start_on_large_first():
    """aligned_overlap: digits drawn at 32 px, whose pixels see the neighbourhoods their edges
    see, keep graph_views' order (the pixels first); textures, whose pixels group them by
    colour and phase, start on large_first; 0 turns the check off (nothing computed)."""

    def start(images: torch.Tensor, share: float) -> GraphViews:
        gv = GraphViews(DefaultOptions(aligned_overlap=share))
        z = np.eye(len(images))[:, :4]
        gv.rebuild(z, lambda: iter([{"image": images}]), 16000, 5, True)
        return gv

    digits, textures = _digits_at(32), torch.from_numpy(_textures()[0])
    gv = start(digits, 0.3)
    assert gv.overlap > 0.4 and gv.aligned
    assert gv.candidates()[0] == "pixels" == gv.chosen
    assert gv.metrics()["policy/pixels_edges_overlap"] == gv.overlap
    gv = start(textures, 0.3)
    assert gv.overlap < 0.15 and not gv.aligned
    assert gv.candidates()[0] == "edges" == gv.chosen
    gv = start(digits, 0.0)
    assert gv.overlap == 0.0 and gv.chosen == "edges"
    with pytest.raises(UserError):
        parse_options(DefaultOptions, {"aligned_overlap": 1.5}, "default")


def test_a_pool_of_sounds_starts_its_graph_on_cepstra_by_default():
    """ADR 0027: cepstra before logmel in graph_views; texts and images start as before."""
    sr = 8000
    x, _ = _tone_words(sr, np.random.default_rng(1), n_per=4)
    gv = GraphViews(DefaultOptions())
    gv.rebuild(np.eye(len(x))[:, :4], lambda: iter([{"audio": torch.from_numpy(x)}]), sr, 3, True)
    assert gv.candidates()[:2] == ["cepstra", "logmel"] and gv.chosen == "cepstra"
    old = GraphViews(DefaultOptions(graph_views="pixels,gradients,hog,logmel,ngrams,embedding"))
    old.rebuild(np.eye(len(x))[:, :4], lambda: iter([{"audio": torch.from_numpy(x)}]), sr, 3, True)
    assert old.chosen == "logmel" and "cepstra" not in old.graphs
