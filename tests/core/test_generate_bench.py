"""``bench --task generate`` (issue 16): drafts judged by a simulated expert, on a tiny model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tools.bench_generate import (
    digit_text,
    load_items,
    make_bench_lm,
    names,
    run_generate_bench,
    split_items,
    thumbs_up,
)

CLASSES = {
    "access": "reset my password for the vpn",
    "billing": "the invoice from monday looks wrong",
    "rooms": "book the meeting room for friday",
}
FAST = {"heldout_max": 6, "batch": 4, "steps": 1}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("texts")
    for label, text in CLASSES.items():
        (root / label).mkdir()
        for i in range(8):
            (root / label / f"{label}_{i}.txt").write_text(f"{text} number {i}!", encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def base(source, tmp_path_factory):
    items = load_items(str(source))
    stream, _ = split_items(items, 0.3, 0)
    folder = tmp_path_factory.mktemp("lm") / "base"
    return make_bench_lm(folder, items, stream, 0, pretrain=10, epochs=2, hidden=16)


def test_items_prompts_and_the_expert():
    assert load_items("digits")[7].label == "seven"
    assert digit_text(np.full((8, 8), 16.0)).split() == (["#"] * 8 + ["|"]) * 8
    assert names("Billing...", "billing") and not names("bill", "billing")


def test_the_strict_expert_refuses_a_hedge():
    """A draft naming the right label among others is a hedge: 👎 from the strict expert (the
    default), 👍 from the first protocol's ("names")."""
    labels = {"billing", "outage", "access"}
    assert thumbs_up("billing", "billing", labels)
    assert thumbs_up("the billing team.", "billing", labels)
    assert not thumbs_up("billing outage", "billing", labels)
    assert thumbs_up("billing outage", "billing", labels, "names")
    assert not thumbs_up("outage", "billing", labels, "names")
    assert thumbs_up("billing billing", "billing", labels)


def test_an_unknown_expert_is_refused(source, base):
    with pytest.raises(UserError, match="unknown expert"):
        run_generate_bench(str(source), str(base), "none", [1], settings={**FAST, "expert": "x"})


def test_every_arm_runs_and_reports_the_curve(source, base):
    for arm in ("kto", "kto+accepted", "sft", "kto+edits", "none"):
        out = run_generate_bench(str(source), str(base), arm, [3], 1.0, settings=FAST)
        assert [row["feedback"] for row in out["curve"]] == [0, 3]
        assert 0 <= out["curve"][-1]["heldout_thumbs_up"] <= 1
        assert out["test_items"] == 6 and out["arm"] == arm
        if arm.startswith("kto"):
            assert {"loss", "kl", "reward_margin"} <= set(out["curve"][-1])
        if arm == "none":
            assert out["curve"][0]["heldout_greedy"] == out["curve"][-1]["heldout_greedy"]


def test_bench_cli_generate_json(source, base, capsys):
    argv = ["bench", "--task", "generate", "--data", str(source), "--lm", str(base)]
    assert main([*argv, "--feedback", "2", "--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["task"] == "generate" and out["arm"] == "kto"
    assert out["settings"]["expert"] == "strict"
    # CONTRACT.md: the held-out rate before any answer, and after each point
    assert out["start_thumbs_up_rate"] == out["curve"][0]["heldout_thumbs_up"]
    assert all(row["thumbs_up_rate"] == row["heldout_thumbs_up"] for row in out["curve"])
    assert main([*argv, "--feedback", "1", "--expert", "names", "--json"]) == 0
    assert (
        json.loads(capsys.readouterr().out.strip().splitlines()[-1])["settings"]["expert"]
        == "names"
    )
    assert [row["feedback"] for row in out["curve"]] == [0, 2]


def test_bench_generate_refuses_a_bad_model_in_one_line(source, tmp_path, capsys):
    argv = ["bench", "--task", "generate", "--data", str(source), "--lm", str(tmp_path)]
    assert main([*argv, "--feedback", "2", "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no config.json" in err and len(err.splitlines()) == 1
