"""The volume viewer: planes, slice scroll (wheel, keys, slider), window presets, the value under
the cursor, the physical aspect, display tags without patient identifiers, and its place in the
multi-modality viewer (a page of its own, preloaded and flipped like the others)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QKeySequence, QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QMainWindow

from mmrl_desktop.core.data.loaders import apply_window
from mmrl_desktop.core.data.volumes import Volume, read_volume
from mmrl_desktop.gui.viewers.multi_view import MultiView
from mmrl_desktop.gui.viewers.volume_overlays import WheelSteps, reads_whole, volume_tags_text
from mmrl_desktop.gui.viewers.volume_view import VolumeView

SHAPE = (20, 16, 12)  # slices, rows, cols
SPACING = (3.0, 0.5, 0.5)  # mm: thick slices, fine pixels
MARK = (7, 5, 3)  # a voxel (k, j, i) with a value found nowhere else
MARK_HU = 1976.0


def ct_volume() -> Volume:
    """A CT volume in LPS: i along +x, j along +y, k along +z (the usual axial series), so the
    axial plane shows voxel rows and columns as stored. HU = stored − 1024."""
    k, j, i = np.indices(SHAPE)
    stored = (1024 - 500 + 10 * k + j).astype(np.int16)
    stored[MARK] = int(MARK_HU) + 1024
    affine = np.array(
        [[0, 0, SPACING[2], 0], [0, SPACING[1], 0, 0], [SPACING[0], 0, 0, 0], [0, 0, 0, 1.0]]
    )
    tags = {"modality": "CT", "body_part": "CHEST", "units": "HU"}
    return Volume(stored, SPACING, affine, 1.0, -1024.0, (40.0, 400.0), tags, "synthetic")


@pytest.fixture(autouse=True)
def _no_read_ahead_yet(monkeypatch):
    monkeypatch.setattr(VolumeView, "cross_planes_used", False)  # as a fresh app


@pytest.fixture
def view(show_widget):
    v = show_widget(VolumeView(), 800, 600)
    v.set_volume(ct_volume())
    return v


def _send_mouse_move(view: VolumeView, pos: QPoint) -> None:
    vp = view.graphics.viewport()
    ev = QMouseEvent(
        QEvent.MouseMove,
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        Qt.NoButton,
        Qt.NoButton,
        Qt.NoModifier,
    )
    QApplication.sendEvent(vp, ev)


def _wheel(view: VolumeView, delta: int, mods=Qt.NoModifier) -> None:
    vp = view.graphics.viewport()
    pos = QPointF(vp.width() / 2, vp.height() / 2)
    ev = QWheelEvent(
        pos,
        QPointF(vp.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, delta),
        Qt.NoButton,
        mods,
        Qt.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, ev)


def switch(qtbot, view: VolumeView, plane: str) -> None:
    """``set_plane``, then wait for a whole read (a lazy volume's plane across its slices)."""
    view.set_plane(plane)
    qtbot.waitUntil(lambda: view.plane() == plane and view.reading() is None, timeout=10000)


def _screen_pos(view: VolumeView, row: float, col: float) -> QPoint:
    """Where the centre of displayed pixel (row, col) is on the view's viewport."""
    scene = view.image_item.mapToScene(QPointF(col + 0.5, row + 0.5))
    return view.graphics.mapFromScene(scene)


# ---------------------------------------------------------------------- planes
def test_opens_at_the_middle_axial_slice_with_its_slider(view):
    assert view.plane() == "axial" and view.plane_buttons["axial"].isChecked()
    assert (view.slice_index(), view.slice_count()) == (10, 20)
    assert view.slice_label.text() == "slice 11 / 20"
    assert (view.slider.minimum(), view.slider.maximum(), view.slider.value()) == (0, 19, 10)
    assert view.image_item.image.shape == SHAPE[1:]


def test_plane_buttons_switch_planes_at_the_same_depth(qtbot, view):
    with qtbot.waitSignal(view.planeChanged) as sig:
        view.plane_buttons["coronal"].click()
    assert sig.args == ["coronal"] and view.plane_buttons["coronal"].isChecked()
    assert not view.plane_buttons["axial"].isChecked()
    assert view.slice_count() == SHAPE[1] and view.slice_index() == SHAPE[1] // 2
    assert view.image_item.image.shape == (SHAPE[0], SHAPE[2])  # slices × columns
    assert view.slice_label.text() == f"slice {SHAPE[1] // 2 + 1} / {SHAPE[1]}"
    view.plane_buttons["sagittal"].click()
    assert view.plane() == "sagittal" and view.slice_count() == SHAPE[2]
    assert view.image_item.image.shape == (SHAPE[0], SHAPE[1])
    view.graphics.setFocus()
    qtbot.keyClick(view.graphics, Qt.Key_1, Qt.ControlModifier)
    assert view.plane() == "axial" and view.slice_count() == SHAPE[0]


# ---------------------------------------------------------------------- scrolling
def test_wheel_scrolls_slices_and_ctrl_wheel_zooms(view):
    _wheel(view, -120)  # down: the next slice
    assert view.slice_index() == 11 and view.slice_label.text() == "slice 12 / 20"
    assert view.slider.value() == 11
    _wheel(view, 240)  # up two notches
    assert view.slice_index() == 9
    _wheel(view, -60)  # half a notch (a trackpad) waits for the other half
    assert view.slice_index() == 9
    _wheel(view, -60)
    assert view.slice_index() == 10
    assert view.graphics.hasFocus()  # a wheel turn over the image gives it the keys
    width0 = np.diff(view.view_box.viewRange()[0])[0]
    _wheel(view, 120, Qt.ControlModifier)
    assert view.slice_index() == 10
    assert np.diff(view.view_box.viewRange()[0])[0] < width0  # zoomed in, same slice


def test_keys_scroll_slices(qtbot, view):
    view.graphics.setFocus()
    for key, expected in (
        (Qt.Key_Down, 11),
        (Qt.Key_Up, 10),
        (Qt.Key_PageDown, 19),  # ten further, stopped at the last slice
        (Qt.Key_PageUp, 9),
        (Qt.Key_Home, 0),
        (Qt.Key_Up, 0),
        (Qt.Key_End, 19),
    ):
        qtbot.keyClick(view.graphics, key)
        assert view.slice_index() == expected, key
    assert view.slice_label.text() == "slice 20 / 20"


def test_slider_moves_the_slice_and_repaints_it(qtbot, view):
    with qtbot.waitSignal(view.sliceChanged) as sig:
        view.slider.setValue(3)
    assert sig.args == [3, 20] and view.slice_label.text() == "slice 4 / 20"
    expected = apply_window(view.volume().plane_slice("axial", 3), 40.0, 400.0)
    np.testing.assert_array_equal(view.image_item.image, expected)


def test_answer_keys_stay_the_windows_when_the_image_has_focus(qtbot):
    """←/→, A, X and Space answer in the main window: the viewer must not take them."""
    win = QMainWindow()
    qtbot.addWidget(win)
    hits = []
    for keys in (["Right", "A"], ["Left", "X"], ["Space"], ["1"]):
        act = QAction(keys[0], win)
        act.setShortcuts([QKeySequence(k) for k in keys])
        act.setShortcutContext(Qt.WindowShortcut)
        act.triggered.connect(lambda _=False, k=keys[0]: hits.append(k))
        win.addAction(act)
    v = VolumeView()
    v.set_volume(ct_volume())
    win.setCentralWidget(v)
    win.resize(800, 600)
    win.show()
    win.activateWindow()
    qtbot.waitActive(win)
    v.graphics.setFocus()
    qtbot.waitUntil(v.graphics.hasFocus)
    for key in (Qt.Key_Right, Qt.Key_A, Qt.Key_Left, Qt.Key_X, Qt.Key_Space, Qt.Key_1):
        qtbot.keyClick(v.graphics, key)
    assert hits == ["Right", "Right", "Left", "Left", "Space", "1"]
    assert v.slice_index() == 10 and v.plane() == "axial"


# ---------------------------------------------------------------------- window, value, aspect
def test_presets_change_the_image(qtbot, view):
    assert view.preset_names() == ["file", "lung", "bone", "soft tissue", "brain"]
    assert view.preset_combo.currentText() == "file"
    before = view.image_item.image.copy()
    with qtbot.waitSignal(view.presetApplied) as sig:
        view.preset_combo.activated.emit(view.preset_combo.findText("lung"))
    assert sig.args == ["lung"] and view.window() == (-600.0, 1500.0)
    hu = view.volume().plane_slice("axial", 10)
    np.testing.assert_array_equal(view.image_item.image, apply_window(hu, -600.0, 1500.0))
    assert not np.array_equal(view.image_item.image, before)
    view.step(1)  # the window stays while scrolling
    hu = view.volume().plane_slice("axial", 11)
    np.testing.assert_array_equal(view.image_item.image, apply_window(hu, -600.0, 1500.0))
    assert "W 1500  L -600  HU" in view.window_label.text()
    view.set_window(10.0, 20.0)
    assert view.preset_combo.currentText() == "custom"
    view.reset()
    assert view.window() == (40.0, 400.0) and view.preset_combo.currentText() == "file"


def test_value_under_the_cursor_names_the_voxel_in_hu(qtbot, view):
    k, j, i = MARK
    view.set_slice(k)
    with qtbot.waitSignal(view.voxelHovered) as sig:
        _send_mouse_move(view, _screen_pos(view, j, i))
    assert sig.args == [k, j, i]
    text = view.readout_label.text()
    assert view.readout_label.isVisible()
    assert f"k {k}  j {j}  i {i}" in text and "1976 HU" in text
    view.step(1)  # the readout follows the slice under a still cursor
    assert f"k {k + 1}  j {j}  i {i}" in view.readout_label.text()
    assert f"{-500 + 10 * (k + 1) + j} HU" in view.readout_label.text()
    qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms
    with qtbot.waitSignal(view.voxelHovered) as sig:
        _send_mouse_move(view, QPoint(2, 2))  # outside the image
    assert sig.args == [-1, -1, -1] and not view.readout_label.isVisible()


def test_coronal_and_sagittal_keep_the_physical_aspect(view):
    for plane, cols in (("coronal", SHAPE[2]), ("sagittal", SHAPE[1])):
        view.set_plane(plane)
        top_left = view.graphics.mapFromScene(view.image_item.mapToScene(QPointF(0, 0)))
        rows = SHAPE[0]
        corner = view.image_item.mapToScene(QPointF(cols, rows))
        bottom_right = view.graphics.mapFromScene(corner)
        on_screen = (bottom_right.y() - top_left.y()) / (bottom_right.x() - top_left.x())
        physical = rows * SPACING[0] / (cols * SPACING[1])  # 60 mm high, 6 or 8 mm wide
        assert on_screen == pytest.approx(physical, rel=0.05), plane
    view.set_plane("axial")
    assert view.image_item.mapRectToParent(view.image_item.boundingRect()).height() == SHAPE[1]


# ---------------------------------------------------------------------- tags
def _write_series(folder, n: int = 3) -> None:
    """A tiny CT series of the chest, with a patient's name, id and birth date in every file."""
    import pydicom

    from mmrl_desktop.core.data.volumes.synthetic import write_series

    stored = np.stack([np.full((8, 8), 1000 + z, np.int16) for z in range(n)])
    for path in write_series(folder, stored, spacing=(2.5, 0.7, 0.7), tags={"body_part": "CHEST"}):
        ds = pydicom.dcmread(path)
        ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "PID12345", "19700101"
        ds.save_as(path, enforce_file_format=True)


def test_display_tags_never_show_patient_identifiers(qtbot, tmp_path, show_widget):
    _write_series(tmp_path)
    v = show_widget(VolumeView(), 800, 600)
    v.set_volume(read_volume(tmp_path))
    shown = v.tags_label.text()
    assert "CT" in shown and "CHEST" in shown and "8 × 8 × 3" in shown
    for plane in ("axial", "coronal", "sagittal"):
        switch(qtbot, v, plane)
        text = " ".join(w.text() for w in v.findChildren(type(v.tags_label)))
        assert not any(s in text for s in ("Doe", "Jane", "PID12345", "1970")), plane
    # a reader that let one through is still not shown
    vol = ct_volume()
    vol.tags.update({"patient_name": "Doe^Jane", "PatientID": "PID12345", "series_uid": "1.2.3"})
    text = volume_tags_text(vol, "axial")
    assert "Doe" not in text and "PID12345" not in text and "1.2.3" not in text
    assert "CHEST" in text


# ---------------------------------------------------------------------- pieces
def test_wheel_steps_count_notches_and_partial_deltas():
    w = WheelSteps()
    assert [w.steps(d) for d in (-120, 120, -40, -40, -40, 360)] == [1, -1, 0, 0, 1, -3]


def test_clear_disables_the_controls(view):
    view.set_volume(None)
    assert view.volume() is None and not view.slider.isEnabled()
    assert view.slice_label.text() == "slice – / –" and not view.tags_label.isVisible()
    view.step(1)  # nothing to scroll: nothing happens
    assert view.value_text(0, 0) is None


# ---------------------------------------------------------------------- in the multi-view
def test_multi_view_shows_a_volume_on_its_own_page_and_flips_to_a_preloaded_one(qtbot):
    m = MultiView()
    qtbot.addWidget(m)
    m.resize(1000, 700)
    m.show()
    with qtbot.waitSignal(m.itemShown) as sig:
        m.show_item(None, None, None, key="a", volume=ct_volume())
    assert sig.args == [("volume",)] and m.modalities() == ("volume",)
    first = m.volume_view
    assert first.isVisible() and first.slice_count() == SHAPE[0]
    m.preload("b", None, None, "a report", volume=ct_volume())
    hidden = next(p for p in m._pages[("volume", "text")] if p.key == "b")
    assert m.preloaded("b") and hidden.volume_view.image_item.image is not None
    assert hidden.text_view.toPlainText() == "a report"
    m.show_item(None, None, "a report", key="b", volume=ct_volume())  # a flip, nothing refilled
    assert m.current_page() is hidden and m.volume_view is hidden.volume_view
    assert m.modalities() == ("volume", "text")


def test_a_shown_volume_takes_the_slice_keys_but_not_a_text_boxs_focus(qtbot):
    """After an answer the next volume is on a new page: ↓ scrolls it without a click, and the
    window's answer keys still answer; a text box being typed in keeps its focus."""
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

    win = QMainWindow()
    qtbot.addWidget(win)
    hits = []
    act = QAction("right", win, shortcut=QKeySequence("A"), shortcutContext=Qt.WindowShortcut)
    act.triggered.connect(lambda: hits.append(1))
    win.addAction(act)
    box, m = QLineEdit(), MultiView()
    box.setFocusPolicy(Qt.ClickFocus)  # as the panel's boxes: never the window's first focus
    central = QWidget()
    lay = QVBoxLayout(central)
    lay.addWidget(box)
    lay.addWidget(m, 1)
    win.setCentralWidget(central)
    win.resize(1000, 700)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win)
    m.show_item(None, None, None, key="a", volume=ct_volume())
    assert win.focusWidget() is m.volume_view.graphics  # the window's focus, active or not
    m.show_item(None, None, None, key="b", volume=ct_volume())  # the next item
    assert win.focusWidget() is m.volume_view.graphics
    qtbot.keyClick(win.focusWidget(), Qt.Key_Down)
    assert m.volume_view.slice_index() == SHAPE[0] // 2 + 1
    qtbot.keyClick(win.focusWidget(), Qt.Key_A)
    assert hits == [1]
    box.setFocus()
    qtbot.waitUntil(lambda: win.focusWidget() is box)
    m.show_item(None, None, "text", key="c", volume=ct_volume())
    assert win.focusWidget() is box


