"""The log a user can send (issue 13, point 6): a rotating file per process kind, uncaught
exceptions and fatal faults in it, entry points that log without paths, and a command line that
never writes to the None streams of a windowed launcher."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmrl_desktop import logs
from tests.core.enginefixtures import TINY_MODEL, make_pngs

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (\d+) \S+ [A-Z]+ [\w.]+: ")


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv(logs.ENV_DIR, str(folder))
    yield folder
    logs.uninstall()


def _python(code: str, log_dir: Path, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, logs.ENV_DIR: str(log_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120, **kw
    )


def _entries(path: Path) -> list[str]:
    """The log's entries (a traceback continues its entry); every line is readable text."""
    out: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if LINE.match(line) or not out:
            out.append(line)
        else:
            out[-1] += "\n" + line
    return out


def test_install_sets_up_a_rotating_file_in_the_log_folder(log_dir):
    assert logs.log_dir() == log_dir
    assert logs.install("cli") == log_dir
    handlers = [
        h
        for h in logging.getLogger().handlers
        if isinstance(h, logging.handlers.RotatingFileHandler)
    ]
    assert len(handlers) == 1
    handler = handlers[0]
    assert Path(handler.baseFilename) == log_dir / "cli.log"
    assert 1 << 20 <= handler.maxBytes <= 10 << 20 and 2 <= handler.backupCount <= 5
    logs.install("cli")  # twice: still one handler
    assert (
        sum(
            isinstance(h, logging.handlers.RotatingFileHandler)
            for h in logging.getLogger().handlers
        )
        == 1
    )
    logging.getLogger("mmrl_desktop.test").info("item %s answered", "case-7")
    first = _entries(log_dir / "cli.log")
    assert "cli process started: mmrl-desktop" in first[0]
    assert first[-1].endswith("mmrl_desktop.test: item case-7 answered")
    assert (log_dir / "cli-faults.log").read_text().startswith("--- ")


def test_without_override_the_folder_is_platformdirs_user_log_dir(monkeypatch):
    import platformdirs

    monkeypatch.delenv(logs.ENV_DIR, raising=False)
    assert logs.log_dir() == Path(platformdirs.user_log_dir("mmrl-desktop", appauthor=False))


def test_uncaught_exceptions_in_main_and_other_threads_are_logged_with_traceback(log_dir):
    code = (
        "import threading\n"
        "from mmrl_desktop import logs\n"
        "logs.install('cli')\n"
        "def work():\n    raise RuntimeError('thread boom 31')\n"
        "t = threading.Thread(target=work, name='prefetch'); t.start(); t.join()\n"
        "def deeper():\n    raise ValueError('main boom 42')\n"
        "deeper()\n"
    )
    run = _python(code, log_dir)
    assert run.returncode == 1
    assert "ValueError: main boom 42" in run.stderr  # a console still sees it
    entries = _entries(log_dir / "cli.log")
    crash = [e for e in entries if "uncaught exception" in e]
    assert len(crash) == 2, entries
    assert "in thread prefetch" in crash[0] and "RuntimeError: thread boom 31" in crash[0]
    assert crash[1].split("\n")[1] == "Traceback (most recent call last):"
    assert "in deeper" in crash[1] and "ValueError: main boom 42" in crash[1]


def test_uncaught_exception_without_a_console_still_reaches_the_log(log_dir):
    code = (
        "import sys\n"
        "from mmrl_desktop import logs\n"
        "logs.install('gui')\n"
        "sys.stderr = None; sys.stdout = None\n"
        "raise KeyError('windowed 7')\n"
    )
    run = _python(code, log_dir)
    assert run.returncode == 1
    assert "KeyError: 'windowed 7'" in (log_dir / "gui.log").read_text(encoding="utf-8")


def test_a_fatal_fault_leaves_the_python_stack_in_the_fault_file(log_dir):
    code = (
        "import faulthandler\n"
        "from mmrl_desktop import logs\n"
        "logs.install('trainer')\n"
        "def crunch():\n    faulthandler._sigsegv()\n"
        "crunch()\n"
    )
    run = _python(code, log_dir)
    assert run.returncode != 0
    text = (log_dir / "trainer-faults.log").read_text(encoding="utf-8")
    assert re.search(r"^--- .* trainer process \d+ started$", text, re.M)
    assert "Fatal Python error: Segmentation fault" in text
    assert re.search(r'File "<string>", line \d+ in crunch', text)


# ------------------------------------------------------------------- the command line


def test_the_command_line_never_writes_to_none_streams(monkeypatch, capsys):
    """Windowed launchers (pythonw, a gui-script, mmrl-desktop.exe) have no stdout/stderr."""
    from mmrl_desktop.cli import main

    monkeypatch.setattr(sys, "stderr", None)
    monkeypatch.setattr(sys, "stdout", None)
    with pytest.raises(SystemExit) as exc:
        main(["import"])  # a missing argument: argparse's error, which writes to stderr
    assert exc.value.code == 2
    assert main(["evaluate", "--project", "/nonexistent/project"]) == 2  # a UserError sentence
    assert main(["--version"]) == 0


