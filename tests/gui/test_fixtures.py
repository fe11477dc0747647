"""The GUI fixtures themselves: QThread tracking, isolated settings, the refcount guard."""

from __future__ import annotations

import sys

from PySide6.QtCore import QSettings, QThread

from tests.gui.conftest import singleton_leaks


def test_started_qthreads_are_tracked(_no_dangling_qthreads):
    thread = QThread()
    thread.setObjectName("probe")
    thread.start()
    assert [ref() for ref in _no_dangling_qthreads] == [thread]
    thread.quit()
    assert thread.wait(2000)  # stopped in time: the fixture lets the test pass


def test_settings_are_isolated(_isolated_qsettings):
    s = QSettings(QSettings.IniFormat, QSettings.UserScope, "mmrl-desktop-test", "probe")
    s.setValue("k", 1)
    s.sync()
    assert s.fileName().startswith(_isolated_qsettings)


def test_singletons_cannot_run_out():
    leaks = singleton_leaks()
    if max(leaks.values()) >= 0.5:  # a leaking PySide6: the guard must be on
        assert sys.getrefcount(None) > 1 << 39 and sys.getrefcount(True) > 1 << 39
