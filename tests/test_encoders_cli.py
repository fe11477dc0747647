"""``mmrl-desktop encoders check PATH [--json]`` (issue 14)."""

from __future__ import annotations

import json
import shutil

import pytest

from mmrl_desktop.cli import main
from tests.core.tinyhf import tiny_model


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("hf") / "vit", "vit")


def test_check_prints_modality_architecture_parameters_embedding(vit, capsys):
    assert main(["encoders", "check", str(vit)]) == 0
    out = capsys.readouterr().out
    assert "image encoder ViTModel (vit)" in out and "embedding 32" in out
    assert "parameters" in out and "fingerprint:" in out


def test_check_json_and_load(vit, capsys):
    assert main(["encoders", "check", str(vit), "--json", "--load"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["modality"] == "image" and data["embedding_size"] == 32
    assert data["architecture"] == "ViTModel" and data["parameters"] > 0
    assert data["loaded"]["shape"] == [1, 32]


def test_a_refused_folder_exits_2_with_one_sentence(vit, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(vit, bad)
    (bad / "model.safetensors").rename(bad / "pytorch_model.bin")
    assert main(["encoders", "check", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mmrl-desktop: error: ") and "pickle" in err and "\n" not in err
    assert main(["encoders", "check", str(vit), "--modality", "text"]) == 2
    assert "not a text one" in capsys.readouterr().err


def test_embed_fills_the_projects_cache_once(vit, tmp_path, capsys):
    from mmrl_desktop.core.data.project import Project
    from tests.core.enginefixtures import make_pngs

    src = make_pngs(tmp_path / "src", per_class=3)
    assert main(["import", str(src), "--project", str(tmp_path / "p")]) == 0
    assert main(["encoders", "embed", "--project", str(tmp_path / "p")]) == 2
    assert "no [encoders]" in capsys.readouterr().err
    project = Project.open(tmp_path / "p")
    project.encoders = {"image": str(vit)}
    project.save()
    assert main(["encoders", "embed", "--project", str(tmp_path / "p"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert out["embeddings"]["image"]["computed"] == 6
    assert main(["encoders", "embed", "--project", str(tmp_path / "p")]) == 0
    assert "6 already embedded, 0 computed" in capsys.readouterr().out


def test_import_with_an_encoder_writes_the_table_and_embeds(vit, tmp_path, capsys):
    from mmrl_desktop.core.data.project import Project
    from tests.core.enginefixtures import make_pngs

    src = make_pngs(tmp_path / "src", per_class=3)
    p = str(tmp_path / "p")
    assert main(["import", str(src), "--project", p, "--encoder", "text=" + str(vit)]) == 2
    assert "is a image encoder" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()  # refused before anything was written
    assert main(["import", str(src), "--project", p, "--encoder", f"image={vit}", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["imported"] == 6 and out["embedding"]["image"]["computed"] == 6
    assert out["encoders"]["image"]["architecture"] == "ViTModel"
    assert Project.open(p).encoders == {"image": str(vit.resolve())}


def test_bench_with_an_encoder_embeds_once_then_runs_the_protocol(
    vit, tmp_path, monkeypatch, capsys
):
    from tests.core.enginefixtures import make_pngs

    monkeypatch.setenv("MMRL_BENCH_EMBEDDINGS", str(tmp_path / "shared"))
    src = make_pngs(tmp_path / "src", per_class=6)
    args = ["bench", "--data", str(src), "--feedback", "4,8", "--encoder", f"image={vit}"]
    assert main([*args, "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["embedding"]["image"]["computed"] == 12
    assert out["encoders"]["image"]["embedding_size"] == 32
    assert [r["feedback"] for r in out["curve"]] == [4, 8]
    assert main([*args, "--json", "--device", "cpu"]) == 0  # the shared cache: nothing again
    again = json.loads(capsys.readouterr().out)
    assert again["embedding"]["image"]["computed"] == 0
    assert main(["bench", "--data", str(src), "--encoder", "image=/nowhere"]) == 2
    assert "--encoder image=/nowhere: /nowhere is not a folder" in capsys.readouterr().err


def test_simulate_predict_evaluate_and_export_with_the_encoder_inside(vit, tmp_path, capsys):
    from tests.core.enginefixtures import make_pngs

    src = make_pngs(tmp_path / "src", per_class=6)
    p = str(tmp_path / "p")
    assert main(["import", str(src), "--project", p, "--encoder", f"image={vit}"]) == 0
    assert main(["simulate", "--project", p, "--clicks", "6", "--device", "cpu"]) == 0
    assert main(["train", "--project", p, "--steps", "5", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["predict", str(src / "dark"), "--project", p, "--json", "--device", "cpu"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items"] == 6 and {r["label"] for r in out["predictions"]} <= {"dark", "light"}
    assert main(["evaluate", "--project", p, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"]["version"] >= 1
    for fmt in ("torchscript", "onnx"):  # the image encoder goes into the file
        out = tmp_path / f"m-{fmt}"
        assert main(["export", "--project", p, "--format", fmt, "--out", str(out), "--json"]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["inputs"][0]["shape"] == ["batch", 3, 32, 32]
        assert info["check"]["max_abs_diff"] <= 1e-4
        assert info["check"]["pretrained_max_abs_diff"] < 5e-2
    import warnings

    import torch

    with warnings.catch_warnings():  # torch.jit.load says it is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        model = torch.jit.load(str(tmp_path / "m-torchscript" / "model.pt"))
    (probs,) = model(torch.rand(2, 3, 32, 32), torch.ones(2))
    assert tuple(probs.shape) == (2, 2)


def test_a_text_encoder_is_not_exported_one_sentence_says_why(tmp_path, capsys):
    from tests.core.enginefixtures import make_texts

    bert = tiny_model(tmp_path / "bert", "bert")
    src = make_texts(tmp_path / "src", per_class=4)
    p = str(tmp_path / "p")
    assert main(["import", str(src), "--project", p, "--encoder", f"text={bert}"]) == 0
    assert main(["simulate", "--project", p, "--clicks", "4", "--device", "cpu"]) == 0
    capsys.readouterr()
    assert main(["export", "--project", p, "--format", "onnx", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "pretrained text encoder, whose tokenizer cannot be inside a onnx file" in err
    assert not list((tmp_path / "m").glob("model*"))  # nothing written
