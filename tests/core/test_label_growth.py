"""Issue 18.2: a label set that grows keeps the trained model; steps continue; prune is careful."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest
import torch

from mmrl_desktop.core.config import ModelConfig, TrainConfig
from mmrl_desktop.core.data.importer import import_source
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.evaluation.evaluate import load_candidate_file
from mmrl_desktop.core.learning.algorithms import ALGORITHM_NAMES
from mmrl_desktop.core.learning.checkpoints import (
    checkpoint_path,
    latest_checkpoint,
    list_checkpoints,
    prune,
)
from mmrl_desktop.core.learning.model.policy import build_policy
from mmrl_desktop.core.learning.resume import plan_resume
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import TINY_MODEL, answer, make_pngs

CFG = ModelConfig.from_dict(
    {"modalities": "image", "image_size": 8, "image_channels": 1, "embed_dim": 16}
)
ALGO = {"batch_size": 8, "updates_per_event": 2, "eval_every": 0}


def _project(tmp_path, algorithm: dict | None = None) -> tuple[Project, object]:
    src = make_pngs(tmp_path / "src", per_class=4)
    project = Project.create(
        tmp_path / "proj", model=dict(TINY_MODEL), algorithm={**ALGO, **(algorithm or {})}
    )
    import_source(src, project)
    return Project.open(project.root), src


def _add_class(src, project: Project) -> Project:
    from PIL import Image

    d = src / "mid"
    d.mkdir()
    for i in range(4):
        Image.new("L", (10, 12), 120 + i).save(d / f"img{i}.png")
    import_source(src, project)
    return Project.open(project.root)


def _head(state: dict, key: str = "heads.heads.label.weight") -> torch.Tensor:
    return state[key]


def test_added_class_keeps_training_and_the_old_rows(tmp_path):
    project, src = _project(tmp_path, {"checkpoint_every": 2, "keep_checkpoints": 2})
    answer(project, 4)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()  # 8 updates: checkpoints at 2, 4, 6, 8
    t.close()
    before = latest_checkpoint(project.checkpoints_dir)
    assert before.meta["step"] == 8 and before.meta["labels"] == {"label": ["dark", "light"]}

    aside = tmp_path / "aside"
    aside.mkdir()
    for f in (before.path, before.path.with_suffix(".json")):
        shutil.copy(f, aside / f.name)
    project = _add_class(src, project)
    assert project.task("label").labels == ["dark", "light", "mid"]
    t = Trainer(project, device="cpu", queue_size=0)
    t.info()
    assert t.updates == 8  # resumed, not started from scratch
    assert not t.checkpoint_warnings
    for prefix in ("policy", "reference", "average"):  # average: the model shown (ADR 0022)
        grown = t.algorithm.state_dict()[prefix]
        old = before.state[prefix]
        for key in ("heads.heads.label.weight", "heads.heads.label.bias"):
            assert grown[key].shape[0] == 3
            assert torch.equal(grown[key][:2], old[key])  # the old labels' rows kept
        assert torch.equal(grown["heads.heads.label.weight"][2], torch.zeros(16))
    answer(project, 1, seed=3)
    t.add_budget(1)
    t.train_pending()
    path = t.save_checkpoint("after growth")
    t.close()
    assert Path(path).exists()
    latest = latest_checkpoint(project.checkpoints_dir)
    assert latest.path == Path(path)
    assert latest.meta["step"] > 8
    assert latest.meta["labels"] == {"label": ["dark", "light", "mid"]}
    # the next trainer (and evaluate) resume from it
    again = Trainer(project, device="cpu", queue_size=0, checkpoints=False)
    assert again.info()["updates"] == latest.meta["step"]
    # evaluate --checkpoint on the checkpoint from before the class was added: it grows too
    cand = load_candidate_file(aside / before.path.name, again)
    w = cand.algorithm.policy.heads.heads["label"].weight
    assert (
        w.shape[0] == 3
        and torch.equal(  # the model the checkpoint showed
            w[:2], before.state["average"]["heads.heads.label.weight"]
        )
    )
    again.close(checkpoint=False)


def test_other_algorithm_starts_fresh_keeps_old_checkpoints_and_says_so(tmp_path):
    project, _ = _project(tmp_path, {"checkpoint_every": 2, "keep_checkpoints": 2})
    answer(project, 4)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()
    t.close()
    old = sorted(p.name for p in project.checkpoints_dir.glob("ckpt-*"))
    project.algorithm["algorithm"] = "supervised"
    project.save()
    t = Trainer(Project.open(project.root), device="cpu", queue_size=0)
    t.info()
    assert len(t.checkpoint_warnings) == 1
    assert "fresh model" in t.checkpoint_warnings[0]
    assert "'supervised'" in t.checkpoint_warnings[0]
    assert t.updates == 9  # steps continue: the new checkpoints sort newest
    t.close()  # nothing trained yet: the other algorithm's ckpt-00000008 is not overwritten
    assert (
        json.loads((project.checkpoints_dir / "ckpt-00000008.json").read_text())["train_config"][
            "algorithm"
        ]
        == "default"
    )
    t = Trainer(Project.open(project.root), device="cpu", queue_size=0)
    t.add_budget(6)
    t.train_pending()  # three more saves with keep_checkpoints = 2
    path = t.save_checkpoint()
    t.close()
    names = {p.name for p in project.checkpoints_dir.glob("ckpt-*")}
    assert set(old) <= names  # the other algorithm's checkpoints are never pruned
    assert latest_checkpoint(project.checkpoints_dir).path == Path(path)
    # switching back resumes the older model that fits, and says why
    project.algorithm["algorithm"] = "default"
    project.save()
    back = Trainer(Project.open(project.root), device="cpu", queue_size=0, checkpoints=False)
    back.info()
    assert back.resumed_from.endswith("ckpt-00000008.safetensors")
    newest = latest_checkpoint(project.checkpoints_dir).meta["step"]
    assert back.updates == newest + 1  # above the other algorithm's newest: never a step on disk
    assert "resumes from the older ckpt-00000008" in back.checkpoint_warnings[0]
    back.close(checkpoint=False)


def test_renamed_label_is_one_sentence(tmp_path):
    project, _ = _project(tmp_path, {"checkpoint_every": 2})
    answer(project, 1)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()
    t.close()
    plan = plan_resume(project.checkpoints_dir, {"label": ["dark", "bright"]}, "default")
    assert plan.checkpoint is None and plan.highest_step == 2
    (text,) = plan.warnings
    assert "no longer has (label: light)" in text and "fresh model" in text


def _fake_pair(folder, step: int, weights: bytes, meta: bytes) -> None:
    path = checkpoint_path(folder, step)
    path.write_bytes(weights)
    path.with_suffix(".json").write_bytes(meta)


def test_prune_keeps_newest_loadable_and_unreadable_files(tmp_path):
    project, _ = _project(tmp_path, {"checkpoint_every": 2, "keep_checkpoints": 2})
    folder = project.checkpoints_dir
    folder.mkdir(exist_ok=True)
    _fake_pair(folder, 99999999, b"\x00garbage" * 10, b"{not json")
    answer(project, 4)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()  # checkpoints at 2, 4, 6, 8, each followed by prune(keep=2)
    t.close()
    names = sorted(p.stem for p in list_checkpoints(folder))
    assert names == ["ckpt-00000006", "ckpt-00000008", "ckpt-99999999"]
    assert latest_checkpoint(folder).meta["step"] == 8
    again = Trainer(project, device="cpu", queue_size=0, checkpoints=False)
    again.info()
    assert again.updates == 8
    assert any("could not be read" in w for w in again.checkpoint_warnings)
    again.close(checkpoint=False)
    # neither the protected (just written) one nor the newest readable one is ever pruned
    assert prune(folder, 1, protect=folder / "ckpt-00000006.safetensors") == []
    assert [p.stem for p in prune(folder, 1)] == ["ckpt-00000006"]
    assert (folder / "ckpt-99999999.json").exists()


def test_prune_orders_by_the_metadata_step(tmp_path):
    """A rolled-back copy or a name that lies: the JSON's step decides which is newest."""
    project, _ = _project(tmp_path, {"checkpoint_every": 2, "keep_checkpoints": 5})
    answer(project, 2)
    t = Trainer(project, device="cpu", queue_size=0)
    t.train_pending()  # checkpoints at 2, 4
    t.close()
    folder = project.checkpoints_dir
    meta = json.loads((folder / "ckpt-00000004.json").read_text())
    meta["step"] = 1
    (folder / "ckpt-00000004.json").write_text(json.dumps(meta))
    assert [p.stem for p in prune(folder, 1)] == ["ckpt-00000004"]


