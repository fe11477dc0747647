"""Viewer widgets: image (window/level, presets, zoom, readout), audio (real and null outputs,
cursor following playback), text, and the multi-modality container."""

from __future__ import annotations

import types

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QKeySequence, QMouseEvent
from PySide6.QtWidgets import QApplication, QMainWindow

from mmrl_desktop.core.data.loaders import ImageData, apply_window
from mmrl_desktop.gui.viewers import audio_output, audio_view
from mmrl_desktop.gui.viewers.audio_view import (
    NO_DEVICE,
    NO_PORTAUDIO,
    NO_SOUNDDEVICE,
    AudioOutput,
    AudioView,
    NullAudioOutput,
    envelope,
    make_audio_output,
    spectrogram,
)
from mmrl_desktop.gui.viewers.image_view import ImageView
from mmrl_desktop.gui.viewers.multi_view import MultiView
from mmrl_desktop.gui.viewers.text_view import TextView

PRESETS = {
    "file": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "bone": (400.0, 1800.0),
    "soft tissue": (40.0, 400.0),
    "brain": (40.0, 80.0),
}


def on_screen(widget) -> bool:
    """Shown and not covered: the viewer pages are stacked, the one on top covers the others."""
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def ct_image(h: int = 64, w: int = 80) -> ImageData:
    """A synthetic CT slice in HU: a ramp from −1000 to +1000 across the columns."""
    ramp = np.linspace(-1000, 1000, w, dtype=np.float32).round()
    pixels = np.repeat(ramp[None, :], h, axis=0)
    pixels[10, 20] = 123.0
    c, w_ = PRESETS["file"]
    info = {"modality": "CT", "body_part": "CHEST", "photometric": "MONOCHROME2"}
    return ImageData(pixels, apply_window(pixels, c, w_), (c, w_), dict(PRESETS), info)


def rgb_image() -> ImageData:
    px = np.zeros((20, 30, 3), np.float32)
    px[..., 0] = 200
    px[5, 6] = (1, 2, 3)
    return ImageData(px, px.astype(np.uint8))


# ---------------------------------------------------------------------- mouse helpers
def _send(widget, kind, pos, button, buttons):
    ev = QMouseEvent(
        kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, Qt.NoModifier
    )
    QApplication.sendEvent(widget, ev)


def drag(qtbot, view, start: QPoint, end: QPoint, button=Qt.RightButton, steps: int = 6):
    vp = view.graphics.viewport()
    _send(vp, QEvent.MouseButtonPress, start, button, button)
    for i in range(1, steps + 1):
        qtbot.wait(15)  # pyqtgraph drops mouse moves closer than 10 ms
        p = start + (end - start) * (i / steps)
        _send(vp, QEvent.MouseMove, p, Qt.NoButton, button)
    _send(vp, QEvent.MouseButtonRelease, end, button, Qt.NoButton)


def viewport_pos(view: ImageView, x: float, y: float) -> QPoint:
    scene = view.view_box.mapViewToScene(QPointF(x, y))
    return view.graphics.mapFromScene(scene)


@pytest.fixture
def image_view(show_widget):
    v = show_widget(ImageView(), 640, 480)
    v.set_image(ct_image())
    return v


# ---------------------------------------------------------------------- image
def test_set_image_uses_display_as_is(image_view):
    d = image_view.image()
    assert np.shares_memory(image_view.image_item.image, d.display)  # no copy per show
    assert tuple(image_view.image_item.getLevels()) == (0, 255)
    assert image_view.window() == PRESETS["file"]
    assert image_view.preset_combo.currentText() == "file"
    assert image_view.tags_label.isVisible() and "CHEST" in image_view.tags_label.text()


def test_right_drag_changes_window(qtbot, image_view):
    c0, w0 = image_view.window()
    centre = QPoint(320, 260)
    with qtbot.waitSignal(image_view.windowChanged, timeout=2000):
        drag(qtbot, image_view, centre, centre + QPoint(120, 0))
    c1, w1 = image_view.window()
    assert w1 > w0 and c1 == pytest.approx(c0)  # horizontal: width only
    drag(qtbot, image_view, centre, centre + QPoint(0, 80))
    c2, w2 = image_view.window()
    assert c2 > c1 and w2 == pytest.approx(w1)  # vertical (down): centre up
    assert image_view.preset_combo.currentText() == "custom"
    expected = apply_window(image_view.image().pixels, c2, w2)
    np.testing.assert_array_equal(image_view.image_item.image, expected)


