"""GUI test fixtures: headless Qt, isolated QSettings, and no QThread left running.

- ``QT_QPA_PLATFORM=offscreen`` is set before anything imports Qt.
- ``QStandardPaths`` test mode plus ``QSettings.setPath`` into a temporary folder: tests never
  read or write the user's settings.
- ``_no_dangling_qthreads`` (napari's ``_dangling_qthreads`` idea): every ``QThread`` started
  during a test is recorded through a patched ``QThread.start``; a thread still running at the
  end of the test — after a short grace period — fails that test.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"

import weakref  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QStandardPaths, QThread  # noqa: E402

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
