"""Issue 14's benchmark (benchmarks/pretrained_encoder): the encoder it pretrains on glyphs is a
local Hugging Face folder the app accepts, of letters the downstream glyph set does not use, and
the report's goal checks read the runs right. Tiny sizes: a few seconds."""

from __future__ import annotations

import pytest

from benchmarks.own_folders import images
from benchmarks.pretrained_encoder import pretrain, report, run


def test_the_pretraining_characters_are_not_the_downstream_ones():
    chars = pretrain.PRETRAIN_CHARS
    assert len(chars) == len(set(chars)) == 76
    target = {ch.upper() for ch in images.LETTERS} | set(images.LETTERS)  # drawn upper case
    look_alikes = set("ΑΒΕΗΚΡΤΧΟΖΙΥΜΝ") | set("АВЕКНРСТХОМ") | set("$§€0123456789")
    assert not set(chars) & (target | look_alikes)
    xs, ys = pretrain.render(pretrain.UPPER, 2, 0, [None])  # Pillow's own font
    assert xs.shape == (32, pretrain.SIZE, pretrain.SIZE) and sorted(set(ys)) == list(range(16))
    px = pretrain.to_pixels(xs[:4], __import__("numpy").random.default_rng(0))
    assert tuple(px.shape) == (4, 3, pretrain.SIZE, pretrain.SIZE)
    assert float(px.min()) >= -1.0 and float(px.max()) <= 1.0


def test_the_pretrained_folder_is_one_the_app_accepts(tmp_path):
    from mmrl_desktop.core.learning.pretrained import inspect_encoder

    model, rep = pretrain.train(
        steps=2, per_class=2, batch=8, val_per_class=1, fonts=[None], chars=pretrain.UPPER
    )
    pretrain.save(model, tmp_path / "enc")
    info = inspect_encoder(tmp_path / "enc", "image")
    assert (info.architecture, info.input_size, info.pooling) == ("ResNetModel", 64, "pooler")
    assert info.embedding_size == pretrain.ARCH["hidden_sizes"][-1] and info.dtype == "float32"
    assert rep["steps"] == 2 and 0.0 <= rep["val_accuracy"] <= 1.0
    assert sorted(p.name for p in (tmp_path / "enc").iterdir()) == [
        "config.json", "model.safetensors", "preprocessor_config.json"
    ]  # fmt: skip


def _run(learner, seed, accs, name="digits"):
    curve = [{"feedback": f, "accuracy": a} for f, a in zip((100, 300, 1000), accs, strict=True)]
    return {"set": name, "learner": learner, "seed": seed, "curve": curve}


def test_the_goal_checks():
    results = {"points": [100, 300, 1000], "set_order": ["digits"], "runs": [
        _run(report.PRE_THUMBS, 0, (0.80, 0.90, 0.95)),
        _run(report.PRE_SUP, 0, (0.85, 0.95, 0.97)),
        _run(report.SCRATCH_THUMBS, 0, (0.70, 0.92, 0.96)),
        _run(report.SCRATCH_SUP, 0, (0.80, 0.90, 0.96)),
    ]}  # fmt: skip
    lines = report.checks(results, "digits")
    assert lines[0].endswith("yes") and "0.900 vs .9 × 0.950" in lines[0]
    assert (
        lines[1]
        == "- pretrained above scratch, thumbs only, at every point: NO (not above at 300, 1000)"
    )
    assert lines[2] == "- pretrained above scratch, supervised, at every point: yes"
    assert "| **pretrained encoder, thumbs only (default)** | 0.800 ± 0.000 |" in report.table(
        results
    )


def test_merged_runs_are_kept_once():
    results = {"runs": [_run(report.PRE_THUMBS, 0, (0.1, 0.2, 0.3))], "sets": {}}
    old = {"commit": "abc", "runs": [_run(report.PRE_THUMBS, 0, (0.5, 0.5, 0.5)),
                                     _run(report.PRE_THUMBS, 1, (0.5, 0.5, 0.5)),
                                     {**_run(report.PRE_SUP, 0, (0, 0, 0)), "error": "x"}]}  # fmt: skip
    run._merge(results, old)
    assert [(r["seed"], r["curve"][0]["accuracy"]) for r in results["runs"]] == [(0, 0.1), (1, 0.5)]
    assert results["commits_merged"] == ["abc"]


@pytest.mark.parametrize("argv", [["--sets", "nope"], ["--learners", "nope"]])
def test_unknown_sets_and_learners_are_refused(argv):
    with pytest.raises(SystemExit):
        run._parse(argv)


def test_resuming_one_set_runs_only_that_set(tmp_path):
    """A resumed file's other sets stay in its table and are not run (the merge once appended
    them to the list of sets to run: a 45-minute glyph run started after the digits)."""
    import json

    out = tmp_path / "r.json"
    done = _run(report.SCRATCH_THUMBS, 0, (0.5, 0.6, 0.7))
    out.write_text(json.dumps({"set_order": ["glyphs", "digits"], "sets": {}, "runs": [done]}))
    args = ["--sets", "digits", "--learners", report.SCRATCH_THUMBS, "--seeds", "0"]
    res = run.main([*args, "--resume", "--out", str(out), "--cache", str(tmp_path / "data")])
    assert set(res["sets"]) == {"digits"} and res["set_order"] == ["digits", "glyphs"]
    assert len(res["runs"]) == 1
