"""LoRA adapters on a pretrained encoder (issue 14 item 3, ADR 0014 amendment): project.toml
``[encoders] lora = true`` trains peft adapters on the encoder's attention with the heads, on the
encoder's input (not the cached embedding); checkpoints hold the adapters and the fingerprint,
never the encoder's own weights; a resumed trainer applies them; bad settings are one sentence."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.checkpoints import load_checkpoint
from mmrl_desktop.core.learning.pretrained import inspect_encoder, load_encoder
from mmrl_desktop.core.learning.pretrained.lora import AdaptedEncoder, with_lora
from mmrl_desktop.core.learning.pretrained.settings import split_table
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project
from tests.core.tinyhf import tiny_model


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("hf") / "vit", "vit")


def _project(tmp_path, folder, algorithm="default", **encoders):
    project = digits_project(tmp_path, n=20, algorithm={"algorithm": algorithm})
    project.encoders = {"image": str(folder), **encoders}
    project.save()
    return Project.open(project.root)


def _features_with(model, x: torch.Tensor, adapted: AdaptedEncoder) -> torch.Tensor:
    """``adapted``'s pooled features with ``model`` in place of its encoder."""
    twin = AdaptedEncoder.__new__(AdaptedEncoder)
    torch.nn.Module.__init__(twin)
    twin.__dict__.update({k: v for k, v in adapted.__dict__.items() if k != "_model"})
    twin._model = [model]
    with torch.no_grad():
        return twin.features(x)


def _frozen_embedding(folder, modality, x: torch.Tensor, adapted: AdaptedEncoder):
    """The encoder without adapters on the same input (the module's own pooling)."""
    return _features_with(load_encoder(folder, modality).model, x, adapted)


def test_adapters_train_change_the_encoder_and_come_back_from_the_checkpoint(vit, tmp_path):
    project = _project(tmp_path, vit, lora=True, lora_rank=4)
    answer(project, 10)
    trainer = Trainer(project, device="cpu")
    trainer.info()
    enc = trainer.algorithm.policy.encoders["image"]
    assert isinstance(enc, AdaptedEncoder)
    said = " ".join(trainer.checkpoint_warnings)
    assert "LoRA adapters (rank 4) train the image encoder" in said
    assert "'pretrained' view stays on the frozen encoder's cached embeddings" in said
    assert "on the CPU every update runs the encoder forward and backward" in said
    x = trainer.featurizer.batch(trainer._items(trainer.holdout_ids[:3]))["image_lora"]
    assert x.dtype == torch.uint8 and tuple(x.shape) == (3, 3, 32, 32)  # the processor's size
    frozen = _frozen_embedding(vit, "image", x, enc)
    with torch.no_grad():
        assert torch.allclose(enc.features(x), frozen, atol=1e-5)  # fresh adapters: no effect
    trainer.train_pending()
    assert trainer.updates > 0
    with torch.no_grad():
        trained = enc(x)
        adapted = enc.features(x)
    assert (adapted - frozen).abs().max() > 1e-4  # the adapters moved the encoder
    # what an export holds: the adapters merged into a copy of the encoder's weights
    assert torch.allclose(_features_with(enc.merged(), x, enc), adapted, atol=1e-5)
    # the frozen reference shares the encoder's weights (no second copy in memory)
    ref = trainer.algorithm.reference.encoders["image"]
    assert {id(t) for t in ref.frozen_tensors()} == {id(t) for t in enc.frozen_tensors()}
    path = trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)

    ckpt = load_checkpoint(path)
    spec = ckpt.meta["model_config"]["pretrained"]["image"]
    assert spec["fingerprint"] == inspect_encoder(vit).fingerprint
    assert spec["lora"] == {"rank": 4, "alpha": 16.0}
    encoder_names = {f"encoders.image.{n}" for n, _ in enc.model.named_parameters()}
    policy_keys = set(ckpt.state["policy"])
    assert any(".adapters." in k for k in policy_keys)
    assert not policy_keys & encoder_names  # never the encoder's own weights
    kept = sum(v.numel() for v in ckpt.state["policy"].values())
    base = sum(t.numel() for t in enc.frozen_tensors())
    assert kept < base / 4

    again = Trainer(Project.open(project.root), device="cpu")
    again.info()
    assert again.resumed_from == path
    with torch.no_grad():
        assert torch.allclose(again.algorithm.policy.encoders["image"](x), trained, atol=1e-6)
    preds = again.predict_items(again.pool_ids[:2])  # predict reads the adapted encoder
    assert set(preds) == set(again.pool_ids[:2])
    again.close(checkpoint=False)


def test_a_text_encoder_trains_adapters_on_its_tokens(tmp_path):
    bert = tiny_model(tmp_path / "bert", "bert")
    words = {"a": "the cat sat on the mat", "b": "red blue green lung heart"}
    project = Project.create(
        tmp_path / "p",
        tasks=[Task("label", ["a", "b"])],
        algorithm={"algorithm": "supervised", "batch_size": 4, "eval_every": 0},
        model={"embed_dim": 8},
    )
    project.encoders = {"text": str(bert), "lora": True}
    project.save()
    with project.open_store() as store:
        items = [
            Item(f"{lab}{i}", text_inline=f"{w} {'dog' * (i % 2)}", labels={"label": lab})
            for lab, w in words.items()
            for i in range(4)
        ]
        store.add_items(items)
        for it in items[:6]:
            store.record_feedback(it.item_id, "label", it.labels["label"], 0.5, 1)
    trainer = Trainer(Project.open(project.root), device="cpu")
    trainer.info()
    enc = trainer.algorithm.policy.encoders["text"]
    ids = trainer.featurizer.batch(trainer._items(["a0", "b1"]))["text_lora"]
    assert ids.dtype == torch.int64 and ids.shape[0] == 2 and bool((ids[0] > 0).all())
    frozen = _frozen_embedding(bert, "text", ids, enc)
    trainer.train_pending()
    with torch.no_grad():
        assert (enc.features(ids) - frozen).abs().max() > 1e-4
    trainer.close(checkpoint=False)


