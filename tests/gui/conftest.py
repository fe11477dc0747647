"""GUI test fixtures: headless Qt, isolated QSettings, and no QThread left running.

- ``QT_QPA_PLATFORM=offscreen`` is set before anything imports Qt.
- ``QStandardPaths`` test mode plus ``QSettings.setPath`` into a temporary folder: tests never
  read or write the user's settings.
- ``_no_dangling_qthreads`` (napari's ``_dangling_qthreads`` idea): every ``QThread`` started
  during a test is recorded through a patched ``QThread.start``; a thread still running at the
  end of the test — after a short grace period — fails that test.
- a probe of PySide6 6.12.0's reference leak on CPython < 3.12 (one reference to ``None`` lost per
  void Qt call, one to ``True`` per ``Signal.emit``; the interpreter aborts after a few thousand):
  the app pins ``pyside6<6.12`` (ADR 0003); should a leaking build be installed anyway, the
  session stops at once with that sentence instead of crashing mid-run.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import sys  # noqa: E402
import weakref  # noqa: E402

import PySide6  # noqa: E402
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


LEAKS = singleton_leaks()
if sys.version_info < (3, 12) and max(LEAKS.values()) >= 0.5:
    # The app would abort after a few thousand Qt calls; say so instead of crashing mid-run.
    pytest.exit(
        f"this PySide6 ({PySide6.__version__}) leaks references to None/True on CPython "
        f"{sys.version_info.major}.{sys.version_info.minor} ({LEAKS}); the app pins "
        "pyside6<6.12 for that reason (docs/adr/0003-pyside6-pin.md). Reinstall with "
        "`pip install -e .[test]`.",
        returncode=3,
    )
QStandardPaths.setTestModeEnabled(True)

DANGLING_GRACE_MS = 200


@pytest.fixture
def show_widget(qtbot):
    """``show_widget(widget, width, height)``: own it, size it, show it, wait until it is exposed;
    returns the widget."""

    def show(widget, width: int, height: int):
        qtbot.addWidget(widget)
        widget.resize(width, height)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    return show


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


@pytest.fixture
def charts(qtbot):
    """A shown ``ChartsPanel`` at 1280 × 230 (the chart tests')."""
    from mmrl_desktop.gui.charts import ChartsPanel

    c = ChartsPanel(capacity=100)
    qtbot.addWidget(c)
    c.resize(1280, 230)
    c.show()
    return c
