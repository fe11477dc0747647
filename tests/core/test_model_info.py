"""When a checkpoint was written, said without a traceback even for odd metadata."""

from __future__ import annotations

import json

import pytest

from mmrl_desktop.core.evaluation.model_info import written_utc


@pytest.mark.parametrize("stamp", ["NaN", 1e300, -1e300])
def test_an_impossible_created_at_is_no_traceback(tmp_path, stamp):
    weights = tmp_path / "ckpt-00000001.safetensors"
    weights.write_bytes(b"x")
    meta = '{"created_at": NaN}' if stamp == "NaN" else json.dumps({"created_at": stamp})
    weights.with_suffix(".json").write_text(meta)
    assert written_utc(weights) is None


def test_a_normal_created_at_is_iso_utc(tmp_path):
    weights = tmp_path / "ckpt-00000001.safetensors"
    weights.write_bytes(b"x")
    weights.with_suffix(".json").write_text(json.dumps({"created_at": 0.0}))
    assert written_utc(weights) == "1970-01-01T00:00:00Z"
