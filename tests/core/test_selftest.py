"""The Qt-free self-test checks (mmrl_desktop.core.tools.selftest)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mmrl_desktop.core.tools import selftest
from mmrl_desktop.core.tools.selftest import FAIL, OK, WARN, CheckResult, Warn, healthy, run_checks


def test_run_checks_reports_ok_warn_and_fail_without_raising():
    def boom():
        raise FileNotFoundError("the DICOM sample could not be read: no such file")

    results = run_checks([("a", lambda: "fine"), ("b", lambda: Warn("optional")), ("c", boom)])
    assert [r.status for r in results] == [OK, WARN, FAIL]
    assert results[0].line() == "ok   a fine"
    assert results[1].line() == "warn b optional"
    assert results[2].line() == (
        "FAIL c: FileNotFoundError: the DICOM sample could not be read: no such file"
    )
    assert not healthy(results)
    assert healthy(results[:2])  # a warning is not a failure


def test_failure_message_is_one_line():
    def multi():
        raise RuntimeError("first line\nsecond line")

    (result,) = run_checks([("x", multi)])
    assert result.detail == "RuntimeError: first line"
    assert "\n" not in result.line()


def test_result_is_json_ready():
    r = CheckResult("torch", OK, "2.11.0 (cpu)", 0.5)
    assert json.loads(json.dumps(r.to_dict())) == {
        "name": "torch",
        "status": "ok",
        "detail": "2.11.0 (cpu)",
        "seconds": 0.5,
    }
    assert r.line() == "ok   torch 2.11.0 (cpu)"


@pytest.mark.parametrize(
    "name",
    ["mmrl-desktop", "resources", "project", "loaders", "dicom-codecs", "torch", "model"],
)
def test_each_core_check_passes_on_this_installation(name):
    checks = dict(selftest.core_checks())
    (result,) = run_checks([(name, checks[name])])
    assert result.status == OK, result.line()


def test_loaders_check_names_the_sample_that_failed(monkeypatch, tmp_path):
    demo = tmp_path / "demo"
    (demo / "images").mkdir(parents=True)
    (demo / "images" / "digit0_00.png").write_bytes(b"not a png")
    monkeypatch.setattr(selftest, "demo_dir", lambda: demo)
    (result,) = run_checks([("loaders", selftest.check_loaders)])
    assert result.status == FAIL
    assert result.detail.startswith("RuntimeError: the PNG image sample could not be read")


def test_core_selftest_does_not_import_qt_or_sounddevice():
    code = (
        "import sys; from mmrl_desktop.core.tools import selftest as s; "
        "s.run_checks([c for c in s.core_checks() if c[0] in ('project', 'loaders')]); "
        "bad = [m for m in ('PySide6', 'sounddevice', 'pyqtgraph') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
