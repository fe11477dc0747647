"""The volume viewer's plane switch that reads a lazy series whole: on a worker thread, the
shown plane scrolling meanwhile, the switch made when the read is done, and a stale read (the
switch taken back, another case) dropped."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest

from mmrl_desktop.core.data.volumes import read_volume
from mmrl_desktop.core.data.volumes.dicom_series import LazySeries
from mmrl_desktop.core.data.volumes.synthetic import write_series
from mmrl_desktop.gui.viewers.volume_view import READ_AHEAD_MS, VolumeView

N = 12  # slices


class GatedSeries(LazySeries):
    """A real lazy series whose reads off the GUI thread wait for ``gate``: the test decides
    when the whole read ends. ``threads``: the threads that read a slice."""

    gate: threading.Event
    threads: set

    def _slice(self, k: int) -> np.ndarray:
        self.threads.add(threading.current_thread())
        if threading.current_thread() is not threading.main_thread():
            assert self.gate.wait(10), "the test never opened the gate"
        return super()._slice(k)


@pytest.fixture
def gated(tmp_path):
    """(a volume over a gated series of N 8×8 files, the gate)."""
    stored = (np.arange(N)[:, None, None] * 10 + np.zeros((N, 8, 6), int) + 1024).astype(np.int16)
    files = write_series(tmp_path / "series", stored, spacing=(2.5, 0.7, 0.7))
    vol = read_volume(tmp_path / "series")
    series = GatedSeries(files, vol.voxels.shape, vol.voxels.dtype)
    series.gate, series.threads = threading.Event(), set()
    yield dataclasses.replace(vol, voxels=series), series.gate
    series.gate.set()  # never leave the worker waiting


@pytest.fixture(autouse=True)
def _no_read_ahead_yet(monkeypatch):
    """Each test starts as a fresh app: no cross plane used yet."""
    monkeypatch.setattr(VolumeView, "cross_planes_used", False)


@pytest.fixture
def view(show_widget):
    return show_widget(VolumeView(), 800, 600)


def _done(qtbot, view):
    qtbot.waitUntil(lambda: view._reader.source() is None, timeout=10000)
    assert view._reader.wait(5.0)


def test_the_switch_reads_off_the_gui_thread_and_the_shown_plane_scrolls_meanwhile(
    qtbot, view, gated
):
    vol, gate = gated
    view.set_volume(vol)
    assert view.slice_index() == N // 2
    view.set_plane("coronal")  # returns at once: the read waits for the gate
    assert view.plane() == "axial" and view.reading() == "coronal"
    assert view.plane_buttons["coronal"].isChecked()
    assert f"reading all {N} slices…" in view.slice_label.text()
    view.step(1)  # the axial plane still scrolls
    assert view.slice_index() == N // 2 + 1
    assert view.image_item.image.shape == (8, 6)
    assert view.slice_label.text().startswith(f"slice {N // 2 + 2} / {N}")
    assert "reading all" in view.slice_label.text()
    gate.set()
    with qtbot.waitSignal(view.planeChanged, timeout=10000) as sig:
        pass
    assert sig.args == ["coronal"] and view.reading() is None
    assert isinstance(view.volume().voxels, np.ndarray)
    assert view.image_item.image.shape == (N, 6) and view.slice_count() == 8
    assert "reading" not in view.slice_label.text()
    readers = vol.voxels.threads - {threading.main_thread()}
    assert readers, "the whole read ran on the GUI thread"
    view.set_plane("sagittal")  # in memory now: at once
    assert view.plane() == "sagittal" and view.reading() is None


def test_taking_the_switch_back_drops_the_read(qtbot, view, gated):
    vol, gate = gated
    view.set_volume(vol)
    view.set_plane("coronal")
    view.set_plane("axial")  # taken back before the read ended
    assert view.reading() is None and view.plane_buttons["axial"].isChecked()
    assert "reading" not in view.slice_label.text()
    gate.set()
    _done(qtbot, view)
    qtbot.wait(50)
    assert view.plane() == "axial" and view.volume() is vol


def test_another_plane_asked_for_meanwhile_is_the_one_shown(qtbot, view, gated):
    vol, gate = gated
    view.set_volume(vol)
    view.set_plane("coronal")
    view.set_plane("sagittal")  # the same read serves it
    assert view.reading() == "sagittal"
    gate.set()
    qtbot.waitUntil(lambda: view.plane() == "sagittal", timeout=10000)
    assert view.slice_count() == 6 and view.reading() is None


def test_a_new_case_drops_the_last_cases_read(qtbot, view, gated, tmp_path):
    vol, gate = gated
    view.set_volume(vol)
    view.set_plane("coronal")
    other = read_volume(tmp_path / "series")  # the next case (not gated)
    view.set_volume(other)
    assert view.reading() is None and view.plane() == "axial"
    gate.set()
    qtbot.wait(100)
    assert view._reader.wait(5.0)
    qtbot.wait(50)
    assert view.plane() == "axial" and view.volume() is other
    assert not isinstance(other.voxels, np.ndarray)


def test_a_read_that_fails_says_so_and_keeps_the_plane(qtbot, view, tmp_path):
    stored = np.full((N, 8, 6), 1024, np.int16)
    files = write_series(tmp_path / "s", stored, spacing=(2.5, 0.7, 0.7))
    vol = read_volume(tmp_path / "s")
    view.set_volume(vol)
    Path(files[-1]).unlink()  # gone since import
    view.set_plane("coronal")
    qtbot.waitUntil(lambda: view.reading() is None, timeout=10000)
    assert view.plane() == "axial" and view.plane_buttons["axial"].isChecked()
    text = view.slice_label.text()
    assert text.startswith("The coronal plane could not be read") and text.endswith("."), text
    assert "Traceback" not in text and text.count(". ") == 0


# ---------------------------------------------------------------------- the patient's sides
def _on_view(view: VolumeView):
    scene = view.image_item.mapRectToScene(view.image_item.boundingRect())
    return view.graphics.mapFromScene(scene).boundingRect()


def _sides_beside_the_image(view: VolumeView) -> bool:
    img = _on_view(view)
    top, bottom, left, right = (lab.geometry() for lab in view.edge_labels)
    near = 8  # px between a label and the edge it names
    return (
        0 <= img.top() - top.bottom() <= near
        and 0 <= bottom.top() - img.bottom() <= near
        and 0 <= img.left() - left.right() <= near
        and 0 <= right.left() - img.right() <= near
        and abs(top.center().x() - img.center().x()) <= 2
        and abs(left.center().y() - img.center().y()) <= 2
    )


def test_the_sides_sit_beside_the_images_edges_zoomed_out_and_at_the_views_zoomed_in(
    qtbot, show_widget, tmp_path
):
    stored = np.full((N, 16, 12), 1024, np.int16)
    write_series(tmp_path / "s", stored, spacing=(2.5, 0.7, 0.7))
    v = show_widget(VolumeView(), 800, 600)
    v.set_volume(read_volume(tmp_path / "s"))
    v.zoom(0.5)  # the image a quarter of the view
    qtbot.waitUntil(lambda: _sides_beside_the_image(v), timeout=3000)
    assert "".join(lab.text() for lab in v.edge_labels) == "APRL"
    v.set_plane("coronal")
    qtbot.waitUntil(lambda: v.plane() == "coronal", timeout=10000)
    v.zoom(0.5)
    qtbot.waitUntil(lambda: _sides_beside_the_image(v), timeout=3000)
    assert "".join(lab.text() for lab in v.edge_labels) == "SIRL"
    v.zoom(20.0)  # the image larger than the view: the sides at the view's edges
    vp = v.graphics.viewport().rect()

    def at_the_views_edges() -> bool:
        top, bottom, left, right = (lab.geometry() for lab in v.edge_labels)
        return (top.top(), left.left()) == (0, 0) and (bottom.bottom(), right.right()) == (
            vp.bottom(),
            vp.right(),
        )

    qtbot.waitUntil(at_the_views_edges, timeout=3000)
    assert all(lab.isVisible() for lab in v.edge_labels)


# ---------------------------------------------------------------------- read ahead
def _series(folder, n: int = N):
    write_series(folder, np.full((n, 8, 6), 1024, np.int16), spacing=(2.5, 0.7, 0.7))
    return read_volume(folder)


def test_once_a_cross_plane_was_used_the_shown_case_is_read_ahead(qtbot, view, tmp_path):
    first = _series(tmp_path / "a")
    view.set_volume(first)
    qtbot.wait(READ_AHEAD_MS + 300)
    assert view.volume() is first  # no cross plane used yet: nothing read ahead
    view.set_plane("coronal")
    qtbot.waitUntil(lambda: view.plane() == "coronal", timeout=10000)
    second = _series(tmp_path / "b")
    view.set_volume(second)  # the next case, shown axial
    assert view.plane() == "axial" and view.volume() is second
    qtbot.waitUntil(lambda: isinstance(view.volume().voxels, np.ndarray), timeout=10000)
    assert view.plane() == "axial" and not isinstance(second.voxels, np.ndarray)
    view.set_plane("sagittal")  # already read: at once
    assert view.plane() == "sagittal" and view.reading() is None
    hidden = VolumeView()  # a preloaded page: not read until it is shown
    qtbot.addWidget(hidden)
    hidden.resize(400, 300)
    third = _series(tmp_path / "c")
    hidden.set_volume(third)
    qtbot.wait(READ_AHEAD_MS + 300)
    assert hidden.volume() is third
    hidden.show()
    qtbot.waitUntil(lambda: isinstance(hidden.volume().voxels, np.ndarray), timeout=10000)
    assert hidden.plane() == "axial"


def test_a_page_flipped_away_stops_its_whole_read_and_takes_it_up_when_shown_again(
    qtbot, view, gated, monkeypatch
):
    """One worker reads for every viewer: a hidden page's read (read ahead, or a plane asked for)
    would keep the page shown now waiting. Hidden, it stops; shown again, the asked plane reads."""
    vol, gate = gated
    monkeypatch.setattr(VolumeView, "cross_planes_used", True)
    view.set_volume(vol)
    qtbot.waitUntil(lambda: view._reader.source() is vol, timeout=10000)  # read ahead
    state = view._reader._state
    view.hide()  # another page flipped to
    assert view._reader.source() is None and state.should_stop()
    view.show()
    qtbot.waitUntil(lambda: view._reader.source() is vol, timeout=10000)  # read ahead again
    view.set_plane("coronal")
    state = view._reader._state
    view.hide()
    assert state.should_stop() and view._reader.source() is None
    assert view.reading() == "coronal"  # still asked for
    gate.set()
    assert view._reader.wait(5.0)
    qtbot.wait(50)
    assert view.plane() == "axial" and view.volume() is vol  # the stopped read delivered nothing
    view.show()
    qtbot.waitUntil(lambda: view.plane() == "coronal", timeout=10000)
    assert view.reading() is None and isinstance(view.volume().voxels, np.ndarray)


# ---------------------------------------------------------------------- around the viewer
def test_the_help_names_the_volume_keys():
    from mmrl_desktop.gui.actions import shortcuts_text

    text = shortcuts_text(["nodule", "normal"])
    assert "PgUp" in text and "Ctrl+2" in text and "sagittal" in text


def test_snapshots_take_a_volume_case_as_its_own_kind(tmp_path):
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.gui.snapshot import _kind

    series = Item("v", image=str(tmp_path / "s0.dcm"), info={"volume": {"format": "dicom-series"}})
    assert _kind(series) == "volume"
    assert _kind(Item("d", image=str(tmp_path / "one.dcm"))) == "dicom"
