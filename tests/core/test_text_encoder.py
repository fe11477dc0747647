"""The text encoder's two designs (ADR 0036): the default's small start, kept through renewals,
and models saved before the field existed rebuilt as they were."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import renew
from mmrl_desktop.core.learning.model.policy import build_policy

TEXT = {"modalities": "text", "text_buckets": 64, "embed_dim": 16}


def _text_policy(**extra):
    return build_policy(ModelConfig.from_dict({**TEXT, **extra}), {"label": 3})


def test_the_default_is_the_mean_of_small_embeddings():
    enc = _text_policy().encoders["text"]
    w = enc.bag.weight.detach()
    assert isinstance(enc.proj, nn.Identity)
    assert float(w.abs().max()) <= 1.0 / 16 and not w[0].any()  # fastText's start, padding zero
    ids = torch.tensor([[3, 5, 0, 0]])
    assert torch.allclose(enc(ids), (w[3] + w[5])[None] / 2)  # padding left out of the mean


def test_a_renewal_starts_the_embeddings_small_again():
    policy = _text_policy()
    with torch.no_grad():
        policy.encoders["text"].bag.weight.fill_(1.0)
    renew.shrink_perturb(policy, 0.0, seed=3)
    w = policy.encoders["text"].bag.weight.detach()
    assert float(w.abs().max()) <= 1.0 / 16 and not w[0].any()


def test_the_design_before_is_kept_for_models_saved_before():
    before = _text_policy(text_encoder="mean-proj")
    assert isinstance(before.encoders["text"].proj, nn.Sequential)
    saved = {k: v for k, v in before.config.to_dict().items() if k != "text_encoder"}
    cfg = ModelConfig.saved(saved)  # a checkpoint of an app without the field
    assert cfg.text_encoder == "mean-proj"
    again = build_policy(cfg, {"label": 3})
    again.load_state_dict(before.state_dict(), strict=True)  # the same shapes, every weight
    assert ModelConfig.saved(ModelConfig().to_dict()).text_encoder == "mean"  # saved since


def test_an_unknown_text_encoder_is_refused_in_a_sentence():
    with pytest.raises(
        UserError, match="unknown text_encoder 'bert'; choose one of mean, mean-proj"
    ):
        ModelConfig.from_dict({"text_encoder": "bert"})
