"""Runs with chosen settings against the same commit's suite (benchmarks/own_folders/setting_runs.py):
the paired table and the goal lines beside the anchors of the same seeds."""

from __future__ import annotations

import json

from benchmarks.own_folders import report, setting_runs


def _curve(accs):
    return [{"feedback": p, "accuracy": a} for p, a in zip((30, 60), accs, strict=True)]


def _files(tmp_path):
    base = {
        "sets": {"shapes": {"classes": 3, "items": 510}},
        "set_order": ["shapes"],
        "runs": [
            {"set": "shapes", "learner": report.APP_SUPERVISED, "seed": 0,
             "curve": _curve((0.3, 0.4)), "seconds": 1},
            {"set": "shapes", "learner": report.APP_SUPERVISED, "seed": 1,
             "curve": _curve((0.5, 0.6)), "seconds": 1},
            {"set": "shapes", "learner": "cnn", "seed": 0, "curve": _curve((0.4, 0.5)), "seconds": 1},
            {"set": "shapes", "learner": "cnn", "seed": 2, "curve": _curve((0.9, 0.9)), "seconds": 1},
        ],
    }  # fmt: skip
    bp = tmp_path / "base.json"
    bp.write_text(json.dumps(base))
    out = tmp_path / "runs.jsonl"
    rows = [{"set": "shapes", "seed": 0, "algorithm": "supervised", "acc": [0.35, 0.6], "s": 2},
            {"set": "shapes", "seed": 3, "algorithm": "supervised", "acc": [0.15, 0.1], "s": 2}]  # fmt: skip
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(out), str(bp)


def test_the_table_pairs_each_run_with_the_same_set_learner_and_seed(tmp_path):
    out, base = _files(tmp_path)
    text = setting_runs.table(out, base, [30, 60])
    assert "| shapes | supervised | 0 | 0.300 / 0.400 | 0.350 / 0.600 | +0.050 / +0.200 |" in text


def test_the_goal_lines_use_the_anchors_of_the_runs_seeds_only(tmp_path):
    out, base = _files(tmp_path)
    text = setting_runs.with_anchors(out, base, [30, 60])
    assert "| cnn (the anchor) | 0.40 ± 0.00 | 0.50 ± 0.00 |" in text  # seed 2's cnn left out
    assert "| app-supervised | 0.25 ± 0.14 | 0.35 ± 0.35 |" in text  # the runs, not the base's
    assert "supervised ≥ anchor (cnn) at every point: NO (below at 30, 60)" in text


def test_the_goal_lines_of_plain_runs_from_several_files(tmp_path):
    """``plain``: a run with settings in either file is not the app as it is, so it is left out."""
    out, base = _files(tmp_path)
    more = tmp_path / "more.jsonl"
    rows = [{"set": "shapes", "seed": 0, "algorithm": "supervised", "acc": [0.45, 0.7], "s": 2},
            {"set": "shapes", "seed": 0, "algorithm": "supervised", "acc": [0.0, 0.0], "s": 2,
             "settings": {"optimism": 3.0}}]  # fmt: skip
    more.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = setting_runs.with_anchors(f"{out},{more}", base, [30, 60], plain=True)
    assert "| app-supervised | 0.32 ± 0.15 | 0.47 ± 0.32 |" in text  # three plain runs
    text = setting_runs.with_anchors(f"{out},{more}", base, [30, 60])
    assert "| app-supervised | 0.24 ± 0.20 | 0.35 ± 0.35 |" in text  # four, the setting's too


def test_one_jsonl_holds_the_baseline_and_the_runs_with_settings(tmp_path):
    """Rows without settings are the baseline; those with settings are compared to them."""
    path = tmp_path / "both.jsonl"
    rows = [
        {"set": "words", "seed": 0, "algorithm": "supervised", "settings": {}, "acc": [0.3, 0.5]},
        {"set": "words", "seed": 0, "algorithm": "supervised", "settings": {"renew_from": 8},
         "acc": [0.4, 0.5]},
        {"set": "words", "seed": 1, "algorithm": "supervised", "settings": {"renew_from": 8},
         "acc": [0.9, 0.9]},  # no baseline for seed 1: left out
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = setting_runs.table(str(path), str(path), [30, 60])
    assert "| words | supervised | 0 | 0.300 / 0.500 | 0.400 / 0.500 | +0.100 / +0.000 |" in text
    assert text.count("| words |") == 1


def test_rows_that_record_their_points_give_the_ones_asked_for(tmp_path):
    """A run at more points than the table's (30, 45, 60) pairs on the shared ones; a row
    without a point asked for is left out."""
    path = tmp_path / "points.jsonl"
    rows = [
        {"set": "glyphs", "seed": 0, "algorithm": "supervised", "settings": {},
         "points": [30, 45, 60], "acc": [0.2, 0.3, 0.4]},
        {"set": "glyphs", "seed": 0, "algorithm": "supervised", "settings": {"refit_until": 64},
         "points": [30, 45, 60], "acc": [0.3, 0.35, 0.6]},
        {"set": "glyphs", "seed": 1, "algorithm": "supervised", "settings": {},
         "points": [30], "acc": [0.1]},
        {"set": "glyphs", "seed": 1, "algorithm": "supervised", "settings": {"refit_until": 64},
         "points": [30, 60], "acc": [0.9, 0.9]},  # its baseline lacks 60: left out
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = setting_runs.table(str(path), str(path), [30, 60])
    assert "| glyphs | supervised | 0 | 0.200 / 0.400 | 0.300 / 0.600 | +0.100 / +0.200 |" in text
    assert setting_runs.at_points(rows[0], [45]) == [0.3]
    assert setting_runs.at_points({"acc": [0.5, 0.6]}, [30, 60]) == [0.5, 0.6]  # an older row