def test_left_drag_pans_and_does_not_change_window(qtbot, image_view):
    win = image_view.window()
    image_view.zoom(3.0)
    before = image_view.view_box.viewRange()[0]
    drag(qtbot, image_view, QPoint(320, 260), QPoint(200, 260), button=Qt.LeftButton)
    after = image_view.view_box.viewRange()[0]
    assert after[0] > before[0]  # dragged left → the view moved right over the image
    assert image_view.window() == win


def test_presets_apply(qtbot, image_view):
    with qtbot.waitSignal(image_view.presetApplied) as sig:
        image_view.apply_preset("lung")
    assert sig.args == ["lung"]
    assert image_view.window() == PRESETS["lung"]
    assert image_view.preset_combo.currentText() == "lung"
    expected = apply_window(image_view.image().pixels, *PRESETS["lung"])
    np.testing.assert_array_equal(image_view.image_item.image, expected)
    # through the combo box, as a user would
    i = image_view.preset_combo.findText("bone")
    image_view.preset_combo.activated.emit(i)
    assert image_view.window() == PRESETS["bone"]
    image_view.apply_preset("no such preset")
    assert image_view.window() == PRESETS["bone"]
    assert "brain" in image_view.preset_names()


def test_reset_restores_file_window_and_display(image_view):
    image_view.set_window(100, 50)
    image_view.zoom(4)
    image_view.reset()
    assert image_view.window() == PRESETS["file"]
    assert np.shares_memory(image_view.image_item.image, image_view.image().display)


def test_zoom_changes_view_range(qtbot, image_view):
    width0 = np.diff(image_view.view_box.viewRange()[0])[0]
    image_view.zoom_in()
    width1 = np.diff(image_view.view_box.viewRange()[0])[0]
    assert width1 < width0 * 0.9
    qtbot.keyClick(image_view, Qt.Key_Minus)
    qtbot.keyClick(image_view, Qt.Key_Minus)
    width2 = np.diff(image_view.view_box.viewRange()[0])[0]
    assert width2 > width1
    image_view.fit()
    (x0, x1), (y0, y1) = image_view.view_box.viewRange()
    assert x0 <= 0.5 and x1 >= 79.5 and y0 <= 0.5 and y1 >= 63.5  # the whole image is visible


def test_pixel_readout_shows_value_under_cursor(qtbot, image_view):
    pos = viewport_pos(image_view, 20.5, 10.5)
    with qtbot.waitSignal(image_view.pixelHovered) as sig:
        _send(image_view.graphics.viewport(), QEvent.MouseMove, pos, Qt.NoButton, Qt.NoButton)
    assert sig.args == [20, 10]
    text = image_view.readout_label.text()
    assert image_view.readout_label.isVisible()
    assert "x   20" in text and "y   10" in text and "123 HU" in text
    assert image_view.pixel_at(-1, 0) is None


@pytest.mark.parametrize("integral", [True, False])
def test_window_render_matches_core_apply_window(image_view, integral):
    d = ct_image()
    if not integral:
        d.pixels = d.pixels + np.float32(0.25)
    image_view.set_image(d)
    image_view.set_window(-200, 700)
    assert (image_view._index is not None) == integral  # LUT path for integer-valued pixels
    np.testing.assert_array_equal(image_view.image_item.image, apply_window(d.pixels, -200, 700))


def test_rgb_image_and_clear(image_view):
    image_view.set_image(rgb_image())
    assert not image_view.preset_combo.isVisible()
    assert "RGB 1 2 3" in image_view.pixel_at(6, 5)
    image_view.set_window(100, 100)
    assert image_view.image_item.image.shape == (20, 30, 3)
    image_view.set_image(None)
    assert image_view.image() is None and not image_view.fit_button.isEnabled()


# ---------------------------------------------------------------------- audio outputs
class FakeStream:
    instances: list[FakeStream] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[str] = []
        FakeStream.instances.append(self)

    def start(self):
        self.calls.append("start")

    def stop(self):
        self.calls.append("stop")

    def close(self):
        self.calls.append("close")

    def block(self, frames: int) -> np.ndarray:
        """What PortAudio's thread does: ask the callback for the next block."""
        out = np.full((frames, 1), np.nan, np.float32)
        self.kwargs["callback"](out, frames, None, None)
        return out


