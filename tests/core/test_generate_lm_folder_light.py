"""The window's check of a generate task's model folder (issue 16, ADR 0017): ``check_lm_folder``
makes ``inspect_lm``'s refusals from small files only, without importing torch or transformers,
and its rule on the architecture's class name never refuses a model the trainer would load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.generate.lm_folder import (
    check_lm_folder,
    inspect_lm,
    looks_generative,
)


def _copy(src, tmp_path, name="m"):
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _refusal(folder) -> str:
    with pytest.raises(UserError) as light:
        check_lm_folder(folder)
    with pytest.raises(UserError) as full:
        inspect_lm(folder)
    text = str(light.value)
    assert "\n" not in text and text.endswith(".")
    assert text == str(full.value)  # the same sentence as the trainer's check
    return text


def test_a_tiny_lm_folder_is_accepted_and_described(tiny_lm_folder):
    info = check_lm_folder(tiny_lm_folder)
    full = inspect_lm(tiny_lm_folder)
    assert (info.architecture, info.weight_files) == ("LlamaForCausalLM", full.weight_files)
    assert info.n_params == full.n_params > 0 and not info.vision
    assert info.describe().startswith("LlamaForCausalLM language model, ")


def test_bad_folders_are_refused_with_the_trainers_sentence(tiny_lm_folder, tmp_path):
    assert "not a folder" in _refusal(tmp_path / "nowhere")
    no_config = _copy(tiny_lm_folder, tmp_path, "noconfig")
    (no_config / "config.json").unlink()
    assert "no config.json" in _refusal(no_config)
    pickled = _copy(tiny_lm_folder, tmp_path, "bin")
    (pickled / "model.safetensors").unlink()
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not really")
    assert "pickle" in _refusal(pickled) and "safetensors" in _refusal(pickled)
    code = _copy(tiny_lm_folder, tmp_path, "code")
    (code / "modeling_evil.py").write_text("import os\n")
    assert "its own Python code" in _refusal(code)
    no_tok = _copy(tiny_lm_folder, tmp_path, "notok")
    (no_tok / "tokenizer.json").unlink()
    assert "no tokenizer" in _refusal(no_tok)
    bert = _copy(tiny_lm_folder, tmp_path, "bert")
    cfg = json.loads((bert / "config.json").read_text())
    cfg["architectures"] = ["BertModel"]
    (bert / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(UserError, match="is not a generative model"):
        check_lm_folder(bert)


def test_the_name_rule_accepts_every_generative_class_of_transformers():
    from transformers.models.auto import modeling_auto as auto

    generative = {
        *auto.MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values(),
        *auto.MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.values(),
    }
    assert len(generative) > 100
    assert [a for a in generative if not looks_generative(a)] == []
    for name in ("BertModel", "BertForSequenceClassification", "ViTModel", "BertForMaskedLM"):
        assert not looks_generative(name)


def test_the_check_imports_neither_torch_nor_transformers(tiny_lm_folder):
    code = (
        "import sys\n"
        "from mmrl_desktop.core.learning.generate.lm_folder import check_lm_folder\n"
        f"check_lm_folder({str(tiny_lm_folder)!r})\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
