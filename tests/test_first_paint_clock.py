"""``--quit-after-paint``'s clock: the time since the process started, unless a shell exec'd
the program and the process start is the shell's (the last command of ``bash -c "pip install
… && mmrl-desktop --quit-after-paint"`` printed the install's minutes as the first paint)."""

from __future__ import annotations

import time

import psutil
import pytest

from mmrl_desktop.commands import gui


class _Proc:
    def __init__(self, started: float) -> None:
        self.started = started

    def create_time(self) -> float:
        return self.started


def test_a_process_started_just_before_its_first_import_counts_from_its_start(monkeypatch):
    monkeypatch.setattr("mmrl_desktop.cli.PROCESS_START", time.perf_counter() - 0.4)
    monkeypatch.setattr(psutil, "Process", lambda: _Proc(time.time() - 0.5))
    assert gui._seconds_since_process_start() == pytest.approx(0.5, abs=0.05)


def test_a_process_a_shell_execd_after_a_long_install_counts_from_its_first_import(monkeypatch):
    monkeypatch.setattr("mmrl_desktop.cli.PROCESS_START", time.perf_counter() - 0.4)
    monkeypatch.setattr(psutil, "Process", lambda: _Proc(time.time() - 80.0))
    assert gui._seconds_since_process_start() == pytest.approx(0.4, abs=0.05)
