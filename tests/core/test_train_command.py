"""``mmrl-desktop train``: the updates owed to new answers are bounded and said; progress goes to
stderr only on a terminal; Ctrl+C and SIGTERM stop it after the current update, with a
checkpoint, one line and no traceback."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmrl_desktop.cli import main
from mmrl_desktop.commands.train_progress import Progress
from tests.core.enginefixtures import answer, digits_project


@pytest.mark.slow
def test_the_catch_up_of_owed_updates_is_bounded_and_reported(tmp_path, capsys):
    project = digits_project(tmp_path)  # updates_per_event = 2
    answer(project, 30)  # no checkpoint yet: 30 answers × 2 = 60 updates owed
    args = ["train", "--project", str(project.root), "--steps", "3", "--device", "cpu"]
    assert main([*args, "--max-catch-up", "5"]) == 0
    out, err = capsys.readouterr()
    assert "trained 8 updates on 30 answers" in out and "5 of 60 updates owed" in out, out
    assert (project.checkpoints_dir / "ckpt-00000008.safetensors").is_file()
    assert "training:" not in err  # stderr is not a terminal here: no progress line
    assert main(args) == 0  # the checkpoint covers every answer: nothing owed any more
    out = capsys.readouterr().out
    assert "trained 3 updates on 30 answers (cpu); loss" in out, out


def test_a_negative_bound_is_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["train", "--project", str(tmp_path), "--max-catch-up", "-1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "--max-catch-up" in err and len(err.strip().splitlines()) == 1


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_redrawn_in_place_on_a_terminal_and_cleared():
    term = _Terminal()
    progress = Progress(10, stream=term)
    progress.update(10, 0.25)
    assert term.getvalue().startswith("\rtraining: 10/10 updates · loss 0.2500 · ")
    progress.clear()
    assert term.getvalue().endswith("\r")
    quiet = io.StringIO()  # a pipe or a log file
    Progress(10, stream=quiet).update(10, 0.25)
    assert quiet.getvalue() == ""


def _read_until(fd: int, pattern: str, timeout: float) -> str:
    text, deadline = "", time.monotonic() + timeout
    while pattern not in text and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                text += os.read(fd, 4096).decode("utf-8", "replace")
            except OSError:  # the other end closed
                break
    return text


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_training_with_a_checkpoint_and_one_line(tmp_path, signum, code):
    project = digits_project(tmp_path)
    answer(project, 20)
    master, slave = pty.openpty()  # stderr is a terminal: the progress line shows it started
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "mmrl_desktop", "train", "--project", str(project.root)]
    proc = subprocess.Popen(
        [*cmd, "--steps", "1000000", "--device", "cpu"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    os.close(slave)
    try:
        seen = _read_until(master, "updates/s", 120.0)
        assert "training: " in seen, seen
        proc.send_signal(signum)
        assert proc.wait(60) == code
        seen += _read_until(master, "\n", 5.0)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.stdout.read() == b""
    assert "Traceback" not in seen
    lines = [line.rstrip("\r").split("\r")[-1].strip() for line in seen.split("\n")]
    lines = [line for line in lines if line]
    assert len(lines) == 1, seen
    match = re.fullmatch(r"stopped after (\d+) updates; checkpoint (.+\.safetensors)", lines[0])
    assert match and int(match[1]) >= 1, lines
    assert Path(match[2]).is_file()
