"""Pretrained encoders from a local Hugging Face folder: inspection, refusals, loading (issue 14)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.pretrained import inspect_encoder, load_encoder
from tests.core.tinyhf import tiny_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {k: tiny_model(root / k, k) for k in ("vit", "clip", "wav2vec2", "bert")}


def _copy(models, kind, tmp_path):
    dst = tmp_path / kind
    shutil.copytree(models[kind], dst)
    return dst


@pytest.mark.parametrize(
    ("kind", "modality", "processor"),
    [
        ("vit", "image", "image_processor"),
        ("clip", "image", "image_processor"),
        ("wav2vec2", "audio", "feature_extractor"),
        ("bert", "text", "tokenizer"),
    ],
)
def test_inspect_reports_what_the_folder_holds(models, kind, modality, processor):
    info = inspect_encoder(models[kind])
    assert info.modality == modality and info.processor == processor
    assert info.embedding_size == 32 and info.dtype == "float32"
    assert len(info.fingerprint) == 16
    assert info.parameters > 1000
    if kind == "clip":  # only the vision tower counts
        assert info.architecture == "CLIPModel"
        full = inspect_encoder(models["vit"]).parameters
        assert info.parameters < 3 * full
    if modality == "image":
        assert info.input_size == 32
    assert modality in info.describe()


def test_load_each_kind_frozen_in_eval_mode(models):
    for kind, modality in (
        ("vit", "image"),
        ("clip", "image"),
        ("wav2vec2", "audio"),
        ("bert", "text"),
    ):
        enc = load_encoder(models[kind], modality)
        assert enc.info.modality == modality
        assert not enc.model.training
        assert not any(p.requires_grad for p in enc.model.parameters())
        assert enc.processor is not None
    clip = load_encoder(models["clip"])
    assert type(clip.model).__name__ == "CLIPVisionModel"


def test_fingerprint_changes_with_the_weights_not_with_a_copy(models, tmp_path):
    a = inspect_encoder(models["vit"]).fingerprint
    moved = _copy(models, "vit", tmp_path)
    assert inspect_encoder(moved).fingerprint == a  # same files elsewhere: same encoder
    other = tiny_model(tmp_path / "other", "vit")  # another random init: same shapes and header
    assert inspect_encoder(other).fingerprint != a
    cfg = json.loads((moved / "config.json").read_text())
    cfg["layer_norm_eps"] = 1e-6
    (moved / "config.json").write_text(json.dumps(cfg))
    assert inspect_encoder(moved).fingerprint != a


def test_refuses_a_pickle_only_folder(models, tmp_path):
    d = _copy(models, "vit", tmp_path)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(UserError, match="pickle .*pytorch_model.bin.*safetensors"):
        inspect_encoder(d)


def test_refuses_remote_code(models, tmp_path):
    d = _copy(models, "bert", tmp_path)
    cfg = json.loads((d / "config.json").read_text())
    cfg["auto_map"] = {"AutoModel": "evil.EvilModel"}
    (d / "config.json").write_text(json.dumps(cfg))
    (d / "evil.py").write_text("raise SystemExit('ran remote code')\n")
    with pytest.raises(UserError, match="auto_map in config.json.*never runs"):
        inspect_encoder(d)
    with pytest.raises(UserError, match="never runs"):
        load_encoder(d)


def test_refuses_the_wrong_modality(models):
    with pytest.raises(UserError, match="is a text encoder .*not a image one"):
        inspect_encoder(models["bert"], "image")
    with pytest.raises(UserError, match="is a image encoder .*not a audio one"):
        load_encoder(models["clip"], "audio")


def test_refuses_a_missing_tokenizer(models, tmp_path):
    d = _copy(models, "bert", tmp_path)
    for f in ("tokenizer.json", "vocab.txt"):
        (d / f).unlink(missing_ok=True)
    with pytest.raises(UserError, match="no tokenizer"):
        inspect_encoder(d)


def test_refuses_a_missing_image_processor(models, tmp_path):
    d = _copy(models, "vit", tmp_path)
    (d / "preprocessor_config.json").unlink()
    with pytest.raises(UserError, match="no image processor"):
        inspect_encoder(d, "image")


def test_refuses_truncated_weights_unknown_models_and_non_folders(models, tmp_path):
    d = _copy(models, "vit", tmp_path)
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated"):
        inspect_encoder(d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"] = "gpt2"
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="gpt2 model, which is not a supported encoder"):
        inspect_encoder(d)
    with pytest.raises(UserError, match="is not a folder"):
        inspect_encoder(tmp_path / "nothing")
    with pytest.raises(UserError, match="no config.json"):
        inspect_encoder(tmp_path)


def test_inspecting_imports_neither_torch_nor_transformers(models):
    code = (
        "import sys; from mmrl_desktop.core.learning.pretrained import inspect_encoder; "
        f"inspect_encoder({str(models['vit'])!r}); "
        "print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_the_bundle_collects_every_supported_family():
    import ast
    from pathlib import Path

    from mmrl_desktop.core.learning.pretrained.hf_folder import _MODALITY, transformers_family

    spec = Path(__file__).parents[2] / "packaging" / "mmrl-desktop.spec"
    tree = ast.parse(spec.read_text(encoding="utf-8"))
    listed = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Assign)
            and getattr(node.targets[0], "id", "") == "PRETRAINED_FAMILIES"
        ):
            listed = {n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant)}
    assert {transformers_family(t) for t in _MODALITY} <= listed