@pytest.mark.parametrize("name", ALGORITHM_NAMES)
def test_grow_state_every_algorithm(name):
    """A state for labels a, b grows into a, x, b (+ a new task): old rows move by name, the
    optimiser moments with them, and the grown algorithm keeps training."""
    from mmrl_desktop.core.learning.algorithms import ALGORITHMS
    from mmrl_desktop.core.learning.growth import grow_state
    from tests.core.test_algorithms import _batch

    def _policy(num):
        return build_policy(CFG, num)

    torch.manual_seed(0)
    old = ALGORITHMS[name](_policy({"label": 4}), {"label": 4}, TrainConfig(algorithm=name))
    batch = _batch()
    small = type(batch)(batch.inputs, {"label": batch.feedback["label"]})
    old.update(small)
    new_labels = {"label": ["a", "x", "b", "c", "d"], "second": ["p", "q", "r"]}
    num = {t: len(v) for t, v in new_labels.items()}
    new = ALGORITHMS[name](_policy(num), num, TrainConfig(algorithm=name))
    names = [n for n, _ in new.policy.named_parameters()]
    state = grow_state(
        old.state_dict(), new.state_dict(), {"label": list("abcd")}, new_labels, names
    )
    new.load_state_dict(state)
    w_old = old.policy.heads.heads["label"].weight
    w_new = new.policy.heads.heads["label"].weight
    assert torch.equal(w_new[[0, 2, 3, 4]], w_old) and torch.equal(w_new[1], torch.zeros(16))
    moments = new.optimizer.state[new.policy.heads.heads["label"].weight]["exp_avg"]
    old_moments = old.optimizer.state[old.policy.heads.heads["label"].weight]["exp_avg"]
    assert torch.equal(moments[[0, 2, 3, 4]], old_moments) and not moments[1].any()
    out = new.update(batch)
    assert all(math.isfinite(v) for v in out.values())