def test_entry_point_logs_each_command_without_any_path(tmp_path, log_dir):
    """What the log keeps at INFO about an import: that it ran and how it ended, never where
    the files are (patient names are often in folder and file names)."""
    src = make_pngs(tmp_path / "Patient_Doe_John")
    project = tmp_path / "proj_of_doe"
    env = {**os.environ, logs.ENV_DIR: str(log_dir), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "mmrl_desktop", "import", str(src), "--project", str(project)]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    text = (log_dir / "cli.log").read_text(encoding="utf-8")
    assert "import: started" in text and re.search(r"import: exit 0 after [\d.]+ s", text)
    for needle in ["Patient_Doe_John", "proj_of_doe", str(tmp_path), "img0.png", "dark"]:
        assert needle not in text, needle
    assert all(LINE.match(e) for e in _entries(log_dir / "cli.log"))


# ------------------------------------------------------------------- the trainer process


def _trainer_project(root: Path) -> str:
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import DEFAULT_TASK, Project, Task

    src = make_pngs(root / "src")
    items = [
        Item(f"{d.name}/{f.stem}", image=str(f), labels={DEFAULT_TASK: d.name})
        for d in sorted(src.iterdir())
        for f in sorted(d.iterdir())
    ]
    project = Project.create(
        root / "project", tasks=[Task(DEFAULT_TASK, ["dark", "light"])], model=TINY_MODEL
    )
    with project.open_store() as store:
        store.add_items(items)
    return str(project.root)


def _start_trainer(root: str):
    """The real trainer process, started by the app's client (spawn, ``serve``)."""
    from mmrl_desktop.core.learning.trainer_client import TrainerClient

    client = TrainerClient(root, device="cpu")
    client.start()
    return client


def _wait_for(path: Path, text: str, proc, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(encoding="utf-8"):
            return
        assert proc.is_alive(), f"the trainer process ended (exit {proc.exitcode})"
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never reached {path}")


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("sig", ["SIGKILL", "SIGABRT"])
def test_a_killed_trainer_process_leaves_a_readable_log_entry(tmp_path, log_dir, sig):
    from mmrl_desktop.core.learning.trainer_messages import Failed

    root = _trainer_project(tmp_path)
    client = _start_trainer(root)
    proc = client._proc
    events = []
    try:
        _wait_for(log_dir / "trainer-faults.log", f"trainer process {proc.pid} started", proc)
        _wait_for(log_dir / "trainer.log", "trainer process started", proc)
        os.kill(proc.pid, getattr(signal, sig))
        deadline = time.monotonic() + 60
        while not client.done and time.monotonic() < deadline:
            events += client.poll(0.2)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join(30)
    assert proc.exitcode == -getattr(signal, sig)
    assert any(isinstance(e, Failed) for e in events), events  # the app is told in one sentence
    entries = _entries(log_dir / "trainer.log")
    assert all(LINE.match(e) for e in entries), entries
    mine = [e for e in entries if int(LINE.match(e).group(1)) == proc.pid]
    assert "trainer process started: mmrl-desktop" in mine[0]
    assert root not in "\n".join(entries)  # the project's path is not in the log either
    if sig == "SIGABRT":  # a fatal signal: faulthandler writes every thread's Python stack
        faults = (log_dir / "trainer-faults.log").read_text(encoding="utf-8")
        dump = faults.split(f"trainer process {proc.pid} started", 1)[1]
        assert "Fatal Python error: Aborted" in dump
        assert re.search(r'File ".*trainer_loop\.py", line \d+ in serve', dump), dump


def test_warnings_still_reach_stderr_once_the_log_is_installed(tmp_path, monkeypatch, capsys):
    """A root handler turns off Python's last-resort printing: a command's warning (e.g. the
    project's "added labels …") must still reach the terminal, and the log file too."""
    monkeypatch.setenv("MMRL_DESKTOP_LOG_DIR", str(tmp_path))
    try:
        logs.install("cli")
        logging.getLogger("mmrl_desktop.test").warning("added labels that stored items use")
        logging.getLogger("mmrl_desktop.test").info("an info line stays in the file")
        logging.getLogger("mmrl_desktop.test").error("an error line stays in the file")
    finally:
        logs.uninstall()
    err = capsys.readouterr().err
    assert "added labels that stored items use" in err and "info line" not in err
    assert "error line" not in err  # a command's error is its one sentence, written by the command
    assert "added labels" in (tmp_path / "cli.log").read_text(encoding="utf-8")


def test_installing_again_after_another_library_took_one_hook_never_chains_ours(log_dir):
    """Another library put its own sys.excepthook back while ours stayed on threading; the next
    install saved our thread hook as "the previous" one, and a crash in a thread then called
    itself until the recursion limit (the test suite under pytest-qt)."""
    import sys
    import threading

    saved = (sys.excepthook, threading.excepthook)
    logs.install("cli")
    other = sys.__excepthook__
    sys.excepthook = other  # e.g. pytest-qt's capture, undone its own way
    logs.install("cli")
    assert logs._previous_hooks[1] is not logs._thread_excepthook
    assert logs._previous_hooks[0] is other
    seen: list = []
    logs._previous_hooks = (logs._previous_hooks[0], seen.append)
    try:
        t = threading.Thread(target=lambda: 1 / 0, name="prefetch")
        t.start()
        t.join()
        logs.uninstall()
        assert len(seen) == 1 and threading.excepthook == seen.append  # ours handed back
    finally:
        logs.uninstall()
        sys.excepthook, threading.excepthook = saved