@pytest.fixture
def fake_sd(monkeypatch):
    """The real sounddevice module (when PortAudio loads) with its device functions replaced by
    recording fakes; a stand-in module where PortAudio is missing."""
    FakeStream.instances = []
    try:
        import sounddevice as sd
    except OSError:
        sd = types.SimpleNamespace(CallbackStop=type("CallbackStop", (Exception,), {}))
    queried = []

    def query_devices(device=None, kind=None):
        queried.append(kind)
        return {"name": "fake speakers", "max_output_channels": 2}

    monkeypatch.setattr(sd, "query_devices", query_devices, raising=False)
    monkeypatch.setattr(sd, "OutputStream", FakeStream, raising=False)
    monkeypatch.setattr(audio_output, "_import_sounddevice", lambda: sd)
    sd.queried = queried
    return sd


def test_make_audio_output_real_with_device(fake_sd):
    out = make_audio_output()
    assert type(out) is AudioOutput and out.available
    assert fake_sd.queried == ["output"]


@pytest.mark.parametrize(
    "error, reason",
    [
        (OSError("PortAudio library not found"), NO_PORTAUDIO),
        (ImportError("No module named sounddevice"), NO_SOUNDDEVICE),
    ],
)
def test_make_audio_output_null_when_import_fails(monkeypatch, error, reason):
    def fail():
        raise error

    monkeypatch.setattr(audio_output, "_import_sounddevice", fail)
    out = make_audio_output()
    assert isinstance(out, NullAudioOutput) and not out.available and out.reason == reason


def test_make_audio_output_null_without_output_device(monkeypatch, fake_sd):
    def no_device(device=None, kind=None):
        raise RuntimeError("Error querying device -1")

    monkeypatch.setattr(fake_sd, "query_devices", no_device)
    out = make_audio_output()
    assert isinstance(out, NullAudioOutput) and out.reason == NO_DEVICE


def test_make_audio_output_in_this_environment_never_raises():
    out = make_audio_output()  # real PortAudio here: with or without a sound card
    assert out.available or out.reason.startswith("Playback is off")


def tone(seconds=1.0, rate=8000, hz=440.0):
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), rate


@pytest.fixture
def audio(show_widget, fake_sd):
    v = show_widget(AudioView(output_factory=make_audio_output), 800, 500)
    v.set_audio(*tone())
    return v


def test_audio_plays_and_cursor_follows(qtbot, audio, fake_sd):
    samples, _ = tone()
    with qtbot.waitSignal(audio.playbackStateChanged) as sig:
        qtbot.keyClick(audio, Qt.Key_P)
    assert sig.args == [True] and audio.is_playing()
    (stream,) = FakeStream.instances
    assert stream.kwargs["samplerate"] == 8000 and stream.kwargs["channels"] == 1
    assert stream.calls == ["start"]
    block = stream.block(2000)
    np.testing.assert_array_equal(block[:, 0], samples[:2000])
    stream.block(2000)
    qtbot.waitUntil(lambda: audio.cursor.value() == pytest.approx(0.5), timeout=1000)
    assert audio.spec_cursor.value() == pytest.approx(0.5)
    assert "0:00.5" in audio.time_label.text()
    assert audio.play_button.text().endswith("Pause")
    # the end of the sound: the callback stops the stream, PortAudio calls finished_callback
    with pytest.raises(fake_sd.CallbackStop):
        stream.block(6000)
    stream.kwargs["finished_callback"]()
    with qtbot.waitSignal(audio.playbackStateChanged, timeout=1000) as sig:
        pass
    assert sig.args == [False] and audio.play_button.text().endswith("Play")
    assert audio.cursor.value() == pytest.approx(1.0)


def test_audio_pause_resume_and_seek(qtbot, audio):
    audio.play()
    FakeStream.instances[0].block(1000)
    audio.toggle_play()  # pause keeps the position
    assert not audio.is_playing()
    assert FakeStream.instances[0].calls == ["start", "stop", "close"]
    assert audio.position() == pytest.approx(1000 / 8000)
    with qtbot.waitSignal(audio.seeked) as sig:
        audio.seek(0.75)
    assert sig.args == [0.75] and audio.cursor.value() == pytest.approx(0.75)
    audio.toggle_play()  # resumes from the seek position on a new stream
    block = FakeStream.instances[1].block(100)
    np.testing.assert_array_equal(block[:, 0], tone()[0][6000:6100])
    audio.set_audio(*tone(0.5))  # a new item stops playback
    assert not audio.is_playing() and audio.position() == 0.0


