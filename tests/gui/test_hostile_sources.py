"""A FIFO named like a manifest never blocks the New Project wizard's label guess (issue 18.4)."""

from __future__ import annotations

import os

import pytest

from mmrl_desktop.gui.dialogs.new_project import guess_labels


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
@pytest.mark.timeout(20)
def test_guess_labels_does_not_open_a_fifo(tmp_path):
    os.mkfifo(tmp_path / "items.csv")
    assert guess_labels(tmp_path / "items.csv") == []
    assert guess_labels(tmp_path) == []
