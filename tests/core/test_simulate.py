"""Simulated expert, and `simulate` through the session + trainer thread."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np

from mmrl_desktop.cli import main
from mmrl_desktop.core.tools.simulate import SimulatedExpert
from tests.core.enginefixtures import digits_project


def test_expert_rules():
    e = SimulatedExpert(seed=0)
    assert e.answer("a", "a").reward == 1 and e.answer("b", "a").reward == -1
    assert e.answer("b", "a").corrected is None
    assert SimulatedExpert(corrections=1.0).answer("b", "a").corrected == "a"
    assert SimulatedExpert(noise=1.0).answer("a", "a").reward == -1
    assert SimulatedExpert(always_correct=True).answer("a", "a").corrected == "a"
    flips = [SimulatedExpert(noise=0.3, seed=s).answer("a", "a").reward for s in range(400)]
    assert 0.2 < np.mean(np.array(flips) < 0) < 0.4


def test_simulate_prints_acks(tmp_path, capsys):
    project = digits_project(tmp_path)
    assert (
        main(
            [
                "simulate",
                "--project",
                str(project.root),
                "--clicks",
                "12",
                "--corrections",
                "0.5",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    acks = [line for line in capsys.readouterr().out.splitlines() if line.startswith("ack ")]
    assert len(acks) == 12
    ids = [int(a.split()[1]) for a in acks]
    with project.open_store() as store:
        live = {e.event_id for e in store.active_feedback()}
    assert set(ids) <= live
    assert main(["train", "--project", str(project.root), "--steps", "3", "--device", "cpu"]) == 0
    out = capsys.readouterr().out  # the 3 asked for, plus any owed to answers: said, not hidden
    done = re.search(
        r"trained (\d+) updates on 12 answers \(cpu\); "
        r"(?:(\d+) of \d+ updates owed to new answers; )?loss",
        out,
    )
    assert done and int(done[1]) == 3 + int(done[2] or 0), out


def test_simulate_and_bench_need_no_gymnasium():
    """The env that wrapped the expert is gone with its dependency: neither module imports it."""
    code = (
        "import sys; import mmrl_desktop.core.tools.simulate, mmrl_desktop.core.tools.bench; "
        "print('gymnasium' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_later_info_adds_to_what_the_trainer_said():
    """An Info that tells a change (the modalities used, ADR 0039) keeps the device said before."""
    from mmrl_desktop.core.learning.trainer_messages import Info
    from mmrl_desktop.core.tools.simulate import _Seen

    seen = _Seen("auto")
    seen.note(Info({"device": "cpu", "model_version": 3}), session=None)
    seen.note(Info({"modalities": ["image", "audio"], "modalities_used": ["audio"]}), None)
    assert seen.info["device"] == "cpu" and seen.info["modalities_used"] == ["audio"]
    assert seen.version == 3


def test_what_stops_the_trainer_is_said_before_any_answer_is_written(tmp_path, capsys):
    """exit 2 means nothing was done: simulate checked the device and the project only once
    the trainer failed, after answers had been committed."""
    import pytest
    import torch

    from mmrl_desktop.core.data.project import Project

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here")
    project = digits_project(tmp_path / "p", n=12)
    assert (
        main(["simulate", "--project", str(project.root), "--clicks", "3", "--device", "cuda"]) == 2
    )
    assert "no CUDA GPU" in capsys.readouterr().err
    with Project.open(project.root).open_store() as store:
        assert store.last_event_id() == 0
    one = Project.create(tmp_path / "one")
    from tests.core.badcorpus import png_bytes

    (tmp_path / "src" / "only").mkdir(parents=True)
    (tmp_path / "src" / "only" / "x.png").write_bytes(png_bytes())
    assert main(["import", str(tmp_path / "src"), "--project", str(one.root)]) == 0
    capsys.readouterr()
    assert main(["simulate", "--project", str(one.root), "--clicks", "3"]) == 2
    assert "one label so far ('only')" in capsys.readouterr().err
