"""bench: the contract's JSON on digits and on tiny generated folders, with no code change."""

from __future__ import annotations

import json

import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.tools.bench import run_bench
from tests.core.enginefixtures import TINY_MODEL, make_manifest, make_pngs, make_texts, make_wavs

KEYS = {
    "data",
    "algorithm",
    "seed",
    "device",
    "classes",
    "stream_items",
    "test_items",
    "corrections",
    "noise",
    "curve",
    "seconds",
    "updates_per_event",
}
FAST = {"updates_per_event": 2, "batch_size": 8}


def test_digits_bench_cli_json(capsys):
    assert (
        main(["bench", "--data", "digits", "--feedback", "20,40", "--device", "cpu", "--json"]) == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= KEYS
    assert out["classes"] == 10 and out["stream_items"] == 1257 and out["test_items"] == 540
    assert out["data"] == "digits" and out["algorithm"] == "default" and out["device"] == "cpu"
    assert [r["feedback"] for r in out["curve"]] == [20, 40]
    for row in out["curve"]:
        assert set(row) == {"feedback", "accuracy", "macro_f1", "thumbs_up_rate"}
        assert 0 <= row["accuracy"] <= 1 and 0 <= row["thumbs_up_rate"] <= 1


@pytest.mark.parametrize("kind", ["png", "wav", "txt", "manifest"])
def test_bench_on_generated_sources(tmp_path, kind):
    maker = {"png": make_pngs, "wav": make_wavs, "txt": make_texts, "manifest": make_manifest}
    src = maker[kind](tmp_path / kind)
    out = run_bench(
        str(src),
        feedback=[6, 12],
        holdout=0.34,
        device="cpu",
        algorithm_settings=FAST,
        model_settings=TINY_MODEL | {"image_size": 0},
    )
    assert set(out) >= KEYS and out["classes"] == 2
    assert out["stream_items"] + out["test_items"] == 12
    assert [r["feedback"] for r in out["curve"]] == [6, 12]  # the 8-item stream cycles
    expected = {
        "png": ["image"],
        "wav": ["audio"],
        "txt": ["text"],
        "manifest": ["image", "audio", "text"],
    }[kind]
    assert out["modalities"] == expected


@pytest.mark.parametrize("algorithm", ["supervised", "egreedy-q", "reinforce"])
def test_bench_every_algorithm_runs(tmp_path, algorithm):
    src = make_pngs(tmp_path / "png")
    out = run_bench(
        str(src),
        algorithm=algorithm,
        feedback=[8],
        holdout=0.34,
        device="cpu",
        corrections=0.5,
        noise=0.1,
        algorithm_settings=FAST,
        model_settings=TINY_MODEL,
    )
    assert out["algorithm"] == algorithm and out["corrections"] == 0.5


def test_bench_bad_input_exits_2(tmp_path, capsys):
    assert main(["bench", "--data", str(tmp_path / "nothing"), "--json"]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["bench", "--data", "digits", "--algorithm", "magic"]) == 2


@pytest.mark.slow
def test_supervised_learns_digits():
    out = run_bench("digits", algorithm="supervised", feedback=[300], device="cpu")
    assert out["curve"][-1]["accuracy"] > 0.85
