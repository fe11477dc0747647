"""Volumes in the learners: the default algorithm without a fixed view, the encoders' stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.learning.algorithms import ALGORITHMS
from mmrl_desktop.core.learning.algorithms.base import ReplayBatch
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.replay import ReplayBuffer, Row

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class _Volumes:
    """Random volumes (``side``³), each with a bright cube in one of two corners (its label)."""

    def __init__(self, n: int, seed: int = 0, side: int = 16):
        rng = np.random.default_rng(seed)
        self.y = np.arange(n) % 2
        x = rng.uniform(0.0, 0.3, (n, 1, side, side, side))
        for i, c in enumerate(self.y):
            s = slice(2, 6) if c == 0 else slice(side - 6, side - 2)
            x[i, 0, s, s, s] += 0.6
        self.x = (np.round(x.clip(0, 1) * 255) / 255).astype(np.float32)

    def batch(self, ids):
        vol = torch.from_numpy(self.x[[int(i) for i in ids]])
        return {"volume": vol, "volume_mask": torch.ones(len(ids), dtype=torch.bool)}


def _volume_algo(**options):
    torch.manual_seed(0)
    cfg = ModelConfig.from_dict({"modalities": "volume", "volume_size": 16, "embed_dim": 16})
    policy = build_policy(cfg, {"label": 2})
    config = TrainConfig(seed=0, options=options)
    return ALGORITHMS["default"](policy, {"label": 2}, config), config


def test_a_volume_pool_has_no_fixed_view_so_no_pseudo_labels_and_nothing_set_aside():
    """Volumes have no fixed view: the graph stands on the policy's own embedding, which must not
    teach the network pseudo-labels nor set thumbs aside (before: both, from the untrained net)."""
    data = _Volumes(24)
    algo, _ = _volume_algo()
    algo.attach_pool([str(i) for i in range(24)], data.batch)
    buf = ReplayBuffer(["label"], data, lambda i: i)
    for t in range(12):
        buf.add(Row(t + 1, str(t), "label", int(data.y[t]), 1, 1.0, -1))
    buf.add(Row(13, "12", "label", int(data.y[12]), -1, 1.0, -1))  # a 👎 on the true label
    metrics = algo.refresh(buf)
    assert algo.fitted and algo.graph_view == "embedding"
    assert not algo.views.anchored and metrics["policy/graph_anchored"] == 0.0
    assert not algo.suspect.get("label")
    rows = buf.rows[:8]
    out = algo.update(ReplayBatch(buf.make_batch(rows).inputs, buf.make_batch(rows).feedback))
    assert "loss/pseudo_label" not in out and np.isfinite(out["loss/total"])
    # the pool keeps volumes at the featurizer's precision (uint8), read back exactly
    assert algo.pool_inputs["volume"].dtype == torch.uint8
    back = algo._pool_batch(torch.arange(3))["volume"]
    assert torch.allclose(back, data.batch(["0", "1", "2"])["volume"], atol=1e-6)


@pytest.mark.parametrize("encoder", ["2.5d", "3d-cnn"])
def test_the_volume_encoders_evaluate_with_the_latest_batchs_statistics(encoder):
    """Streamed training moves the weights faster than torch's 0.1 running average follows:
    evaluated with stale statistics the 2.5-D network fell to chance on its own answers. Each
    BatchNorm of a volume encoder keeps the latest training batch's statistics instead."""
    from torch import nn

    from mmrl_desktop.core.learning.model.volume_encoder import build_volume_encoder

    torch.manual_seed(0)
    enc = build_volume_encoder(encoder, 32, 8)
    norms = [m for m in enc.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert norms and all(m.momentum == 1.0 for m in norms)
    first = norms[0]
    seen = {}
    first.register_forward_pre_hook(lambda m, i: seen.setdefault("x", i[0].detach().clone()))
    x = torch.from_numpy(_Volumes(4, side=32).x)
    enc.train()
    for _ in range(3):  # older batches leave nothing behind
        enc(torch.rand_like(x))
    seen.clear()
    out_train = enc(x)
    mean = seen["x"].transpose(0, 1).flatten(1).mean(1)
    assert torch.allclose(first.running_mean, mean, atol=1e-5)
    enc.eval()
    with torch.no_grad():
        out_eval = enc(x)
    assert torch.allclose(out_eval, out_train.detach(), atol=0.05, rtol=0.05)
