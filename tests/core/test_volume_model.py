"""The model sees a volume as a volume: the featurizer's grid (same for a DICOM series and a NIfTI
of the same body), both encoders, training, predict and export on volume items. Tiny phantoms
(12 × 24 × 24), a 16³ grid."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.data.importer import import_source, scan_source
from mmrl_desktop.core.data.items import Modality
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from mmrl_desktop.core.data.volumes import read_volume
from mmrl_desktop.core.data.volumes.phantom import chest_phantom
from mmrl_desktop.core.data.volumes.synthetic import write_nifti, write_series
from mmrl_desktop.core.learning.model.featurize import Featurizer, resolve_model_config
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.model.volume_encoder import volume_grid

SHAPE, SPACING = (12, 24, 24), (13.0, 14.0, 14.0)


def _phantom(seed: int, nodule: bool) -> np.ndarray:
    return chest_phantom(np.random.default_rng(seed), nodule, SHAPE, SPACING)


def _source(root, n: int = 4):
    for k in range(n):
        write_series(root / "nodule" / f"case{k}", _phantom(k, True), SPACING)
        write_nifti(root / "normal" / f"case{k}.nii.gz", _phantom(100 + k, False) - 1024.0, SPACING)
    return root


def test_the_grid_is_the_same_for_a_series_and_a_nifti_of_one_body(tmp_path):
    stored = _phantom(0, True)
    write_series(tmp_path / "s", stored, SPACING)
    write_nifti(tmp_path / "v.nii", stored.astype(np.float32) - 1024.0, SPACING)
    series, nifti = read_volume(tmp_path / "s"), read_volume(tmp_path / "v.nii")
    grid = volume_grid(series, 16)
    assert grid.shape == (16, 16, 16) and grid.dtype == np.uint8
    np.testing.assert_array_equal(grid, volume_grid(nifti, 16))
    # the same body acquired turned by 180° (rows running anterior, columns to the patient's
    # right): the grid (12: whole 2×2 blocks, so averaging commutes with the turn) is turned back
    write_series(tmp_path / "m", stored[:, ::-1, ::-1], SPACING, orientation=(-1, 0, 0, 0, -1, 0))
    np.testing.assert_array_equal(
        volume_grid(read_volume(tmp_path / "m"), 12), volume_grid(series, 12)
    )


@pytest.mark.parametrize("encoder", ["3d-cnn", "2.5d"])
def test_a_volume_item_goes_to_the_policy_as_a_volume(tmp_path, encoder):
    scan = scan_source(_source(tmp_path / "src", 2))
    items = [it for it, _ in scan.items]
    assert {m for it in items for m in it.modalities} == {Modality.VOLUME}
    cfg = resolve_model_config(
        ModelConfig(embed_dim=16, volume_size=16, volume_encoder=encoder), items
    )
    assert cfg.modality_list() == ["volume"] and cfg.resolved
    fz = Featurizer(cfg)
    batch = fz.batch(items)
    assert batch["volume"].shape == (4, 1, 16, 16, 16) and bool(batch["volume_mask"].all())
    assert float(batch["volume"].min()) >= 0.0 and float(batch["volume"].max()) <= 1.0
    policy = build_policy(cfg, {DEFAULT_TASK: 2})
    logits = policy(batch)[DEFAULT_TASK]
    assert logits.shape == (4, 2) and torch.isfinite(logits).all()
    assert not fz.unreadable


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from mmrl_desktop.core.learning.trainer import Trainer

    root = tmp_path_factory.mktemp("volmodel")
    project = Project.create(
        root / "project",
        algorithm={"batch_size": 4, "updates_per_event": 2, "eval_every": 0},
        model={"embed_dim": 16, "volume_size": 16},
    )
    result = import_source(_source(root / "src"), project, holdout=0.0)
    assert result.volumes == 8 and result.to_json()["volumes"] == 8
    with project.open_store() as store:
        store.set_split(["nodule/case3", "normal/case3"], "holdout")
        for it in store.items(split="pool"):
            truth = it.labels[DEFAULT_TASK]
            store.record_feedback(it.item_id, DEFAULT_TASK, truth, 0.5, 1)
    trainer = Trainer(project, device="cpu", queue_size=0)
    trainer.add_budget(4)
    trainer.train_pending()
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    return project, root


def test_predict_takes_a_series_folder_and_a_nifti(trained):
    from mmrl_desktop.core.tools.predict import predict_source

    project, root = trained
    new = root / "new"
    write_series(new / "study9" / "ct", _phantom(9, True), SPACING)
    write_nifti(new / "scan.nii.gz", _phantom(109, False) - 1024.0, SPACING)
    res = predict_source(project, new)
    json.dumps(res, allow_nan=False)
    assert sorted(p["id"] for p in res["predictions"]) == ["scan", "study9/ct"], res["skipped"]
    assert {p["label"] for p in res["predictions"]} <= {"nodule", "normal"}
    one = predict_source(project, new / "scan.nii.gz")
    assert [p["id"] for p in one["predictions"]] == ["scan"]


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_documents_the_volume_input(trained, tmp_path, fmt):
    from mmrl_desktop.core.tools.export import export_model

    project, _ = trained
    out = tmp_path / f"model.{'pt' if fmt == 'torchscript' else 'onnx'}"
    export_model(project, fmt, out)
    sidecar = json.loads(out.with_name(out.name + ".json").read_text())
    spec = {i["name"]: i for i in sidecar["inputs"]}
    assert spec["volume"]["shape"] == ["batch", 1, 16, 16, 16]
    assert "patient order" in spec["volume"]["preprocessing"] and "volume_mask" in spec


def test_evaluate_and_simulate_take_volume_items(trained):
    from mmrl_desktop.core.evaluation.evaluate import evaluate_project
    from mmrl_desktop.core.tools.simulate import run_simulation

    project, _ = trained
    res = evaluate_project(project)
    assert res["tasks"][DEFAULT_TASK]["holdout_items"] == 2
    assert not res.get("unreadable_items")
    sim = run_simulation(project, clicks=2, device="cpu")
    assert sim["clicks"] == 2 and sim["unreadable_items"] == []


def test_slab_projections_keep_a_small_nodule_bright_in_the_lung_window():
    from mmrl_desktop.core.learning.model.volume_encoder import SLABS, SlabEncoder

    lung, tissue = (-850 + 1000) / 2000, (40 + 1000) / 2000  # the grid's [0, 1] = [-1000, 1000] HU
    x = torch.full((1, 1, 64, 64, 64), lung)
    x[0, 0, 40, 21, 37] = tissue  # one voxel of soft tissue in the lung, 64³ grid
    p = SlabEncoder.projections(x)
    assert p.shape == (1, 2 * SLABS, 32, 32)  # 2×2 max down to the CNN's working side
    slab = 40 * SLABS // 64
    assert p[0, slab, 10, 18] == pytest.approx(tissue)  # not averaged away
    assert p[0, SLABS + slab, 10, 18] > 0.9  # the windowed MIP: as bright as it gets
    assert p[0, SLABS + slab].median() < 0.3  # the lung stays dark
