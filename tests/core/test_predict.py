"""predict: new files (folder, single file, manifest) labelled with the current model."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.evaluation.evaluate import open_trainer
from mmrl_desktop.core.tools.predict import format_predictions, predict_source
from tests.core.test_evaluate import make_trained


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    project = make_trained(root)
    new = root / "new"
    for digit in ("3", "7"):
        (new / digit).mkdir(parents=True)
        for f in sorted((root / "src" / digit).iterdir())[:3]:
            shutil.copy(f, new / digit / f.name)
    flat = sorted((root / "src" / "5").iterdir())[0]
    shutil.copy(flat, new / "loose.png")
    (new / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (new / ".hidden.png").write_bytes(b"x")
    (new / "notes.docx").write_bytes(b"x")
    (new / "report.txt").write_text("a text the image model cannot read", encoding="utf-8")
    outside = root / "outside.png"
    shutil.copy(flat, outside)
    os.symlink(outside, new / "link.png")
    return project, new, root


def test_folder_predictions_match_the_model(setup):
    project, new, _ = setup
    res = predict_source(project, new)
    json.dumps(res, allow_nan=False)
    ids = [p["id"] for p in res["predictions"]]
    assert res["items"] == 7 and len(ids) == 7  # one task
    expected = {"loose"} | {f"{d}/{f.stem}" for d in ("3", "7") for f in (new / d).iterdir()}
    assert set(ids) == expected  # a folder of classes gets import's ids
    reasons = {s["path"]: s["reason"] for s in res["skipped"]}
    assert set(reasons) >= {"broken.png", ".hidden.png", "notes.docx", "link.png", "report.txt"}
    assert "outside" in reasons["link.png"] and "model reads image" in reasons["report.txt"]
    assert res["model_version"] >= 1 and res["step"] > 0

    trainer = open_trainer(project)
    try:
        from mmrl_desktop.core.data.items import Item
        from mmrl_desktop.core.learning.calibration import class_probs

        p0 = res["predictions"][0]
        item = Item(p0["id"], image=str(new / p0["files"]["image"]))
        inputs = trainer.featurizer.batch([item])  # the one source, with its temperature
        probs = class_probs(trainer.algorithm, inputs, trainer.calibrator.temperatures)
        probs = probs["label"][0].numpy()
    finally:
        trainer.close(checkpoint=False)
    labels = [str(i) for i in range(10)]
    assert p0["label"] == labels[int(np.argmax(probs))]
    assert p0["confidence"] == pytest.approx(float(probs.max()), abs=1e-6)
    assert [t[0] for t in p0["top"]][0] == p0["label"] and len(p0["top"]) == 3
    assert p0["top"][0][1] >= p0["top"][1][1] >= p0["top"][2][1]
    assert not any(os.path.isabs(p["path"]) for p in res["predictions"])
    text = format_predictions(res)
    assert "confidence" in text and "broken.png" in text


def test_single_file_and_manifest(setup):
    project, new, root = setup
    one = predict_source(project, new / "loose.png")
    assert [p["id"] for p in one["predictions"]] == ["loose"] and one["skipped"] == []
    (root / "m").mkdir(exist_ok=True)
    shutil.copy(new / "loose.png", root / "m" / "a.png")
    (root / "m" / "items.csv").write_text(
        "id,image,audio,text,label\ncase-a,a.png,,,5\ncase-b,missing.png,,,\n", encoding="utf-8"
    )
    res = predict_source(project, root / "m" / "items.csv")
    assert [p["id"] for p in res["predictions"]] == ["case-a"]
    assert res["predictions"][0]["given_label"] == "5"
    assert res["predictions"][0]["path"] == "a.png"
    assert res["skipped"] and "missing.png" in res["skipped"][0]["path"]
    with pytest.raises(UserError, match="does not exist"):
        predict_source(project, root / "nope")
    with pytest.raises(UserError, match="not a recognised"):
        predict_source(project, new / "notes.docx")


def test_cli(setup, capsys, tmp_path):
    project, new, _ = setup
    assert main(["predict", "--project", str(project.root), str(new / "3"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["items"] == 3 and {p["id"] for p in out["predictions"]} == {
        f.stem for f in (new / "3").iterdir()
    }
    (tmp_path / "empty").mkdir()
    assert main(["predict", "--project", str(project.root), str(tmp_path / "empty")]) == 2
    assert "nothing in" in capsys.readouterr().err


def test_progress_counts_files_read_then_items_predicted(setup):
    project, new, _ = setup
    seen: list[tuple[int, int]] = []
    res = predict_source(project, new, device="cpu", progress=lambda d, t: seen.append((d, t)))
    reading = [d for d, t in seen if t == 0]
    predicting = [(d, t) for d, t in seen if t > 0]
    assert reading == list(range(1, len(reading) + 1)) and len(reading) >= res["items"]
    assert predicting[0] == (0, 7) and predicting[-1] == (7, 7)
    assert seen.index(predicting[0]) == len(reading)  # every file read before any prediction
    _, _, root = setup
    (root / "m2").mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(new / "loose.png", root / "m2" / name)
    (root / "m2" / "items.csv").write_text("id,image\na,a.png\nb,b.png\n", encoding="utf-8")
    manifest: list[tuple[int, int]] = []
    predict_source(project, root / "m2", progress=lambda d, t: manifest.append((d, t)))
    assert manifest == [(1, 0), (2, 0), (0, 2), (2, 2)]  # a manifest's files are read too


def test_a_file_whose_pixels_do_not_decode_is_skipped_not_labelled(setup, tmp_path):
    """The import checks headers only; a DICOM whose pixel data cannot be decoded (pydicom's
    badVR.dcm) was labelled from an empty input where train and evaluate leave it out."""
    from pydicom.data import get_testdata_file

    project, new, _ = setup
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(get_testdata_file("badVR.dcm", download=False), folder / "bad.dcm")
    shutil.copy(new / "loose.png", folder / "good.png")
    res = predict_source(project, folder)
    assert res["items"] == 1 and [p["id"] for p in res["predictions"]] == ["good"]
    assert [s["path"] for s in res["skipped"]] == ["bad.dcm"]
    assert "cannot be decoded" in res["skipped"][0]["reason"]
