"""GUI test fixtures: headless Qt, isolated QSettings, and no QThread left running.

- ``QT_QPA_PLATFORM=offscreen`` is set before anything imports Qt.
- ``QStandardPaths`` test mode plus ``QSettings.setPath`` into a temporary folder: tests never
  read or write the user's settings.
- ``_no_dangling_qthreads`` (napari's ``_dangling_qthreads`` idea): every ``QThread`` started
  during a test is recorded through a patched ``QThread.start``; a thread still running at the
  end of the test — after a short grace period — fails that test.
- ``guard_singleton_refcounts()``: PySide6 6.12.0 on CPython 3.11 drops one reference to ``None``
  on every call of a void method (``QTimer.start``, ``QWidget.resize``, ``QLabel.setText`` …) and
  one to ``True`` on every ``Signal.emit``. After a few thousand calls the count reaches zero and the
  interpreter aborts with "Fatal Python error: none_dealloc" / "bool_dealloc" (mid-run or at exit). CPython 3.12 made ``None`` immortal, and PySide6 6.11
  does not leak. When a probe measures the leak, None/True/False get counts that cannot run out.
  The application needs the same guard (or a PySide6 pin) until a fixed PySide6 is required.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import ctypes  # noqa: E402
import sys  # noqa: E402
import weakref  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QObject, QSettings, QStandardPaths, QThread, QTimer, Signal  # noqa: E402


class _Probe(QObject):
    fired = Signal()


def singleton_leaks(calls: int = 200) -> dict[str, float]:
    """References lost per call: to None by a void Qt method, to True by ``Signal.emit``."""
    timer, probe = QTimer(), _Probe()
    n0, t0 = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(calls):
        timer.stop()
        probe.fired.emit()
    return {
        "None": (n0 - sys.getrefcount(None)) / calls,
        "True": (t0 - sys.getrefcount(True)) / calls,
    }


def guard_singleton_refcounts() -> bool:
    """Give None, True and False 2**40 extra references when PySide6 leaks them (CPython < 3.12)."""
    if sys.version_info >= (3, 12) or max(singleton_leaks().values()) < 0.5:
        return False
    for obj in (None, True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40  # ob_refcnt is the first field
    return True


NONE_GUARDED = guard_singleton_refcounts()
QStandardPaths.setTestModeEnabled(True)

DANGLING_GRACE_MS = 200


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("qsettings"))
    for fmt in (QSettings.IniFormat, QSettings.NativeFormat):
        QSettings.setPath(fmt, QSettings.UserScope, folder)
        QSettings.setPath(fmt, QSettings.SystemScope, folder)
    yield folder


@pytest.fixture(autouse=True)
def _no_dangling_qthreads(monkeypatch, request):
    started: list[weakref.ref] = []
    original_start = QThread.start

    def recording_start(self, *args, **kwargs):
        started.append(weakref.ref(self))
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield started
    running = []
    for ref in started:
        thread = ref()
        try:
            if thread is not None and thread.isRunning() and not thread.wait(DANGLING_GRACE_MS):
                running.append(thread)
        except RuntimeError:  # the C++ object is already gone: it cannot be running
            pass
    if running:
        names = ", ".join(t.objectName() or type(t).__name__ for t in running)
        for thread in running:  # do not leave them to crash the next test
            thread.quit()
            thread.wait(2000)
        pytest.fail(f"{len(running)} QThread(s) still running at the end of the test: {names}")


def pytest_report_header(config):
    if NONE_GUARDED:
        return (
            "WARNING: this PySide6 drops references to None/True (PySide6 6.12 + CPython 3.11); "
            "tests/gui/conftest.py guards their counts. The app needs a pin or the same guard."
        )
    return None
