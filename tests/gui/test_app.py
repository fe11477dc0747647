"""Start-up checks that turn Qt's aborts into sentences."""

import ctypes.util

import pytest

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.gui import app


def test_missing_xcb_library_is_a_sentence(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.setattr(
        ctypes.util, "find_library", lambda name: None if name == "xcb-cursor" else name
    )
    with pytest.raises(UserError, match="libxcb-cursor0"):
        app._check_xcb_libraries()


def test_no_display_is_a_sentence(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setattr(app.sys, "platform", "linux")
    assert not app.has_display()
