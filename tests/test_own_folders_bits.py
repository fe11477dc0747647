"""The information yardstick for thumbs-only answers (benchmarks/own_folders/bits.py)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks.own_folders import bits


def test_binary_entropy_is_one_bit_at_half_and_zero_at_the_ends():
    assert bits.binary_entropy(0.5) == pytest.approx(1.0)
    assert bits.binary_entropy(0.0) == bits.binary_entropy(1.0) == 0.0
    assert bits.binary_entropy(0.1) == pytest.approx(0.469, abs=1e-3)


def test_answer_bits_sum_the_stretches_between_points():
    """30 answers at 👍 share 1/3, then 30 more all 👍 (cumulative .6667 at 60): the second
    stretch holds nothing; one stretch at the mean share would count more (Jensen)."""
    got = bits.answer_bits([30, 60], [1 / 3, 2 / 3], 60)
    assert got == pytest.approx(30 * bits.binary_entropy(1 / 3))
    assert got < 60 * bits.binary_entropy(2 / 3)
    assert bits.answer_bits([30, 60], [1 / 3, 2 / 3], 30) == pytest.approx(got)


def test_accuracy_at_interpolates_and_says_when_before_the_curve():
    assert bits.accuracy_at([30, 60], [0.4, 0.6], 45) == pytest.approx(0.5)
    assert bits.accuracy_at([30, 60], [0.4, 0.6], 29) is None
    assert bits.accuracy_at([30, 60], [0.4, 0.6], 90) == 0.6


def test_the_table_pairs_a_thumbs_run_with_supervised_of_the_same_seed(tmp_path):
    rows = [
        {"set": "glyphs", "seed": 0, "algorithm": "default", "settings": {},
         "points": [30, 300], "acc": [0.1, 0.5], "ups": [0.5, 0.5]},
        {"set": "glyphs", "seed": 0, "algorithm": "supervised", "settings": {},
         "points": [30, 100, 300], "acc": [0.3, 0.7, 0.9], "ups": [0.2, 0.5, 0.7]},
        {"set": "glyphs", "seed": 1, "algorithm": "default", "settings": {},
         "points": [30, 300], "acc": [0.1, 0.9], "ups": [0.5, 0.5]},  # no supervised: left out
        {"set": "glyphs", "seed": 0, "algorithm": "default", "settings": {"refit_until": 64},
         "points": [30, 300], "acc": [0.0, 0.0], "ups": [0.0, 0.0]},  # with settings: left out
    ]  # fmt: skip
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recs = bits.per_seed(bits.rows_by_key([str(path)]), 300, {"glyphs": 10})
    assert [(r["set"], r["seed"]) for r in recs] == [("glyphs", 0)]
    m = 300 / math.log2(10)  # 300 answers at 👍 share .5: 300 bits
    assert recs[0]["m"] == pytest.approx(m)
    assert recs[0]["sup_at_m"] == pytest.approx(0.3 + 0.4 * (m - 30) / 70)  # between 30 and 100
    text = bits.table(recs, 300)
    assert "| glyphs (0) | 0.500 | 0.900 | 0.56 | 0.500 | 0.500 | 300 | 90 |" in text
    # 150 👍 of 300: true labels; supervised at 150 answers is .7 + .2 × 50 / 200 = .75
    assert recs[0]["n_up"] == pytest.approx(150)
    assert text.rstrip().endswith("| 150 | 0.750 | -0.250 |")
    assert "👍 share 31–300" in text


def test_the_share_since_the_last_point_is_of_the_answers_between():
    """Cumulative 👍 .2 at 50 and .6 at 100: answers 51–100 were 👍 at 1.0."""
    rows = {
        ("words", 0, "default"): {"points": [50, 100], "acc": [0.2, 0.5], "ups": [0.2, 0.6]},
        ("words", 0, "supervised"): {"points": [50, 100], "acc": [0.4, 0.7], "ups": [0.3, 0.5]},
    }
    (rec,) = bits.per_seed(rows, 100, {"words": 8})
    assert rec["last"] == pytest.approx(1.0) and rec["since"] == 50
    assert rec["bits"] == pytest.approx(50 * bits.binary_entropy(0.2))


def test_the_thumbs_up_yardstick_says_when_it_falls_before_the_curve():
    """20 👍 of 100 answers: 20 true labels, before supervised's first point (30)."""
    rows = {
        ("shapes", 0, "default"): {"points": [30, 100], "acc": [0.3, 0.5], "ups": [0.2, 0.2]},
        ("shapes", 0, "supervised"): {"points": [30, 100], "acc": [0.4, 0.7], "ups": [0.3, 0.5]},
    }
    (rec,) = bits.per_seed(rows, 100, {"shapes": 3})
    assert rec["n_up"] == pytest.approx(20) and rec["sup_at_up"] is None
    assert (
        bits.table([rec], 100)
        .rstrip()
        .endswith("| 20 | < 30 answers (`supervised` 0.400 there) | — |")
    )