def test_audio_play_failure_turns_playback_off(qtbot, audio, monkeypatch):
    def refuse(self):
        raise RuntimeError("device unavailable")

    monkeypatch.setattr(FakeStream, "start", refuse)
    audio.play()
    assert not audio.is_playing()
    assert "device unavailable" in audio.playback_message()
    assert not audio.play_button.isEnabled()


def test_audio_null_output_shows_sound_and_reason(qtbot):
    v = AudioView(output=NullAudioOutput(NO_DEVICE))
    qtbot.addWidget(v)
    v.show()
    v.set_audio(*tone())
    assert v.message_label.isVisible() and v.playback_message() == NO_DEVICE
    assert not v.play_button.isEnabled()
    v.toggle_play()  # no exception, nothing plays
    assert not v.is_playing()
    x, y = v.wave_curve.getData()
    assert len(x) == len(y) > 0 and v.spec_image.image is not None
    v.seek(0.25)
    assert v.cursor.value() == pytest.approx(0.25)
    v.set_audio(None)
    assert not v.message_label.isVisible()


def test_envelope_keeps_extremes_of_long_sounds():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 0.1, 10 * 16000).astype(np.float32)
    x[12345], x[99999] = 0.99, -0.98
    t, y = envelope(x, 16000)
    assert len(y) <= audio_view.MAX_WAVE_POINTS and len(t) == len(y)
    assert y.max() == pytest.approx(0.99) and y.min() == pytest.approx(-0.98)
    assert np.all(np.diff(t) >= 0) and t[-1] <= 10.0
    short = np.zeros(100, np.float32)
    assert len(envelope(short, 16000)[1]) == 100


def test_spectrogram_peak_at_the_tone():
    samples, rate = tone(2.0, 16000, 1000.0)
    db, top = spectrogram(samples, rate)
    bins, frames = db.shape
    assert bins == 512 // 2 + 1 and frames <= audio_view.MAX_FRAMES
    peak_hz = np.argmax(db.mean(axis=1)) * (rate / 2) / (bins - 1)
    assert abs(peak_hz - 1000) < 50
    assert db.min() >= top - audio_view.DB_RANGE
    long_db, _ = spectrogram(np.zeros(16000 * 120, np.float32), 16000)
    assert long_db.shape[1] <= audio_view.MAX_FRAMES + 1


# ---------------------------------------------------------------------- text
def test_text_view_readable_and_selectable(qtbot):
    v = TextView()
    qtbot.addWidget(v)
    v.show()
    text = "Findings: a 9 mm nodule in the right upper lobe. " * 40
    v.set_text(text)
    assert v.isReadOnly() and v.text() == text
    assert v.textInteractionFlags() & Qt.TextSelectableByMouse
    assert v.lineWrapMode() == v.LineWrapMode.WidgetWidth
    assert v.point_size() >= 12
    v.selectAll()
    assert v.textCursor().selectedText() == text
    qtbot.keyClick(v, Qt.Key_Plus, Qt.ControlModifier)
    assert v.point_size() == 14
    v.set_text(None)
    assert v.toPlainText() == ""


def test_window_shortcuts_still_fire_when_the_text_has_focus(qtbot):
    """Arrow keys are 👍/👎 in the main window: the read-only text must not swallow them."""
    win = QMainWindow()
    qtbot.addWidget(win)
    hits = []
    act = QAction("right", win)
    act.setShortcuts([QKeySequence("Right"), QKeySequence("A")])
    act.setShortcutContext(Qt.WindowShortcut)
    act.triggered.connect(lambda: hits.append(1))
    win.addAction(act)
    tv = TextView()
    tv.set_text("some words")
    win.setCentralWidget(tv)
    win.show()
    win.activateWindow()
    qtbot.waitActive(win)
    tv.setFocus()
    qtbot.waitUntil(tv.hasFocus)
    qtbot.keyClick(tv, Qt.Key_Right)
    qtbot.keyClick(tv, Qt.Key_A)
    assert hits == [1, 1]