@pytest.mark.parametrize(
    ("table", "sentence"),
    [
        ({"lora_rank": 0}, "lora_rank must be between 1 and 256"),
        ({"lora_alpha": -1}, "lora_alpha must be above 0"),
        ({"lora": "yes"}, "lora must be true or false"),
        ({"lora_rank": 2.5}, "lora_rank must be a whole number"),
    ],
)
def test_bad_lora_settings_are_one_sentence(table, sentence):
    with pytest.raises(UserError, match=sentence):
        split_table({"image": "/models/vit", **table})


def test_lora_is_on_by_default_on_a_cuda_device_only_and_never_on_audio():
    spec = {"image": {"fingerprint": "f", "embedding_size": 8}}
    _, options = split_table({"image": "/m"})
    assert options["lora"] is None
    assert "lora" not in with_lora(spec, options, "cpu")["image"]
    assert with_lora(spec, options, "cuda")["image"]["lora"] == {"rank": 8, "alpha": 16.0}
    assert "lora" not in with_lora(spec, {**options, "lora": False}, "cuda")["image"]
    audio = {"audio": {"fingerprint": "f", "embedding_size": 8}}
    with pytest.raises(UserError, match="lora = true needs an image or text encoder"):
        with_lora(audio, {**options, "lora": True}, "cpu")
    both = with_lora({**spec, **audio}, {**options, "lora": True}, "cpu")
    assert "lora" in both["image"] and "lora" not in both["audio"]


def test_an_explicit_lora_change_starts_afresh_unset_keeps_the_checkpoints(vit, tmp_path):
    project = _project(tmp_path, vit, algorithm="supervised", lora=False)
    answer(project, 6)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    trainer.close()
    project.encoders = {"image": str(vit), "lora": True}
    project.save()
    again = Trainer(Project.open(project.root), device="cpu")
    again.train_pending()
    assert again.resumed_from is None
    assert any(
        "trained without LoRA adapters on its image encoder" in w for w in again.checkpoint_warnings
    )
    assert isinstance(again.algorithm.policy.encoders["image"], AdaptedEncoder)
    again.close()
    project.encoders = {"image": str(vit)}  # not set: a CPU resumes the model as trained
    project.save()
    third = Trainer(Project.open(project.root), device="cpu")
    third.info()
    assert third.resumed_from is not None
    assert isinstance(third.algorithm.policy.encoders["image"], AdaptedEncoder)
    third.close(checkpoint=False)


def test_predict_evaluate_and_the_export_use_the_adapted_encoder(vit, tmp_path, capsys):
    import json

    from mmrl_desktop.cli import main

    project = _project(tmp_path, vit, algorithm="supervised", lora=True)
    answer(project, 8)
    p = str(project.root)
    assert main(["train", "--project", p, "--steps", "6", "--device", "cpu"]) == 0
    capsys.readouterr()
    src = project.root.parent / "src" / "3"
    assert main(["predict", str(src), "--project", p, "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["items"] == len(list(src.iterdir()))
    assert main(["evaluate", "--project", p, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["version"] >= 1
    for fmt in ("torchscript", "onnx"):  # the encoder inside, its adapters merged
        out = tmp_path / f"m-{fmt}"
        cmd = ["export", "--project", p, "--format", fmt, "--out", str(out), "--json"]
        assert main(cmd) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["check"]["max_abs_diff"] <= 1e-4
        assert info["check"]["pretrained_max_abs_diff"] < 5e-2  # the live adapted model agrees


def test_a_rollback_brings_back_the_older_adapters(vit, tmp_path):
    from mmrl_desktop.core.learning.rollback import promote_checkpoint

    project = _project(tmp_path, vit, algorithm="supervised", lora=True)
    answer(project, 6)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    first = trainer.save_checkpoint("first")
    x = trainer.featurizer.batch(trainer._items(trainer.holdout_ids[:2]))["image_lora"]
    enc = trainer.algorithm.policy.encoders["image"]
    with torch.no_grad():
        then = enc(x)
    trainer.add_budget(6)
    trainer.train_pending()
    with torch.no_grad():
        assert (enc(x) - then).abs().max() > 1e-5
    trainer.close()
    with project.open_store() as store:
        promote_checkpoint(project, first, store)
    again = Trainer(Project.open(project.root), device="cpu")
    again.info()
    with torch.no_grad():
        assert torch.allclose(again.algorithm.policy.encoders["image"](x), then, atol=1e-6)
    again.close(checkpoint=False)


def test_an_encoder_without_attention_is_refused_in_one_sentence(tmp_path):
    resnet = tiny_model(tmp_path / "resnet", "resnet")
    project = _project(tmp_path, resnet, algorithm="supervised", lora=True)
    trainer = Trainer(project, device="cpu")
    with pytest.raises(UserError, match="has no attention query/value projections"):
        trainer.info()