def test_issue_scenario_through_the_command_line(tmp_path, capsys):
    """import → train → import with a new class → train → evaluate uses what was just trained."""
    from mmrl_desktop.cli import main

    src, proj = make_pngs(tmp_path / "src", per_class=4), tmp_path / "proj"
    assert main(["import", str(src), "--project", str(proj)]) == 0
    project = Project.open(proj)
    project.model.update(TINY_MODEL)
    project.algorithm.update({**ALGO, "checkpoint_every": 2, "keep_checkpoints": 2})
    project.save()
    answer(project, 4)
    train = ["train", "--project", str(proj), "--steps", "6", "--device", "cpu"]
    assert main(train) == 0
    first = latest_checkpoint(project.checkpoints_dir).meta["step"]
    project = _add_class(src, Project.open(proj))
    answer(project, 2, seed=1)
    capsys.readouterr()
    assert main(train) == 0
    out = capsys.readouterr().out
    path = Path(out.strip().rsplit("checkpoint ", 1)[-1])
    assert path.exists() and latest_checkpoint(project.checkpoints_dir).path == path
    assert main(["evaluate", "--project", str(proj), "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    current = result["models"][0]
    assert current["source"] == str(path.relative_to(proj)) and current["step"] > first
    assert result["checkpoint_warnings"] == [] and "warning" not in captured.err