# ---------------------------------------------------------------------- in the main window
@pytest.fixture
def volume_project(tmp_path):
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import Project, Task
    from mmrl_desktop.core.data.volumes.items import volume_record
    from mmrl_desktop.core.data.volumes.synthetic import write_series

    p = Project.create(tmp_path / "proj", tasks=[Task("finding", ["nodule", "normal"])])
    items = []
    for n in range(3):
        folder = tmp_path / "src" / f"case{n}"
        stored = np.full((6 + n, 8, 8), 1024 + 10 * n, np.int16)
        files = write_series(folder, stored, spacing=(2.5, 0.7, 0.7))
        record = volume_record("dicom-series", read_volume(folder), str(folder), files=files)
        info = {"source_root": str(folder), "volume": record, "modality": "CT"}
        items.append(Item(f"case{n}", image=files[0], info=info, labels={"finding": "normal"}))
    with p.open_store() as s:
        s.add_items(items)
    return p


def test_the_window_shows_each_volume_case_and_preloads_the_next(qtbot, volume_project):
    from mmrl_desktop.gui.main_window import MainWindow

    w = MainWindow(volume_project, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    try:
        lab, viewer = w.labeling, w.viewer
        first = lab.session.current_item().item_id
        assert viewer.modalities() == ("volume",)
        n = viewer.volume_view.slice_count()
        assert viewer.volume_view.slice_label.text() == f"slice {n // 2 + 1} / {n}"
        qtbot.waitUntil(lambda: lab._next_id is not None and viewer.preloaded(lab._next_id))
        nxt = lab._next_id
        lab.thumb_up()
        assert lab.session.current_item().item_id == nxt != first
        assert viewer.current_page().key == nxt  # a flip to the preloaded page
        vol = viewer.volume_view.volume()
        assert viewer.volume_view.slice_count() == vol.n_slices("axial")
        qtbot.waitUntil(lambda: lab._settled and not w.after_paint._todo)  # its look-ahead ran
    finally:
        w.shutdown()


def test_hu_values_without_a_modality_get_the_ct_presets(show_widget):
    """NIfTI has no modality tag: a volume whose air reads about −1000 is CT; MR-like is not."""
    v = show_widget(VolumeView(), 800, 600)
    ct = ct_volume()
    ct.tags, ct.window = {"format": "NIfTI"}, None
    ct.voxels[:, :2, :] = 0  # air rows: stored 0 = −1024 HU
    ct.voxels[:, 12:, :] = 1064  # soft tissue: 40 HU
    v.set_volume(ct)
    assert "lung" in v.preset_names() and v.preset_combo.findText("bone") >= 0
    assert v.window() == (40.0, 400.0) and v.preset_combo.currentText() == "soft tissue"
    v.set_window(-600, 1500)
    v.reset()
    assert v.window() == (40.0, 400.0)  # the window it opened with
    mr = Volume(np.arange(SHAPE[0] * 192).reshape(SHAPE[0], 16, 12) % 900, SPACING, ct.affine)
    v.set_volume(mr)
    assert "lung" not in v.preset_names()


def test_a_plane_across_a_lazy_files_slices_is_read_into_memory_once(qtbot, tmp_path, show_widget):
    """NIfTI's proxy reads only what is sliced: an axial slice is one block of the file, a
    sagittal one touches all of it, so that plane is read from the volume loaded once."""
    from mmrl_desktop.core.data.volumes.synthetic import write_nifti

    k, j, i = np.indices(SHAPE)
    hu = (10 * k + j - 500).astype(np.int16)
    path = write_nifti(tmp_path / "ct.nii", hu, spacing=SPACING)
    v = show_widget(VolumeView(), 800, 600)
    v.set_volume(read_volume(path))
    assert not isinstance(v.volume().voxels, np.ndarray)  # axial: still lazy
    lazy = v.volume()
    switch(qtbot, v, "sagittal")
    assert isinstance(v.volume().voxels, np.ndarray)
    np.testing.assert_array_equal(
        v.volume().plane_slice("sagittal", 5), lazy.plane_slice("sagittal", 5)
    )
    value, voxel = v.volume().value_at("sagittal", 5, 3, 4)
    assert value == 10 * voxel[0] + voxel[1] - 500


def test_a_series_read_whole_for_a_plane_is_let_go_with_the_case(qtbot, tmp_path, show_widget):
    """The prefetcher keeps up to 16 cases: a series read whole for its coronal plane must not
    stay in memory with them once the viewer shows another case."""
    import gc
    import weakref

    _write_series(tmp_path)
    v = show_widget(VolumeView(), 800, 600)
    kept = read_volume(tmp_path)  # what the prefetcher holds
    assert reads_whole(kept, "coronal") and not reads_whole(kept, "axial")
    assert not reads_whole(ct_volume(), "sagittal")  # already in memory
    v.set_volume(kept)
    switch(qtbot, v, "coronal")
    whole = weakref.ref(v.volume().voxels)
    assert whole() is not None and whole().shape == (3, 8, 8)
    v.set_volume(ct_volume())
    gc.collect()
    assert whole() is None and kept.plane_slice("coronal", 4).shape == (3, 8)


def _drag(qtbot, view: VolumeView, start: QPoint, end: QPoint, steps: int = 6) -> None:
    vp = view.graphics.viewport()

    def send(kind, pos, button, buttons):
        ev = QMouseEvent(
            kind, QPointF(pos), QPointF(vp.mapToGlobal(pos)), button, buttons, Qt.NoModifier
        )
        QApplication.sendEvent(vp, ev)

    send(QEvent.MouseButtonPress, start, Qt.RightButton, Qt.RightButton)
    for n in range(1, steps + 1):
        qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms
        send(QEvent.MouseMove, start + (end - start) * (n / steps), Qt.NoButton, Qt.RightButton)
    send(QEvent.MouseButtonRelease, end, Qt.RightButton, Qt.NoButton)


def test_right_drag_is_window_level_and_the_edges_name_the_patients_sides(qtbot, view):
    c0, w0 = view.window()
    centre = QPoint(400, 300)
    with qtbot.waitSignal(view.windowChanged, timeout=2000):
        _drag(qtbot, view, centre, centre + QPoint(100, 0))
    c1, w1 = view.window()
    assert w1 > w0 and c1 == pytest.approx(c0)  # right: wider, same centre
    _drag(qtbot, view, centre, centre + QPoint(0, 60))
    assert view.window()[0] > c1 and view.preset_combo.currentText() == "custom"
    sides = {"axial": "APRL", "coronal": "SIRL", "sagittal": "SIAP"}
    for plane, expected in sides.items():
        view.set_plane(plane)
        assert "".join(lab.text() for lab in view.edge_labels) == expected
    assert all(lab.isVisible() for lab in view.edge_labels)
