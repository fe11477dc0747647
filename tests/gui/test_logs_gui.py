"""The window's log (issue 13, point 6): Help ▸ Open log folder, and a crash in a slot that is
logged with its traceback while the user gets one sentence and the app goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QApplication, QMainWindow, QMessageBox, QPushButton

from mmrl_desktop import logs
from mmrl_desktop.gui import crash_notice
from mmrl_desktop.gui.actions import build_actions

pytestmark = pytest.mark.gui


@pytest.fixture
def log_dir(tmp_path, monkeypatch):
    folder = tmp_path / "logs"
    monkeypatch.setenv(logs.ENV_DIR, str(folder))
    yield folder
    crash_notice.uninstall()
    logs.uninstall()


class _FileUrls(QObject):
    """What Qt hands to the handler of file:// URLs (Qt's own hook for openUrl)."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url)


def test_help_menu_opens_the_log_folder(qtbot, log_dir):
    window = QMainWindow()
    qtbot.addWidget(window)
    acts = build_actions(window, ["a", "b"])
    help_menu = next(m.menu() for m in window.menuBar().actions() if m.text() == "&Help")
    assert acts.open_log_folder in help_menu.actions()
    assert acts.open_log_folder.text().replace("&", "") == "Open log folder"
    handler = _FileUrls()
    QDesktopServices.setUrlHandler("file", handler, "open")
    try:
        acts.open_log_folder.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(u.toLocalFile()) for u in handler.opened] == [log_dir]
    assert log_dir.is_dir()  # created, so the file manager has something to show


def test_the_log_folder_is_named_where_nothing_can_open_it(qtbot, log_dir, monkeypatch):
    from mmrl_desktop.gui import actions

    class _NoFileManager:
        @staticmethod
        def openUrl(_url) -> bool:  # noqa: N802
            return False

    shown: list[str] = []
    monkeypatch.setattr(actions, "QDesktopServices", _NoFileManager)
    monkeypatch.setattr(actions.QMessageBox, "information", lambda _p, _t, text: shown.append(text))
    window = QMainWindow()
    qtbot.addWidget(window)
    build_actions(window, ["a", "b"]).open_log_folder.trigger()
    assert len(shown) == 1 and str(log_dir) in shown[0]


def _notices() -> list[QMessageBox]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "crashNotice" and w.isVisible()
    ]


@pytest.mark.qt_no_exception_capture  # the app's own hook is under test, not pytest-qt's
def test_a_crash_in_a_slot_is_logged_and_told_in_one_sentence(qtbot, log_dir):
    logs.install("gui")
    crash_notice.install(QApplication.instance())
    button = QPushButton("go")
    qtbot.addWidget(button)

    def on_click() -> None:
        raise ZeroDivisionError("slot crash 99")

    button.clicked.connect(on_click)
    button.click()
    button.click()  # a second crash: still one notice
    qtbot.waitUntil(lambda: len(_notices()) == 1, timeout=5000)
    qtbot.wait(50)
    notices = _notices()
    assert len(notices) == 1 and notices[0].text() == crash_notice.SENTENCE
    assert notices[0].text().count(". ") == 0 and not notices[0].isModal()
    text = (log_dir / "gui.log").read_text(encoding="utf-8")
    assert text.count("uncaught exception") == 2
    assert "Traceback (most recent call last):" in text and "in on_click" in text
    assert "ZeroDivisionError: slot crash 99" in text
    notices[0].close()


def test_a_crash_in_the_app_process_leaves_a_log_entry_and_the_app_goes_on(tmp_path):
    """The real QApplication (make_app), in its own process: a slot raises, the app keeps
    running its event loop and quits normally; gui.log holds the traceback."""
    script = textwrap.dedent(
        """
        from PySide6.QtCore import QTimer
        from mmrl_desktop import logs
        from mmrl_desktop.gui import crash_notice
        from mmrl_desktop.gui.app import make_app

        logs.install("gui")
        app = make_app(offscreen=True)
        crash_notice.install(app)
        def paint_the_chart():
            raise IndexError("window crash 5")
        QTimer.singleShot(0, paint_the_chart)
        QTimer.singleShot(300, app.quit)
        print("exit", app.exec())
        print("notice", crash_notice._notice.box.text())
        """
    )
    env = {**os.environ, logs.ENV_DIR: str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert "exit 0" in run.stdout and f"notice {crash_notice.SENTENCE}" in run.stdout
    text = (tmp_path / "gui.log").read_text(encoding="utf-8")
    assert "uncaught exception" in text and "in paint_the_chart" in text
    assert "IndexError: window crash 5" in text


def test_notice_is_shown_by_the_gui_thread_for_a_crash_in_another_thread(qtbot, log_dir):
    import threading

    logs.install("gui")
    notice = crash_notice.install(QApplication.instance())

    def work() -> None:
        raise RuntimeError("worker crash 3")

    worker = threading.Thread(target=work, name="prefetch")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: len(_notices()) == 1, timeout=5000)
    assert notice.box is _notices()[0]
    assert notice.box.thread() is QApplication.instance().thread()
    assert "in thread prefetch" in (log_dir / "gui.log").read_text(encoding="utf-8")
    notice.box.close()
