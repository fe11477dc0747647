"""benchmarks/own_folders/paired.py: two arms of runs, paired by seed, from JSON lines."""

import json

import pytest

from benchmarks.own_folders import paired


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return str(path)


def test_a_source_filters_on_json_values_and_null_matches_a_missing_field():
    path, filters = paired.parse_source('f.jsonl?order=diverse&settings={"options": {"a": 1}}')
    assert path == "f.jsonl"
    assert filters == {"order": "diverse", "settings": {"options": {"a": 1}}}
    assert paired.matches({"order": "diverse", "settings": {"options": {"a": 1}}}, filters)
    assert not paired.matches({"order": "diverse", "settings": {}}, filters)
    assert paired.matches({"set": "words"}, paired.parse_source("f?settings=null")[1])
    with pytest.raises(ValueError, match="FIELD=VALUE"):
        paired.parse_source("f?order")


def test_seeds_and_points_of_both_record_kinds():
    assert paired.parse_seeds("23-25,29") == [23, 24, 25, 29]
    order_run = {"acc": [0.1, 0.2, 0.3, 0.4]}  # order_measure_runs: 30, 60, 150, 300
    setting_run = {"points": [30, 60, 100, 150, 300], "acc": [0.1, 0.2, 0.25, 0.3, 0.5]}
    assert paired.accuracy_at(order_run, 150) == 0.3
    assert paired.accuracy_at(setting_run, 300) == 0.5
    assert paired.accuracy_at(order_run, 100) is None


def test_arms_pool_sources_pair_by_seed_and_refuse_a_seed_held_twice(tmp_path, capsys):
    a1 = _write(
        tmp_path / "a1.jsonl",
        [
            {"set": "words", "seed": 1, "order": "diverse", "acc": [0, 0, 0.5, 0.7]},
            {"set": "words", "seed": 1, "order": "shuffle", "acc": [0, 0, 0.5, 0.6]},
            {"set": "glyphs", "seed": 1, "order": "diverse", "acc": [0, 0, 0.9, 0.9]},
        ],
    )
    a2 = _write(
        tmp_path / "a2.jsonl",
        [
            {"set": "words", "seed": 2, "order": "diverse", "acc": [0, 0, 0.4, 0.8]},
            {"set": "words", "seed": 3, "order": "diverse", "acc": [0, 0, 0.4, 0.8]},
        ],
    )
    b = _write(
        tmp_path / "b.jsonl",
        [
            {"set": "words", "seed": s, "points": [150, 300], "settings": {}, "acc": [0.5, 0.65]}
            for s in (1, 2)
        ],
    )
    rows = paired.main(
        [
            "--set",
            "words",
            "--seeds",
            "1-3",
            "--points",
            "150,300",
            "--a",
            a1 + "?order=diverse",
            "--a",
            a2,
            "--b",
            b + "?settings={}",
        ]
    )
    out = capsys.readouterr().out
    assert "seeds [3] are not in both arms" in out
    at300 = rows[1]
    assert at300["seeds"] == [1, 2]
    assert at300["per_seed"] == pytest.approx([0.05, 0.15])
    assert at300["diff"] == pytest.approx(0.1)
    assert at300["below"] == 0
    # t with 1 degree of freedom: 12.706 × sd 0.0707 / √2 = 0.635 either side of the mean
    assert at300["t95"] == pytest.approx([0.1 - 0.6353, 0.1 + 0.6353], abs=1e-3)
    assert rows[0]["per_seed"] == pytest.approx([0.0, -0.1]) and rows[0]["below"] == 1
    with pytest.raises(ValueError, match="seed 1 is in this arm twice"):
        paired.arm([a1], "words", [1])


def test_run_py_results_pair_by_learner_with_json_lines(tmp_path):
    curve = [{"feedback": p, "accuracy": a} for p, a in ((30, 0.5), (60, 0.7))]
    results = tmp_path / "anchors.json"
    results.write_text(
        json.dumps(
            {
                "runs": [
                    {"set": "glyphs", "learner": "cnn", "seed": 7, "curve": curve},
                    {"set": "glyphs", "learner": "logreg", "seed": 7, "curve": curve[:1]},
                ]
            }
        ),
        encoding="utf-8",
    )
    app = _write(
        tmp_path / "app.jsonl",
        [{"set": "glyphs", "seed": 7, "points": [30, 60], "acc": [0.45, 0.75]}],
    )
    records = paired.read_records(str(results))
    assert records[0]["points"] == [30, 60] and records[0]["acc"] == [0.5, 0.7]
    assert "curve" not in records[0]
    rows = paired.main(
        [
            "--set",
            "glyphs",
            "--seeds",
            "7",
            "--points",
            "30,60",
            "--a",
            app,
            "--b",
            f"{results}?learner=cnn",
        ]
    )
    assert [r["diff"] for r in rows] == pytest.approx([-0.05, 0.05])