# ---------------------------------------------------------------------- multi
def test_multi_view_shows_modalities_on_pages_built_once(qtbot, fake_sd):
    m = MultiView()
    qtbot.addWidget(m)
    m.resize(1000, 700)
    m.show()
    with qtbot.waitSignal(m.itemShown) as sig:
        m.show_item(ct_image(), tone(), "a report")
    assert sig.args == [("image", "audio", "text")]
    views = (m.image_view, m.audio_view, m.text_view)
    assert all(v is not None and on_screen(v) for v in views)
    m.show_item(ct_image(), None, None)
    assert on_screen(m.image_view) and m.modalities() == ("image",)
    assert not any(on_screen(v) for v in views)  # the whole multimodal page is covered
    m.show_item(None, tone(), None)
    assert on_screen(m.audio_view) and not on_screen(m.image_view)
    m.toggle_play()
    assert m.audio_view.is_playing()
    m.show_item(None, None, "only text")  # switching item stops the sound
    assert not m.audio_view.is_playing() and m.text_view.toPlainText() == "only text"
    m.toggle_play()  # no sound: nothing happens
    m.show_item(None, None, None)
    assert on_screen(m.placeholder) and m.modalities() == ()
    assert m.current_page() is m.placeholder
    m.show_item(ct_image(), tone(), "again")  # the same page and viewers, not new ones
    assert (m.image_view, m.audio_view, m.text_view) == views
    assert m.text_view.toPlainText() == "again"


class _Events(QObject):
    """Which watched objects received events of these types."""

    def __init__(self, *types):
        super().__init__()
        self.types = types
        self.seen = set()

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() in self.types:
            self.seen.add((obj, event.type()))
        return False


def test_a_flip_raises_the_page_and_covered_pages_are_not_painted(qtbot, show_widget, fake_sd):
    m = show_widget(MultiView(), 900, 600)
    m.show_item(ct_image(), None, None, key="a")
    m.preload("b", ct_image(), None, None)
    covered = next(p for p in m._pages[("image",)] if p.key == "b")
    shown = m.current_page()
    assert covered.isVisible() and covered.visibleRegion().isEmpty()  # under the shown page
    assert covered.geometry() == shown.geometry()  # laid out at the size it will be shown at
    paints = _Events(QEvent.Paint)
    top, under = shown.image_view.graphics.viewport(), covered.image_view.graphics.viewport()
    for w in (top, under):
        w.installEventFilter(paints)
    m.update()
    qtbot.waitUntil(lambda: (top, QEvent.Paint) in paints.seen, timeout=2000)
    assert (under, QEvent.Paint) not in paints.seen
    show_hide = _Events(QEvent.Show, QEvent.Hide)
    for w in (shown, covered):
        w.installEventFilter(show_hide)
    m.show_item(ct_image(), None, None, key="b")  # the flip: a raise, no page shown or hidden
    assert m.current_page() is covered and not covered.visibleRegion().isEmpty()
    assert shown.isVisible() and shown.visibleRegion().isEmpty()
    assert show_hide.seen == set()


def test_multi_view_prepares_pages_ahead_and_shares_one_audio_output(qtbot, fake_sd):
    m = MultiView()
    qtbot.addWidget(m)
    m.prepare([("audio",), ("image", "audio"), ("text",), ()])
    # two pages per combination (the second one for preloading), built one per event-loop turn
    qtbot.waitUntil(lambda: sorted(map(len, m._pages.values())) == [2, 2, 2], timeout=5000)
    pages = [p for ps in m._pages.values() for p in ps]
    outputs = {id(p.audio_view.output) for p in pages if p.audio_view is not None}
    assert len(outputs) == 1


def test_multi_view_preloads_the_next_item_on_a_hidden_page(qtbot, fake_sd):
    m = MultiView()
    qtbot.addWidget(m)
    m.resize(1000, 700)
    m.show()
    m.show_item(None, tone(1.0), None, key="a")
    first = m.audio_view
    m.toggle_play()
    assert first.is_playing()
    nxt = tone(0.5, hz=880.0)
    m.preload("b", None, nxt, None)
    hidden = next(p for p in m._pages[("audio",)] if p.key == "b")
    assert m.preloaded("b") and not on_screen(hidden) and hidden.audio_view is not first
    assert first.is_playing()  # filling the hidden page did not take the shared output
    assert len(hidden.audio_view.wave_curve.getData()[1]) > 0
    # painted once off screen: pyqtgraph's caches are filled before the page is shown
    assert hidden.audio_view.spec_plot.getAxis("bottom").picture is not None
    assert hidden.audio_view.spec_image.qimage is not None
    m.show_item(None, nxt, None, key="b")  # a flip: the preloaded page, nothing refilled
    assert m.audio_view is hidden.audio_view and on_screen(hidden) and not on_screen(first)
    assert m.current_page() is hidden
    assert not first.is_playing() and not m.preloaded("b")
    m.toggle_play()  # the flipped-to page plays its own sound
    block = FakeStream.instances[-1].block(100)
    np.testing.assert_array_equal(block[:, 0], nxt[0][:100])
    m.show_item(None, tone(0.3), None, key="c")  # not preloaded: the shown page is refilled
    assert m.audio_view is hidden.audio_view and m.audio_view.time_label.text().endswith("0:00.3")


