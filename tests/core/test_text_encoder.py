"""The text encoder's designs (ADR 0036, 0037): the default's small start, kept through renewals,
the idf-weighted mean and its weights from the project's texts, and models saved before the field
existed rebuilt as they were."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning import renew
from mmrl_desktop.core.learning.model.featurize import hash_text
from mmrl_desktop.core.learning.model.policy import build_policy

TEXT = {"modalities": "text", "text_buckets": 64, "embed_dim": 16}


def _text_policy(**extra):
    return build_policy(ModelConfig.from_dict({**TEXT, **extra}), {"label": 3})


def test_the_default_is_the_idf_weighted_mean():
    assert _text_policy().encoders["text"].design == "idf-mean"  # ADR 0037


def test_the_mean_is_of_small_embeddings():
    enc = _text_policy(text_encoder="mean").encoders["text"]
    w = enc.bag.weight.detach()
    assert isinstance(enc.proj, nn.Identity)
    assert float(w.abs().max()) <= 1.0 / 16 and not w[0].any()  # fastText's start, padding zero
    ids = torch.tensor([[3, 5, 0, 0]])
    assert torch.allclose(enc(ids), (w[3] + w[5])[None] / 2)  # padding left out of the mean


@pytest.mark.parametrize("design", ["mean", "idf-mean"])
def test_a_renewal_starts_the_embeddings_small_again(design):
    policy = _text_policy(text_encoder=design)
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
    assert ModelConfig.saved(ModelConfig().to_dict()).text_encoder == "idf-mean"  # saved since
    mean = ModelConfig.from_dict({**TEXT, "text_encoder": "mean"}).to_dict()
    assert ModelConfig.saved(mean).text_encoder == "mean"  # saved under ADR 0036: kept


def test_an_unknown_text_encoder_is_refused_in_a_sentence():
    with pytest.raises(
        UserError, match="unknown text_encoder 'bert'; choose one of mean, mean-proj, idf-mean"
    ):
        ModelConfig.from_dict({"text_encoder": "bert"})


def test_the_idf_mean_weighs_each_ngram_by_its_idf():
    policy = _text_policy(text_encoder="idf-mean")
    enc = policy.encoders["text"]
    ids = torch.tensor([[3, 5, 5, 0]])
    w = enc.bag.weight.detach()
    assert torch.allclose(enc(ids), (w[3] + 2 * w[5])[None] / 3)  # idf 1: the plain mean
    df = np.zeros(64)
    df[3], df[5] = 9, 1  # of 9 texts: id 3 in every one, id 5 in one
    enc.fit_idf(df, 9)
    i3, i5 = 1.0, float(np.log(10 / 2) + 1) ** 2  # idf², ADR 0037
    assert float(enc.idf[3]) == pytest.approx(i3) and float(enc.idf[5]) == pytest.approx(i5)
    assert float(enc.idf[7]) == pytest.approx((np.log(10) + 1) ** 2)  # in no text: the rarest
    want = (i3 * w[3] + 2 * i5 * w[5]) / (i3 + 2 * i5)
    assert torch.allclose(enc(ids), want[None], atol=1e-6)
    renew.shrink_perturb(policy, 0.0, seed=1)  # new weights, the same idf
    assert float(enc.idf[5]) == pytest.approx(i5)
    again = _text_policy(text_encoder="idf-mean")
    again.load_state_dict(policy.state_dict(), strict=True)  # saved and loaded with the model
    assert torch.equal(again.encoders["text"].idf, enc.idf)


def test_the_trainer_weighs_by_the_pool_texts_not_the_held_out(tmp_path):
    from mmrl_desktop.core.learning.trainer import Trainer

    model = {**TEXT, "text_buckets": 256, "text_encoder": "idf-mean"}
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "b"])], model=model)
    texts = {"p0": "alpha common", "p1": "beta common", "p2": "alpha common", "h0": "zeta zeta"}
    with project.open_store() as store:
        store.add_items([Item(k, text_inline=v, labels={"t": "a"}) for k, v in texts.items()])
        store.set_split(["h0"], "holdout")
    trainer = Trainer(project, device="cpu", queue_size=0, checkpoints=False, resume=False)
    trainer._ensure_built()
    idf = trainer.algorithm.policy.encoders["text"].idf
    common, alpha, zeta = (int(hash_text(w, 256, 8)[0]) for w in ("common", "alpha", "zeta"))
    assert float(idf[common]) == pytest.approx(1.0)  # in all 3 pool texts
    assert float(idf[alpha]) == pytest.approx((np.log(4 / 3) + 1) ** 2)
    assert float(idf[zeta]) == pytest.approx((np.log(4 / 1) + 1) ** 2)  # held out: as if unseen


def test_a_renewal_weighs_the_texts_added_since(tmp_path):
    from mmrl_desktop.core.learning.trainer import Trainer

    model = {**TEXT, "text_buckets": 256, "text_encoder": "idf-mean"}
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "b"])], model=model)
    with project.open_store() as store:
        store.add_items([Item(f"p{i}", text_inline="common word") for i in range(3)])
    trainer = Trainer(project, device="cpu", queue_size=0, checkpoints=False, resume=False)
    trainer._ensure_built()
    idf = trainer.algorithm.policy.encoders["text"].idf
    new = int(hash_text("novel", 256, 8)[0])
    assert float(idf[new]) == pytest.approx((np.log(4) + 1) ** 2)  # in none of the 3
    with project.open_store() as store:  # a text imported while the trainer runs
        store.add_items([Item("p3", text_inline="novel word")])
    trainer._refresh_text_idf()  # what the trainer does at each renewal
    assert float(idf[new]) == pytest.approx((np.log(5 / 2) + 1) ** 2)  # 1 of 4 texts
    shown = trainer.algorithm.average  # the model shown weighs the same from now on
    assert torch.equal(shown.encoders["text"].idf, idf)


@pytest.mark.parametrize("design", ["mean", "idf-mean"])
def test_the_onnx_bag_computes_what_the_encoder_does(design):
    import copy

    from mmrl_desktop.core.tools.export_onnx import OnnxMeanBag

    enc = _text_policy(text_encoder=design).encoders["text"]
    with torch.no_grad():
        enc.bag.weight.normal_()
        enc.bag.weight[0].zero_()
    df = np.arange(64) % 7
    enc.fit_idf(df, 9)
    traced = copy.deepcopy(enc)
    traced.bag = OnnxMeanBag(traced.bag)  # what the ONNX export traces (export_onnx.onnx_ready)
    ids = torch.tensor([[3, 5, 5, 0, 0], [7, 1, 2, 60, 9]])
    assert torch.allclose(traced(ids), enc(ids), atol=1e-6)
