"""Command-line manners (issue 13, point 11): every option says what it does and its default;
``predict --device``; progress bars on stderr only when stderr is a terminal, never in ``--json``
stdout."""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mmrl_desktop.cli import build_parser, main
from mmrl_desktop.commands.progress import Bar, bar_text
from mmrl_desktop.core.data.project import Project
from tests.core.enginefixtures import make_pngs
from tests.core.test_evaluate import make_trained

REPO = Path(__file__).resolve().parents[2]


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return {name: p for a in subs for name, p in a.choices.items()}


def test_every_option_of_every_command_has_help_and_says_its_default():
    parser = build_parser()
    commands = {"(top level)": parser, **_subcommands(parser)}
    assert {"import", "predict", "export", "evaluate", "train", "bench"} <= set(commands)
    for name, sub in commands.items():
        formatter = sub._get_formatter()
        assert sub.description, name
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            what = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help and action.help.strip(), f"{what} has no help"
            if action.option_strings:
                shown = formatter._get_help_string(action) % {"default": action.default}
                assert "default" in shown or shown.endswith("(required)"), what
        text = sub.format_help()
        assert "%(" not in text, name


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as done:
        main(["bench", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "(default: 0.3)" in out and "(default: auto)" in out and "(default: off)" in out
    assert "(default: 100,300,1000)" in out and "(required)" in out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Project:
    return make_trained(tmp_path_factory.mktemp("manners"))


@pytest.fixture(scope="module")
def pngs(tmp_path_factory) -> Path:
    return make_pngs(tmp_path_factory.mktemp("pngs"), 3)


def test_predict_takes_a_device(trained, pngs, capsys):
    args = ["predict", "--project", str(trained.root), str(pngs), "--json"]
    assert main([*args, "--device", "cpu"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["items"] == 6
    if not torch.cuda.is_available():
        assert main([*args, "--device", "cuda"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "no CUDA GPU" in err[0], err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bar_draws_in_place_on_a_terminal_only():
    assert bar_text("evaluating", 5, 20, "items", 1.25) == (
        "evaluating [######                  ]  5/20 items · 1.2 s"
    )
    assert bar_text("reading files", 7, 0, "files", 0.0) == "reading files 7 files · 0.0 s"
    term = _Terminal()
    with Bar("exporting", "steps", stream=term) as bar:
        bar(1, 4)
        bar(4, 4)
    assert term.getvalue().startswith("\rexporting [######") and term.getvalue().endswith("\r")
    assert "4/4 steps" in term.getvalue()
    pipe = io.StringIO()
    with Bar("exporting", stream=pipe) as bar:
        bar(4, 4)
    assert pipe.getvalue() == ""


def _read_all(fd: int, proc: subprocess.Popen, timeout: float) -> str:
    """Everything written to the pty until the process ends (and its output is drained)."""
    text, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            text += chunk.decode("utf-8", "replace")
        elif proc.poll() is not None:
            break
    return text


def _command(name: str, project: Project, pngs: Path, tmp: Path) -> tuple[list[str], str]:
    """The arguments of one command with --json, and the start of its bar."""
    p = str(project.root)
    return {
        "import": (["import", str(pngs), "--project", str(tmp / "new")], "reading files "),
        "evaluate": (["evaluate", "--project", p], "evaluating ["),
        "predict": (["predict", "--project", p, str(pngs), "--device", "cpu"], "predicting ["),
        "export": (
            ["export", "--project", p, "--format", "torchscript", "--out", str(tmp / "m.pt")],
            "exporting to torchscript [",
        ),
    }[name]


def _run(args: list[str], terminal: bool) -> tuple[int, str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    cmd = [sys.executable, "-m", "mmrl_desktop", *args, "--json"]
    if not terminal:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
        return proc.returncode, proc.stdout, proc.stderr
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env, cwd=REPO)
    os.close(slave)
    try:
        err = _read_all(master, proc, 300.0)
        out = proc.stdout.read().decode()
        code = proc.wait(60)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, out, err


@pytest.mark.parametrize("name", ["import", "evaluate", "predict", "export"])
def test_a_progress_bar_on_a_terminal_stderr_and_never_in_json(trained, pngs, tmp_path, name):
    args, bar = _command(name, trained, pngs, tmp_path / "tty")
    code, out, err = _run(args, terminal=True)
    assert code == 0, err
    assert bar in err, err
    assert "\r" in err  # drawn in place, then erased
    assert isinstance(json.loads(out), dict)  # stdout is one JSON object, no bar in it
    assert "[#" not in out and "\r" not in out

    args, bar = _command(name, trained, pngs, tmp_path / "pipe")
    code, out, err = _run(args, terminal=False)
    assert code == 0, err
    assert bar not in err and "\r" not in err, err  # a pipe gets no bar
    assert isinstance(json.loads(out), dict)


def test_the_bar_fits_the_width_of_stderrs_terminal_even_when_stdout_is_a_pipe():
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 40, 0, 0))
    with open(slave, "w", closefd=True) as stream:
        bar = Bar("a long label that does not fit", "items", stream=stream)
        bar(3, 10)
        bar.close()
    text = os.read(master, 4096).decode()
    os.close(master)
    first = text.split("\r")[1]
    assert first.startswith("a long label") and len(first) == 39, repr(text)
