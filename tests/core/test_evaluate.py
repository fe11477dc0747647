"""evaluate: side-by-side hold-out metrics and OPE, weights files, the CLI (malicious pickle)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mmrl_desktop.cli import main
from mmrl_desktop.core import metrics
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.evaluation.evaluate import evaluate_project, format_report, open_trainer
from mmrl_desktop.core.learning import ckpt_files
from mmrl_desktop.core.learning.calibration import class_probs
from mmrl_desktop.core.learning.trainer import Trainer
from mmrl_desktop.core.tasks import Cancelled, TaskState
from tests.core.enginefixtures import answer, digits_project

REPO = Path(__file__).resolve().parents[2]


def make_trained(root: Path) -> Project:
    """A digits project with 40 answers, trained, with one checkpoint."""
    project = digits_project(root, n=60)
    answer(project, 40)
    trainer = Trainer(project, device="cpu", queue_size=0, write_metrics=True)
    trainer.add_budget(20)
    trainer.train_pending()
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    return project


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Project:
    return make_trained(tmp_path_factory.mktemp("evaluate"))


def test_current_and_reference_side_by_side(trained):
    res = evaluate_project(trained)
    assert [m["name"] for m in res["models"]] == ["current", "reference"]
    assert res["models"][0]["source"].startswith("checkpoints/ckpt-")
    task = res["tasks"]["label"]
    assert task["holdout_items"] == 9 and task["feedback_events"] == 40
    json.dumps(res, allow_nan=False)

    # the current model's numbers are the trainer's greedy predictions scored by metrics.py
    trainer = open_trainer(trained)
    try:
        with trained.open_store() as store:
            hold = [it for it in store.items("holdout") if it.labels]
        temps = trainer.calibrator.temperatures  # the one source of probabilities
        probs = class_probs(trainer.algorithm, trainer.featurizer.batch(hold), temps)
        probs = probs["label"].double().numpy()
        y = np.array([int(it.labels["label"]) for it in hold])
        expected = metrics.classification_report(y, probs, [str(i) for i in range(10)])
        ev = trainer.evaluate_items(hold)
    finally:
        trainer.close(checkpoint=False)
    assert task["holdout"]["current"] == expected
    assert task["holdout"]["current"]["accuracy"] == pytest.approx(ev["eval/accuracy_label"])
    assert task["holdout"]["current"]["macro_f1"] == pytest.approx(ev["eval/macro_f1_label"])
    assert task["holdout"]["current"] != task["holdout"]["reference"]  # training changed it

    # the current model trained on all 40 answers: no in-sample estimate, a sentence instead
    assert set(task["ope"]["current"]) == {"n", "after_event_id", "reason"}
    assert task["ope"]["current"]["reason"].startswith("not enough answers (n = 0")
    est = task["ope"]["reference"]  # the starting model trained on none of them
    assert est["n"] == 40 and est["after_event_id"] == 0  # (tests/core/test_out_of_sample.py)
    with trained.open_store() as store:
        rate = np.mean([e.reward == 1 for e in store.active_feedback()])
    assert task["logged_thumbs_up_rate"] == pytest.approx(rate)

    text = format_report(res)
    assert "accuracy" in text and "confusion matrix" in text
    assert "off-policy, current: not enough answers (n = 0 after this model's checkpoint" in text


def test_progress_and_cancel_through_the_core_task_state(trained):
    """evaluate_project takes the core's TaskState: progress in items scored, up to the whole
    (2 models × (9 held-out + 40 answered items)), and a cancel stops it with tasks.Cancelled."""
    steps: list[tuple[int, int]] = []
    res = evaluate_project(trained, state=TaskState(lambda d, t: steps.append((d, t)), 0.0))
    assert res["tasks"]["label"]["holdout_items"] == 9
    assert steps[0][0] == 0 and steps[-1][0] == steps[-1][1]
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert len({t for _, t in steps}) == 1

    def cancel_at_first_batch(done, total):
        if done:
            state.cancel()

    state = TaskState(cancel_at_first_batch, 0.0)
    with pytest.raises(Cancelled):
        evaluate_project(trained, state=state)


def test_a_part_of_a_task_state_reports_its_share_of_the_whole():
    seen: list[tuple[int, int]] = []
    whole = TaskState(lambda d, t: seen.append((d, t)), 0.0)
    whole.part(0, 2).progress(5, 10)
    whole.part(1, 2).progress(10, 10)
    assert seen == [(500, 2000), (2000, 2000)]
    second = whole.part(1, 2)
    whole.cancel()
    assert second.should_stop()


def test_weights_files_as_candidates(trained, tmp_path):
    ckpt = sorted(trained.checkpoints_dir.glob(ckpt_files.WEIGHTS_GLOB))[-1]
    cur = evaluate_project(trained)["tasks"]["label"]["holdout"]["current"]
    via_file = evaluate_project(trained, checkpoint=ckpt)
    assert via_file["models"][0]["name"] == "checkpoint"
    assert via_file["tasks"]["label"]["holdout"]["checkpoint"] == cur

    # a plain policy state dict saved with torch.save (read with weights_only=True)
    trainer = open_trainer(trained)
    try:
        sd = trainer.algorithm.reference.state_dict()
    finally:
        trainer.close(checkpoint=False)
    torch.save(sd, tmp_path / "ref.pt")
    res = evaluate_project(trained, checkpoint=tmp_path / "ref.pt")["tasks"]["label"]["holdout"]
    assert res["checkpoint"] == res["reference"]

    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match="does not fit this project's model"):
        evaluate_project(trained, checkpoint=tmp_path / "other.pt")


def test_nothing_to_evaluate(tmp_path):
    project = digits_project(tmp_path)
    with project.open_store() as store:
        store.set_split([it.item_id for it in store.items()], "pool")
    with pytest.raises(UserError, match="nothing to evaluate on: no labelled hold-out"):
        evaluate_project(project)


def test_nothing_to_evaluate_because_the_held_out_files_are_gone(tmp_path):
    """The sentence said "no labelled hold-out items" when there were some whose folder had
    moved: it now says how many and why they cannot be read."""
    import shutil

    project = digits_project(tmp_path / "p")
    with project.open_store() as store:
        held = [it for it in store.items(split="holdout") if it.labels]
        folders = {os.path.dirname(it.image) for it in held}
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    with pytest.raises(UserError, match=f"none of its {len(held)} held-out items can be read"):
        evaluate_project(project)


def test_cli_json_and_table(trained, capsys):
    assert main(["evaluate", "--project", str(trained.root), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["tasks"]["label"]["holdout"]["current"]["n"] == 9
    assert main(["evaluate", "--project", str(trained.root)]) == 0
    assert "macro-F1" in capsys.readouterr().out


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_cli_refuses_malicious_checkpoint_in_a_subprocess(trained, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    torch.save(
        {"/policy/heads.heads.label.weight": torch.zeros(10, 16), "x": _Payload(marker)}, evil
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmrl_desktop",
            "evaluate",
            "--project",
            str(trained.root),
            "--checkpoint",
            str(evil),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"mmrl-desktop: error: {evil} is not a safe weights file: it contains Python code "
        "(pickle) that mmrl-desktop will not run."
    )
    assert "Traceback" not in proc.stderr and not marker.exists()


def test_a_checkpoint_that_does_not_fit_is_a_sentence(tmp_path):
    from mmrl_desktop.core.config import TrainConfig
    from mmrl_desktop.core.learning.checkpoints import save_checkpoint

    project = digits_project(tmp_path)
    meta = {
        "train_config": TrainConfig.from_dict(project.algorithm).to_dict(),
        "model_config": {"embed_dim": 16, "image_size": 8, "image_channels": 1},
        "labels": {"label": [str(i) for i in range(10)]},
        "model_version": 1,
    }
    save_checkpoint(project.checkpoints_dir, {"policy": {"old.weight": torch.zeros(2)}}, meta, 5)
    with pytest.raises(UserError, match="does not fit this version's model"):
        open_trainer(project)