def test_window_on_pixels_with_nan_does_not_crash(image_view):
    d = ct_image()
    d.pixels[0, :5] = np.nan
    image_view.set_image(d)
    image_view.set_window(0, 500)
    image_view.set_window(float("nan"), 500)  # ignored
    assert image_view.window() == (0.0, 500.0)
    assert image_view.image_item.image.dtype == np.uint8


def test_monochrome1_stays_inverted_after_window_change(qtbot):
    import numpy as np

    from mmrl_desktop.core.data.loaders import ImageData, apply_window
    from mmrl_desktop.gui.viewers.image_view import ImageView

    pixels = np.arange(64, dtype=np.float32).reshape(8, 8) * 10
    shown = 255 - apply_window(pixels, 300, 600)
    data = ImageData(
        pixels, shown, window=(300, 600), info={"photometric": "MONOCHROME1", "inverted": True}
    )
    view = ImageView()
    qtbot.addWidget(view)
    view.set_image(data)
    view.set_window(300, 600)
    out = view._render(300, 600)
    assert out[0, 0] > out[-1, -1]  # low values stay bright
    assert np.array_equal(out, shown)


# ---------------------------------------------------------------------- queue
def test_queue_keeps_the_current_item_visible_and_pages_instead_of_scrolling_per_click(
    qtbot, tmp_path
):
    """Scrolling the list a row per click repaints it and its scroll bar on every answer; the
    queue jumps a page when the current item would leave the view, and shows it in full."""
    from PySide6.QtCore import QModelIndex

    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import Project, Task
    from mmrl_desktop.core.labelling.session import STATUS_SYMBOL, ItemStatus, LabelingSession
    from mmrl_desktop.gui.queue_panel import STATUS_COLOUR, QueuePanel

    p = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    with p.open_store() as s:
        s.add_items([Item(f"i{k:03d}", text_inline="x", labels={"label": "a"}) for k in range(200)])
    session = LabelingSession(p, p.open_store(), annotator="t")
    panel = QueuePanel()
    qtbot.addWidget(panel)
    panel.set_session(session)
    panel.resize(260, 400)
    panel.show()
    qtbot.waitExposed(panel)
    bar = panel.view.verticalScrollBar()
    values = []
    for _ in range(80):
        item = session.current_item()
        session.answer(+1)
        panel.item_changed(item.item_id)
        panel.select(session.current_item().item_id)
        idx = panel.model.index(session._index[session.current_item().item_id])
        assert panel.view.viewport().rect().contains(panel.view.visualRect(idx))
        values.append(bar.value())
    jumps = sum(1 for a, b in zip(values[:-1], values[1:], strict=True) if a != b)
    rows_per_page = panel.view.viewport().height() // panel.view.sizeHintForRow(0)
    assert 0 < jumps <= 80 // (rows_per_page - 3) + 1  # a page at a time, not a row per click
    # what a row shows: status symbol, id and modalities; colour by status; id for activation
    answered = panel.model.index(session._index[item.item_id])
    fresh = panel.model.index(session._index[session.current_item().item_id])
    assert answered.data() == f"{STATUS_SYMBOL[ItemStatus.UP]}  {item.item_id}   (text)"
    assert answered.data(Qt.ForegroundRole).color() == STATUS_COLOUR[ItemStatus.UP]
    assert fresh.data(Qt.ForegroundRole) is None
    assert fresh.data().startswith(STATUS_SYMBOL[ItemStatus.NEW])
    assert answered.data(Qt.UserRole) == item.item_id
    assert answered.data(Qt.ToolTipRole) == f"{item.item_id} (text): up"
    assert panel.model.data(QModelIndex(), Qt.UserRole) is None
    session.store.close()


def test_pages_built_ahead_stop_when_the_viewer_is_gone(qtbot):
    """`--quit-after-paint` closes the window while pages are still being built ahead: the
    remaining steps must be dropped, not raise on a deleted layout (a traceback on stderr)."""
    import shiboken6

    m = MultiView()
    m.prepare([("audio",), ("image",), ("text",), ("image", "audio", "text")])
    shiboken6.delete(m)
    qtbot.wait(200)  # pytest-qt fails the test if a Qt callback raised meanwhile
