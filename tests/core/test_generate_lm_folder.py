"""Model folders for the generate task (issue 16): what is accepted (a causal LM, a
vision-language model) and every refusal as one sentence, nothing loaded or run on the way."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.generate.lm_folder import inspect_lm
from mmrl_desktop.core.learning.generate.policy import Example, GenerativePolicy
from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm, build_tiny_vlm

WORDS = ["the", "image", "shows", "a", "digit", "one", "two", "seven", "nine", "finding", ":"]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("lm") / "lm", WORDS)


@pytest.fixture(scope="module")
def vlm(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("vlm") / "vlm", WORDS)


def _copy(src, tmp_path, name="m"):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _one_sentence(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text and text.endswith(".")
    return text


def test_a_causal_lm_and_a_vlm_are_recognised(lm, vlm):
    a, b = inspect_lm(lm), inspect_lm(vlm)
    assert (a.kind, a.architecture) == ("text", "LlamaForCausalLM")
    assert (b.kind, b.architecture) == ("vision", "LlavaForConditionalGeneration")
    assert a.n_params > 0 and a.weight_files == ("model.safetensors",)
    assert a.fingerprint == inspect_lm(lm).fingerprint != b.fingerprint
    assert "language model" in a.describe()


def test_fingerprint_follows_the_weights(lm, tmp_path):
    other = build_tiny_lm(tmp_path / "other", WORDS, seed=3)
    assert inspect_lm(other).fingerprint != inspect_lm(lm).fingerprint


def test_pickle_only_weights_are_refused(lm, tmp_path):
    folder = _copy(lm, tmp_path)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    with pytest.raises(UserError, match="pickle") as err:
        inspect_lm(folder)
    _one_sentence(err)


def test_remote_code_is_refused(lm, tmp_path):
    folder = _copy(lm, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="its own Python code") as err:
        inspect_lm(folder)
    _one_sentence(err)
    folder2 = _copy(lm, tmp_path, "m2")
    (folder2 / "modeling_evil.py").write_text("import os\n")
    with pytest.raises(UserError, match="modeling_evil.py"):
        inspect_lm(folder2)


def test_missing_tokenizer_is_refused(lm, tmp_path):
    folder = _copy(lm, tmp_path)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(UserError, match="no tokenizer") as err:
        inspect_lm(folder)
    _one_sentence(err)


def test_a_non_generative_architecture_is_refused(tmp_path):
    from transformers import BertConfig, BertModel

    folder = tmp_path / "bert"
    cfg = BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2)
    BertModel(cfg).save_pretrained(folder)
    (folder / "tokenizer.json").write_text("{}")
    with pytest.raises(UserError, match="not a generative model.*BertModel") as err:
        inspect_lm(folder)
    _one_sentence(err)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(UserError, match="not a folder"):
        inspect_lm(tmp_path / "missing")
    with pytest.raises(UserError, match="no config.json"):
        inspect_lm(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot be read"):
        inspect_lm(tmp_path)


def test_vlm_drafts_learns_and_merges(vlm, tmp_path):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    torch.manual_seed(0)
    policy = GenerativePolicy.load(vlm, lr=1e-2)
    assert policy.kind == "vision"
    assert all("language_model" in k for k in policy.state_for_checkpoint()["adapters"])
    rng = np.random.default_rng(0)
    images = [rng.random((8, 8)), (rng.random((12, 12, 3)) * 255).astype(np.uint8)]
    out = policy.generate(
        ["finding :", "the image shows"], images, max_new_tokens=4, temperature=1.0
    )
    assert [len(r) for r in out] == [1, 1]
    d = out[1][0]
    ex = Example("the image shows", d.text, False, images[1], d.token_ids)
    assert policy.logprobs([ex])[0] == pytest.approx(d.logprob, abs=1e-4)
    with pytest.raises(UserError, match="one image for each prompt"):
        policy.generate(["finding :"], None)

    batch = [Example("finding :", "seven", True, images[0]), ex]
    before = policy.logprobs(batch)
    for _ in range(8):
        stats = policy.kto_step(batch)
    policy.sft_step(batch[:1])
    assert stats["reward_margin"] > 0
    after = policy.logprobs(batch)
    assert after[0] > before[0] and after[1] < before[1]

    merged = policy.merge_to(tmp_path / "merged")
    model = AutoModelForImageTextToText.from_pretrained(merged, local_files_only=True)
    AutoProcessor.from_pretrained(merged, local_files_only=True)
    inputs, _ = policy.encoder.batch(batch, "cpu")
    with torch.no_grad():
        want = policy.model(**inputs).logits
        assert torch.allclose(model(**inputs).logits, want, atol=1e-4)
    assert GenerativePolicy.load(merged).kind == "vision"
