"""Checkpoints: round trip, keep last N, incomplete/corrupt files, no pickle."""

from __future__ import annotations

import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.checkpoints import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from mmrl_desktop.core.learning.model.policy import build_policy
from tests.core.test_algorithms import _batch

CFG = ModelConfig.from_dict(
    {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
)


def _algo(name="default"):
    torch.manual_seed(0)
    return ALGORITHMS[name](
        build_policy(CFG, {"label": 4, "second": 3}),
        {"label": 4, "second": 3},
        TrainConfig(algorithm=name),
    )


def test_round_trip_identical_outputs(tmp_path):
    a = _algo()
    for _ in range(2):
        a.update(_batch())
    meta = {"model_config": CFG.to_dict(), "labels": {"label": list("abcd")}}
    path = save_checkpoint(tmp_path, a.state_dict(), meta, step=2)
    ck = load_checkpoint(path)
    assert ck.meta["step"] == 2 and ck.meta["labels"] == {"label": list("abcd")}
    torch.manual_seed(123)  # a different init: everything must come from the file
    b = ALGORITHMS["default"](
        build_policy(CFG, {"label": 4, "second": 3}), {"label": 4, "second": 3}, TrainConfig()
    )
    b.load_state_dict(ck.state)
    x = _batch().inputs
    assert torch.equal(a.greedy(x)["label"], b.greedy(x)["label"])
    # the optimiser state came back too: one more identical update gives identical weights
    a.update(_batch())
    b.update(_batch())
    for pa, pb in zip(a.policy.parameters(), b.policy.parameters(), strict=True):
        assert torch.allclose(pa, pb)
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temp files


def test_keep_last_n_and_fallback(tmp_path):
    a = _algo("supervised")
    for step in range(1, 6):
        save_checkpoint(tmp_path, a.state_dict(), {}, step=step, keep=3)
    assert [p.stem for p in list_checkpoints(tmp_path)] == [
        "ckpt-00000003",
        "ckpt-00000004",
        "ckpt-00000005",
    ]
    # a kill during the newest write: truncated weights → the previous one loads
    newest = list_checkpoints(tmp_path)[-1]
    newest.write_bytes(newest.read_bytes()[:100])
    assert latest_checkpoint(tmp_path).meta["step"] == 4
    # weights without their JSON (killed before the metadata landed) are ignored
    (tmp_path / "ckpt-00000009.safetensors").write_bytes(b"partial")
    assert latest_checkpoint(tmp_path).meta["step"] == 4


def test_checkpoint_files_hold_no_pickle(tmp_path):
    path = save_checkpoint(tmp_path, _algo().state_dict(), {}, step=1)
    head = path.read_bytes()[:8]
    assert int.from_bytes(head, "little") < 10_000_000  # safetensors header length, not a pickle
    assert b"\x80\x04" not in path.with_suffix(".json").read_bytes()


def test_the_checkpoint_name_is_made_and_parsed_in_one_place(tmp_path):
    from mmrl_desktop.core.learning.ckpt_files import (
        checkpoint_path,
        checkpoint_stem,
        checkpoint_step,
    )

    for step in (0, 1200, 99_999_999, 123_456_789_012):
        assert checkpoint_step(checkpoint_stem(step)) == step
        path = checkpoint_path(tmp_path, step)
        assert checkpoint_step(path) == step == checkpoint_step(path.with_suffix(".json").name)
    assert checkpoint_stem(1200) == "ckpt-00001200"  # the format on disk, unchanged
    saved = save_checkpoint(tmp_path, _algo("supervised").state_dict(), {}, step=7)
    assert saved == checkpoint_path(tmp_path, 7) and saved.with_suffix(".json").is_file()
    for other in ("rank0.safetensors", "ckpt-12.json", "ckpt-0000000x.json", "notes.txt", ""):
        assert checkpoint_step(other) is None, other
