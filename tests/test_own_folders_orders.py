"""The own folders under each next-item order (issue 19, benchmarks/own_folders/orders.py): one
table over the orders' results files, and the goal line says yes/NO from the means over the seeds
both orders ran."""

from __future__ import annotations

import json

from benchmarks.own_folders import orders, report


def _file(tmp_path, name, accs_by_seed, learner=report.APP_DEFAULT):
    runs = [
        {
            "set": "shapes",
            "learner": learner,
            "seed": seed,
            "curve": [{"feedback": p, "accuracy": a} for p, a in zip((30, 60), accs, strict=True)],
        }
        for seed, accs in accs_by_seed.items()
    ]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({"commit": "abc", "runs": runs}))
    return path


def test_the_goal_line_compares_the_means_over_the_seeds_both_orders_ran(tmp_path):
    shuffle = _file(tmp_path, "s", {0: (0.4, 0.5), 1: (0.4, 0.7), 2: (0.9, 0.9)})
    uncertain = _file(tmp_path, "u", {0: (0.4, 0.6), 1: (0.5, 0.5)})  # no seed 2
    anchor = _file(tmp_path, "a", {0: (0.8, 0.9)}, learner=report.APP_SUPERVISED)
    spec = f"shuffle={shuffle},uncertain={uncertain},uncertain/supervised={anchor}"
    text = orders.table(orders.load(spec))
    assert "| shuffle | 0,1,2 | 0.567 ± 0.289 | 0.700 ± 0.200 |" in text
    assert "| uncertain/supervised | 0 | 0.800 ± 0.000 | 0.900 ± 0.000 |" in text
    line = next(t for t in text.splitlines() if t.startswith("- `uncertain`"))
    # seeds 0,1: @30 .45 vs .40; @60 .55 vs .60, below at seed 1
    assert "(seeds 0,1): NO" in line
    assert "@30 +0.050 (0/2 seeds below" in line and "@60 -0.050 (1/2 seeds below" in line
    assert not any(t.startswith("- `uncertain/supervised`") for t in text.splitlines())


def test_the_goal_line_gives_a_paired_95_interval_of_the_difference(tmp_path):
    """Differences +.1, +.2, +.3 at 30 over three seeds: mean .2, sd .1, t(2) 4.303 → ± .248."""
    shuffle = _file(tmp_path, "s", {0: (0.4, 0.5), 1: (0.4, 0.5), 2: (0.4, 0.5)})
    drawn = _file(tmp_path, "d", {0: (0.5, 0.5), 1: (0.6, 0.5), 2: (0.7, 0.5)})
    text = orders.table(orders.load(f"shuffle={shuffle},drawn={drawn}"))
    line = next(t for t in text.splitlines() if t.startswith("- `drawn`"))
    assert "@30 +0.200 (0/3 seeds below; 95 % CI -0.048 to +0.448)" in line
    assert "@60 +0.000 (0/3 seeds below; 95 % CI +0.000 to +0.000)" in line
    assert "(seeds 0,1,2): yes" in line


def test_order_measure_runs_lines_are_read_by_measure(tmp_path):
    """``order_measure_runs.py``'s JSON lines (acc at its POINTS) join the table as a row; ``@M``
    keeps one measure's lines."""
    shuffle = _file(tmp_path, "s", {0: (0.4, 0.5), 1: (0.4, 0.7)})
    lines = tmp_path / "m.jsonl"
    rows = [
        {
            "set": "shapes",
            "seed": 0,
            "measure": "typical=1",
            "acc": [0.4, 0.6, 0.7, 0.8],
            "up": [0.1, 0.2, 0.3, 0.4],
        },
        {
            "set": "shapes",
            "seed": 1,
            "measure": "typical=1",
            "acc": [0.4, 0.8, 0.7, 0.8],
            "up": [0.1, 0.2, 0.3, 0.6],
        },
        {"set": "shapes", "seed": 0, "measure": "up", "acc": [0.1, 0.1, 0.1, 0.1]},
        {"set": "shapes", "seed": 0, "measure": "random=1.0", "points": [60], "acc": [0.9]},
    ]
    lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = orders.table(orders.load(f"shuffle={shuffle},typical@typical=1={lines}"))
    assert "| typical | 0,1 | 0.400 ± 0.000 | 0.700 ± 0.141 |" in text
    line = next(t for t in text.splitlines() if t.startswith("- `typical`"))
    assert "(seeds 0,1): yes" in line and "@60 +0.100 (0/2 seeds below" in line
    assert "- 👍 share of the first 300 answers, mean: typical 0.500 (2 seeds)" in text
    uniform = orders.table(orders.load(f"shuffle={shuffle},uniform@random=1.0={lines}"))
    assert "| uniform | 0 | – | 0.900 ± 0.000 |" in uniform  # run at its own points
