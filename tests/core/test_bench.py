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
    assert out["modalities_used"] == expected  # the default fuses every modality (ADR 0039)


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


# ------------------------------------------------------------------ --order (issue 19)
@pytest.mark.parametrize("order", ["shuffle", "uncertain", "diverse", "likely-positive"])
def test_bench_order_runs_end_to_end_and_names_the_order(tmp_path, order):
    src = make_pngs(tmp_path / "png")
    positive = "light" if order == "likely-positive" else None
    out = run_bench(
        str(src),
        feedback=[3, 6],
        holdout=0.34,
        device="cpu",
        algorithm_settings=FAST,
        model_settings=TINY_MODEL,
        order=order,
        positive=positive,
    )
    assert set(out) >= KEYS | {"order", "random_fraction", "pick_every", "warm_up"}
    assert out["order"] == order
    assert [r["feedback"] for r in out["curve"]] == [3, 6]
    assert (out["random_fraction"], out["pick_every"], out["warm_up"]) == (
        (0.0, 1, 0) if order == "shuffle" else (0.1, 10, 20)  # 10 answers per class
    )
    if positive:  # 8 stream items, 4 of them light: found after 1, 2 and 4 answers
        assert out["positive"] == "light"
        rows = out["positives_found"]
        assert [(r["fraction"], r["answers"]) for r in rows] == [(0.1, 1), (0.25, 2), (0.5, 4)]
        assert all(0 <= a["found"] <= b["found"] <= 1 for a, b in zip(rows, rows[1:], strict=False))
    else:
        assert "positives_found" not in out


def test_a_positive_label_reports_positives_found_for_any_order(tmp_path):
    src = make_pngs(tmp_path / "png")
    out = run_bench(
        str(src),
        feedback=[2],
        holdout=0.34,
        device="cpu",
        algorithm_settings=FAST,
        model_settings=TINY_MODEL,
        positive="dark",
    )
    assert out["order"] == "shuffle" and len(out["positives_found"]) == 3  # ran on to 50 %


def test_a_bad_order_or_positive_is_one_sentence(tmp_path):
    from mmrl_desktop.core.errors import UserError

    with pytest.raises(UserError, match="unknown order 'smart'"):
        run_bench("digits", order="smart")
    with pytest.raises(UserError, match="needs a positive label"):
        run_bench("digits", order="likely-positive")
    src = make_pngs(tmp_path / "png")
    with pytest.raises(UserError, match="'cat' is not a label here"):
        run_bench(str(src), feedback=[2], device="cpu", model_settings=TINY_MODEL, positive="cat")


def test_an_active_order_asks_every_stream_item_once_a_round_on_fresh_predictions(
    tmp_path, monkeypatch
):
    """The learner picks from the unanswered items (each once until all are answered, then a new
    round), and its first pick is the item its current model is least sure of."""
    import numpy as np

    from mmrl_desktop.core.data.project import DEFAULT_TASK
    from mmrl_desktop.core.learning import next_item
    from mmrl_desktop.core.learning.next_item import pool_candidates, thumb_gain
    from mmrl_desktop.core.learning.trainer import Trainer
    from mmrl_desktop.core.tools.bench import Asker, _project, _split

    src = make_pngs(tmp_path / "png", per_class=8)
    project = _project(tmp_path, str(src), {"seed": 0, "device": "cpu"} | FAST, TINY_MODEL)
    with project.open_store() as writer:
        stream, _test, _ = _split(writer, str(src), 0.25, 0)
    trainer = Trainer(project, queue_size=0, checkpoints=False, resume=False)
    monkeypatch.setattr(next_item, "READY_Z", None)  # no evidence needed (test_next_item_ready)
    asker = Asker("uncertain", stream, trainer, 0, 0.0, None, "default", 0)
    gain = thumb_gain(pool_candidates(trainer, stream, DEFAULT_TASK).probs)
    first = asker.next()
    assert first.item_id == stream[int(np.argmax(gain))].item_id
    one_round = [first] + [asker.next() for _ in range(len(stream) - 1)]
    assert sorted(it.item_id for it in one_round) == sorted(it.item_id for it in stream)
    assert asker.next().item_id in {it.item_id for it in stream}  # the next round begins
    trainer.close(checkpoint=False)


def test_the_imbalanced_generator_writes_five_percent_positives(tmp_path):
    from benchmarks.imbalanced_digits import write_imbalanced

    counts = write_imbalanced(tmp_path / "imb", positive_digit=3, share=0.05, seed=0)
    assert counts == {"positive": 85, "other": 1614}  # 85 / 1699 = 5.0 %
    assert len(list((tmp_path / "imb" / "positive").glob("*.png"))) == 85
    assert len(list((tmp_path / "imb" / "other").glob("*.png"))) == 1614


def test_an_active_order_asks_in_the_stream_order_during_the_warm_up(tmp_path):
    """The first warm_up answers are the stream's first items, as shuffle asks them; then the
    learner chooses."""
    from mmrl_desktop.core.learning.trainer import Trainer
    from mmrl_desktop.core.tools.bench import Asker, _project, _split

    src = make_pngs(tmp_path / "png", per_class=8)
    project = _project(tmp_path, str(src), {"seed": 0, "device": "cpu"} | FAST, TINY_MODEL)
    with project.open_store() as writer:
        stream, _test, _ = _split(writer, str(src), 0.25, 0)
    trainer = Trainer(project, queue_size=0, checkpoints=False, resume=False)
    asker = Asker("likely-positive", stream, trainer, 0, 0.0, "light", "default", 10)
    first = [asker.next().item_id for _ in range(10)]
    assert first == [it.item_id for it in stream[:10]]
    trainer.close(checkpoint=False)


def test_with_new_item_vote_the_curve_also_gives_the_network_alone(tmp_path):
    """new_item_vote: ``accuracy`` scores what the app predicts for a held-out case (the network
    and its pool neighbours' vote); ``network_accuracy`` the network alone, what an export
    carries. Digits' pixel graph carries the first thumbs better than the network (.40 against
    .36 at 40 answers here)."""
    out = run_bench(
        "digits",
        feedback=[20, 40],
        device="cpu",
        algorithm_settings={"options": {"new_item_vote": True}},
    )
    for row in out["curve"]:
        assert set(row) == {
            "feedback",
            "accuracy",
            "macro_f1",
            "thumbs_up_rate",
            "network_accuracy",
        }
    assert all(row["accuracy"] >= row["network_accuracy"] for row in out["curve"])


def test_ask_again_brings_a_thumbed_down_item_back_after_three_others(tmp_path):
    """ask_again (an experiment of the bench, §6p): a 👎'd item comes back after AGAIN_AFTER other
    answers when the belief its label is drawn from is sure enough, at most AGAIN_MAX asks in
    all; a 👍'd item never does; with a threshold above 1 none comes back."""
    from mmrl_desktop.core.learning.trainer import Trainer
    from mmrl_desktop.core.tools.bench import AGAIN_AFTER, AGAIN_MAX, Asker, _project, _split

    src = make_pngs(tmp_path / "png", per_class=8)
    project = _project(tmp_path, str(src), {"seed": 0, "device": "cpu"} | FAST, TINY_MODEL)
    with project.open_store() as writer:
        stream, _test, _ = _split(writer, str(src), 0.25, 0)
    trainer = Trainer(project, queue_size=0, checkpoints=False, resume=False)
    first = stream[0].item_id  # the expert answers 👎 on it every time, 👍 on every other
    for threshold, expect_back in ((0.01, True), (1.01, False)):
        asker = Asker("shuffle", stream, trainer, 0, 0.0, None, "default", 0)
        asker.ask_again = threshold
        asked = []
        for _ in range(12):
            item = asker.next()
            asked.append(item.item_id)
            asker.answered(item, up=item.item_id != first)
        back = [k for k, i in enumerate(asked) if i == first]
        if expect_back:  # 👎 at 0, again after three others, and once more: AGAIN_MAX in all
            assert back == [0, AGAIN_AFTER + 1, 2 * (AGAIN_AFTER + 1)][:AGAIN_MAX]
            assert asker.describe()["asked_again"] == AGAIN_MAX - 1
        else:
            assert back == [0] and asker.describe()["asked_again"] == 0
        assert asked[1:4] == [it.item_id for it in stream[1:4]]  # the stream goes on meanwhile
    trainer.close(checkpoint=False)
