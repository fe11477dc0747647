"""Issue 12 (GUI): label keys, the type-to-filter correction box, the first sound item's
playback message, no emoji glyphs, text that fits at 1280×800 and 1920×1080, the answered count,
the header after a jump in the list, the Checkpoints dialog's wording."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image
from PySide6 import QtGui
from PySide6.QtCore import QPointF, QRect, Qt
from PySide6.QtWidgets import QApplication, QLabel

import mmrl_desktop.gui as gui_package
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders import ImageData
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.store import Prediction
from mmrl_desktop.core.labelling.session import ItemStatus
from mmrl_desktop.gui.actions import ABOUT_TEXT, shortcuts_text
from mmrl_desktop.gui.dialogs.checkpoints import CheckpointsDialog
from mmrl_desktop.gui.feedback_panel import matching_labels
from mmrl_desktop.gui.label_keys import keys_summary, label_keys
from mmrl_desktop.gui.main_window import MainWindow
from mmrl_desktop.gui.viewers.audio_view import NO_DEVICE
from mmrl_desktop.gui.viewers.image_view import ImageView
from mmrl_desktop.gui.widgets import ElidedLabel
from tests.gui.test_viewers import fake_sd  # noqa: F401  (the fixture: sounddevice, faked)

WORDS = ["cat", "dog", "bird"]
FINDINGS = [
    "atelectasis",
    "cardiomegaly",
    "consolidation",
    "edema",
    "pleural effusion",
    "emphysema",
    "fibrosis",
    "hernia",
    "infiltration",
    "mass",
    "nodule",
    "pleural thickening",
    "pneumonia",
    "pneumothorax",
    "fracture",
    "lung opacity",
    "lung lesion",
    "support device",
    "no finding",
    "enlarged cardiomediastinum",
    "calcification",
    "granuloma",
    "bronchiectasis",
    "cavitation",
    "interstitial pattern",
    "hilar enlargement",
    "scoliosis",
    "aortic elongation",
    "kyphosis",
    "pacemaker",
]


# ---------------------------------------------------------------------- projects
def _png(path: Path, k: int) -> str:
    rng = np.random.default_rng(k)
    Image.fromarray((rng.random((24, 24)) * 255).astype(np.uint8)).save(path)
    return str(path)


def _wav(path: Path) -> str:
    t = np.arange(8000) / 8000.0
    sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    return str(path)


def _project(tmp_path: Path, labels: list[str], first_audio: bool = False) -> Project:
    p = Project.create(tmp_path / "proj", tasks=[Task("label", labels)])
    items = []
    if first_audio:  # sound only: whichever item comes first has sound
        wav = _wav(tmp_path / "s.wav")
        items = [Item(f"sound{k}", audio=wav, labels={"label": labels[0]}) for k in range(3)]
    for k in range(0 if first_audio else 6):
        lab = labels[k % len(labels)]
        items.append(Item(f"img{k}", image=_png(tmp_path / f"i{k}.png", k), labels={"label": lab}))
    with p.open_store() as s:
        s.add_items(items)
    return p


@pytest.fixture
def open_window(qtbot):
    opened = []

    def make(project: Project, size=(1280, 800)) -> MainWindow:
        w = MainWindow(project, annotator="tester", start_trainer=False)
        qtbot.addWidget(w)
        w.resize(*size)
        with qtbot.waitSignal(w.ready, timeout=30000):
            w.show()
        w.activateWindow()
        qtbot.waitExposed(w)
        qtbot.waitUntil(lambda: QApplication.activeWindow() is w)  # its shortcuts work
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.shutdown()


def _last_answer(window):
    (ev,) = window.labeling.session.store.active_feedback()[-1:]
    return ev.corrected_label or (ev.shown_label if ev.reward == 1 else None)


# ---------------------------------------------------------------------- 6. keys
def test_label_keys_rule():
    digits = [str(d) for d in range(10)]
    assert label_keys(digits) == {d: d for d in digits} and keys_summary(digits) == "0–9"
    assert label_keys(["B", "c", "1"]) == {"B": "b", "c": "c", "1": "1"}
    assert label_keys(WORDS) == {"cat": "1", "dog": "2", "bird": "3"}
    assert keys_summary(WORDS) == "1–3"
    # A, X, P are the window's own keys: single letters among them fall back to numbers
    assert label_keys(["a", "b", "c"]) == {"a": "1", "b": "2", "c": "3"}
    assert label_keys(["x", "X"]) == {"x": "1", "X": "2"}  # not one key for two labels
    keys = label_keys(FINDINGS)
    assert list(keys.values()) == list("1234567890") and keys["mass"] == "0"
    assert keys_summary(FINDINGS) == "1–9, 0"


def test_pressing_7_on_the_demo_records_label_7(qtbot, tmp_path, open_window):
    from mmrl_desktop.core.data.demo import create_demo

    window = open_window(create_demo(tmp_path / "demo"))
    for key, label in ((Qt.Key_7, "7"), (Qt.Key_9, "9"), (Qt.Key_0, "0")):
        qtbot.keyClick(window, key)
        assert _last_answer(window) == label
    hint = window.feedback.key_hint.text()
    assert "0–9 correct" in hint
    picker = window.feedback.rows["digit"].picker
    assert [picker.itemText(i) for i in range(1, 11)] == [str(d) for d in range(10)]
    assert "<b>0–9</b>" in shortcuts_text(window.project.tasks[0].labels)


def test_word_labels_show_their_key_beside_each_entry(qtbot, tmp_path, open_window):
    window = open_window(_project(tmp_path, WORDS))
    picker = window.feedback.rows["label"].picker
    assert [picker.itemText(i) for i in range(1, 4)] == ["1    cat", "2    dog", "3    bird"]
    qtbot.keyClick(window, Qt.Key_3)
    assert _last_answer(window) == "bird"
    qtbot.keyClick(window, Qt.Key_1)
    assert _last_answer(window) == "cat"
    assert window.feedback.rows["label"].filter is None  # three labels: the list is enough
    assert "1–3 correct" in window.feedback.key_hint.text()
    assert "<b>1–3</b>" in shortcuts_text(WORDS)


def test_filter_box_corrects_to_the_first_match_on_a_30_label_task(qtbot, tmp_path, open_window):
    window = open_window(_project(tmp_path, FINDINGS))
    row = window.feedback.rows["label"]
    box = row.filter
    assert box is not None and box.isVisible()
    qtbot.keyClick(window, Qt.Key_Slash)  # "/" puts the cursor in the box
    assert box.hasFocus()
    qtbot.keyClicks(box, "EFFUS")  # letters go to the box, not to the A/X/P shortcuts
    assert box.text() == "EFFUS" and not window.labeling.session.store.active_feedback()
    qtbot.keyClick(box, Qt.Key_Return)
    assert _last_answer(window) == "pleural effusion"
    assert box.text() == "" and not box.hasFocus()
    assert len(window.labeling.session.store.active_feedback()) == 1  # one answer per Enter
    # the first of several matches: an exact name first, then those that start with it
    assert matching_labels(FINDINGS, "pleural")[0] == "pleural effusion"
    assert matching_labels(FINDINGS, "lung ") == ["lung opacity", "lung lesion"]
    assert matching_labels(FINDINGS, "mass") == ["mass"]
    box.setFocus()
    qtbot.keyClicks(box, "zebra")
    qtbot.keyClick(box, Qt.Key_Return)
    assert "No label of label contains “zebra”" in window.feedback.message.text()
    assert len(window.labeling.session.store.active_feedback()) == 1
    box.clear()
    qtbot.keyClick(window, Qt.Key_0)  # the 10th label has key 0
    assert _last_answer(window) == "mass"
    assert "/ find label" in window.feedback.key_hint.text()
    # a long label is shown whole in a smaller font (the panel keeps its width)
    item = window.labeling.session.current_item().item_id
    probs = {"pleural effusion": 0.5, "enlarged cardiomediastinum": 0.3, "edema": 0.2}
    pred = Prediction(item, "label", 4, "pleural effusion", 0.5, probs)
    window.feedback.show_item(item, {"label": pred}, True)
    qtbot.wait(20)
    assert row.shown.shown_text() == "pleural effusion"
    assert row.top3.shown_text().split("\n")[1] == "30%   enlarged cardiomediastinum"


# ---------------------------------------------------------------------- 9. first sound item
def _first_audio_view(window):
    lab = window.labeling
    assert lab.session.current_item().audio  # the very first item has sound
    return window.viewer.audio_view


def test_first_sound_item_says_there_is_no_output(qtbot, tmp_path, open_window, fake_sd):  # noqa: F811
    def no_device(device=None, kind=None):
        raise RuntimeError("Error querying device -1")

    fake_sd.query_devices = no_device
    window = open_window(_project(tmp_path, WORDS, first_audio=True))
    view = _first_audio_view(window)
    qtbot.waitUntil(lambda: view.playback_message() == NO_DEVICE, timeout=2000)
    assert not view.play_button.isEnabled()


def test_first_sound_item_plays_with_an_output(qtbot, tmp_path, open_window, fake_sd):  # noqa: F811
    window = open_window(_project(tmp_path, WORDS, first_audio=True))
    view = _first_audio_view(window)
    qtbot.waitUntil(lambda: bool(fake_sd.queried), timeout=2000)
    qtbot.wait(50)
    assert view.play_button.isEnabled() and view.playback_message() == ""
    qtbot.keyClick(window, Qt.Key_P)
    assert view.is_playing()
    view.stop()


def test_play_before_the_output_is_known_says_why_there_is_no_sound(qtbot):
    from mmrl_desktop.gui.viewers.audio_view import AudioView, NullAudioOutput

    view = AudioView(output_factory=lambda: NullAudioOutput(NO_DEVICE))
    qtbot.addWidget(view)
    view.show()
    samples = (0.3 * np.sin(np.arange(4000) / 5.0)).astype(np.float32)
    view.set_audio(samples, 8000)
    view.play()  # P pressed at once, before the output was probed
    assert view.playback_message() == NO_DEVICE and not view.play_button.isEnabled()


# ---------------------------------------------------------------------- 12. no emoji
def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return 0x1F000 <= cp <= 0x1FAFF or 0x2600 <= cp <= 0x26FF or cp == 0xFE0F


def _string_constants(tree: ast.AST):
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
        if is_text and id(node) not in docstrings:
            yield node


def test_no_emoji_in_what_the_gui_shows():
    """A machine without an emoji font draws them as empty boxes (help, about, tooltips)."""
    found = []
    for path in Path(gui_package.__file__).parent.rglob("*.py"):
        for node in _string_constants(ast.parse(path.read_text(encoding="utf-8"))):
            if any(_is_emoji(c) for c in node.value):
                found.append(f"{path.name}:{node.lineno}: {node.value[:40]!r}")
    assert not found, found
    for text in (shortcuts_text(WORDS), shortcuts_text(FINDINGS), ABOUT_TEXT):
        assert not any(_is_emoji(c) for c in text)
    assert "Right (thumbs up)" in shortcuts_text(WORDS)


# ---------------------------------------------------------------------- 13. text fits
def _label_problem(label: QLabel) -> str | None:
    """Why the label's text does not show whole, or None."""
    text = label.text()
    if not text or QtGui.Qt.mightBeRichText(text):
        return None
    if isinstance(label, ElidedLabel):
        shown = label.shown_text()
        if "…" in shown and label.toolTip() != text:
            return f"cut without a tooltip: {shown!r}"
        return None
    fm = label.fontMetrics()
    width = label.contentsRect().width()
    if label.wordWrap():
        too_wide = [w for w in text.split() if fm.horizontalAdvance(w) > width]
        if too_wide or label.heightForWidth(label.width()) > label.height():
            return "wrapped text does not fit"
        return None
    lines = text.split("\n")
    if max(fm.horizontalAdvance(line) for line in lines) > width:
        return f"wider ({max(fm.horizontalAdvance(x) for x in lines)}) than its {width} px"
    return None


def _check_window_text(window) -> list[str]:
    problems = []
    for label in window.findChildren(QLabel):
        if label.isVisible() and (why := _label_problem(label)):
            tip = label.toolTip()
            if tip and tip.replace("\n", " ") == label.text().replace("\n", " "):
                continue  # cut, but the whole text is its tooltip
            problems.append(f"{label.objectName() or type(label).__name__} {label.text()!r}: {why}")
        if isinstance(label, ElidedLabel) and label.isVisible() and "…" in label.shown_text():
            problems.append(f"{label.objectName()} {label.text()!r} cut: {label.shown_text()!r}")
    for row in window.feedback.rows.values():  # reserved lines are not squeezed together
        if row.height() < row.minimumSizeHint().height():
            problems.append(
                f"the {row.task} row is {row.height()} px of its {row.minimumSizeHint()}"
            )
    view = window.queue.view
    fm = view.fontMetrics()
    for r in range(window.queue.model.rowCount()):
        idx = window.queue.model.index(r)
        rect = view.visualRect(idx)
        shown = rect.intersects(view.viewport().rect())
        room = view.viewport().width() - rect.left() - 4  # a row's rect is as wide as its text
        if shown and fm.horizontalAdvance(idx.data()) > room:
            problems.append(f"queue entry {idx.data()!r} is cut")
    return problems


@pytest.mark.parametrize("size", [(1280, 800), (1920, 1080)])
def test_text_fits_on_image_audio_and_multimodal_items(qtbot, tmp_path, open_window, size):
    from mmrl_desktop.core.data.demo import create_demo
    from mmrl_desktop.gui.snapshot import _kind

    window = open_window(create_demo(tmp_path / "demo"), size)
    lab = window.labeling
    seen = {}
    for it in lab.session.items:
        seen.setdefault(_kind(it), it)
    problems = []
    for kind in ("image", "audio", "multimodal"):
        item = seen[kind]
        probs = {"6": 0.62, "5": 0.21, "8": 0.09, "0": 0.08}
        pred = Prediction(item.item_id, "digit", 123, "6", 0.62, probs)
        lab.on_predictions({item.item_id: {"digit": pred}})  # the model's top-3 is shown
        lab.activate(item.item_id)
        qtbot.wait(150)
        assert lab.session.has_model_prediction(item.item_id)
        problems += [f"{kind}: {p}" for p in _check_window_text(window)]
    assert not problems, "\n".join(problems)


def _image_rect(view: ImageView, w: int, h: int) -> QRect:
    """Where the image lies on screen, in the viewer's coordinates."""
    g = view.graphics
    corners = [
        g.viewport().mapTo(view, g.mapFromScene(view.view_box.mapViewToScene(QPointF(x, y))))
        for x, y in ((0, 0), (w, h))
    ]
    return QRect(corners[0], corners[1])


def test_image_info_box_leaves_the_image_uncovered(qtbot, show_widget):
    view = show_widget(ImageView(), 420, 440)  # a square image in a square-ish pane
    pixels = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    info = {"format": "PNG", "mode": "L", "modality": "CT", "study": "chest"}
    view.set_image(ImageData(pixels=pixels, display=pixels, info=info))
    for size in ((420, 440), (700, 440), (420, 900)):
        view.resize(*size)
        qtbot.wait(50)
        box, image = view.tags_label.geometry(), _image_rect(view, 64, 64)
        assert view.tags_label.isVisible() and not box.isEmpty()
        assert not image.adjusted(1, 1, -1, -1).intersects(box), (size, image, box)
        inside = view.graphics.geometry().adjusted(-1, -1, 1, 1)
        assert inside.contains(image), (size, image, inside)  # the whole image in view
        # and not tiny: at least half the size it would have without the box
        full = min(view.graphics.width(), view.graphics.height())
        assert image.width() >= full / 2, (image, full)


def test_image_hint_is_shortened_not_cut(qtbot, show_widget):
    view = show_widget(ImageView(), 360, 300)
    assert "…" not in view.hint.shown_text()
    assert view.hint.toolTip().startswith("Wheel: zoom")
    view.resize(1000, 300)
    qtbot.wait(20)
    assert view.hint.shown_text() == view.hint.toolTip()


# ---------------------------------------------------------------------- 14. counts, header
def test_answered_counts_no_skips(qtbot, tmp_path, open_window):
    window = open_window(_project(tmp_path, WORDS))
    lab = window.labeling
    total = len(lab.session.items)
    qtbot.keyClick(window, Qt.Key_Space)  # a skip is no answer
    qtbot.keyClick(window, Qt.Key_A)
    assert lab.session.counts[ItemStatus.SKIPPED] == 1
    assert window.status.answers.text() == f"1 / {total} answered"
    assert window.queue.progress.value() == 1


def test_the_header_follows_a_click_in_the_list(qtbot, tmp_path, open_window):
    window = open_window(_project(tmp_path, WORDS))
    lab = window.labeling
    total = len(lab.session.items)
    skipped = lab.session.current_item().item_id
    qtbot.keyClick(window, Qt.Key_Space)
    # a click on the fifth entry of the list: the header says where that is
    view = window.queue.view
    idx = window.queue.model.index(4)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.visualRect(idx).center())
    assert lab.session.current_item().item_id == idx.data(Qt.UserRole)
    title = window.feedback.item_title.text()
    assert title.startswith(idx.data(Qt.UserRole)) and f"5 of {total}" in title
    row = lab.session._index[skipped]
    where = view.visualRect(window.queue.model.index(row)).center()
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=where)
    assert f"{row + 1} of {total}" in window.feedback.item_title.text()
    assert "skipped" in window.feedback.item_title.text()


def test_checkpoints_dialog_says_when_checkpoints_are_written(qtbot, tmp_path):
    project = _project(tmp_path, WORDS)
    dlg = CheckpointsDialog(project)
    qtbot.addWidget(dlg)
    intro = dlg.findChildren(QLabel)[0].text()
    assert "a few seconds after" in intro and "every few hundred" not in intro
    assert "a few seconds after" in dlg.empty.text() and "when it stops" not in dlg.empty.text()
    with project.open_store() as store:
        store.add_checkpoint("checkpoints/x.pt", 10, 3, 5, note="on close")
    dlg.refresh()
    assert dlg.table.item(0, 6).text().startswith("when the trainer stopped")


def test_picking_a_label_in_the_filter_list_corrects_only_once(qtbot):
    """Enter on a label chosen in the filter box's list: returnPressed corrects; the completer's
    own activated signal that follows must not correct the next item too."""
    from mmrl_desktop.gui.feedback_panel import FeedbackPanel

    panel = FeedbackPanel([("finding", [f"label{i}" for i in range(30)])])
    qtbot.addWidget(panel)
    row = panel.rows["finding"]
    got = []
    row.correctRequested.connect(lambda task, label: got.append(label))
    row.filter.setText("label10")
    row.filter.returnPressed.emit()
    row.filter.completer().activated.emit("label10")
    assert got == ["label10"]


@pytest.mark.parametrize("points", [10.5, 12.0])
def test_a_long_message_or_a_tip_moves_nothing_at_1280_x_800(qtbot, tmp_path, open_window, points):
    """A four-line message once squeezed the task row of a 1280 × 800 window (its exploration
    note drawn over its top-3) and moved the buttons up: a message and a tip take the key
    hint's place at the foot of the panel instead. The foot's lines are in the panel's minimum
    height: with Noto Sans (taller lines than DejaVu Sans) the window once gave the panel one line
    of keys, too little; 12 pt stands for a font with taller lines whichever the system has."""
    from mmrl_desktop.core.data.demo import create_demo
    from mmrl_desktop.gui.app import STYLE_SHEET

    app = QApplication.instance()  # the app's own font and style sheet (make_app's): its sizes
    font, sheet = app.font(), app.styleSheet()
    themed = app.font()
    themed.setPointSizeF(points)
    app.setFont(themed)
    app.setStyleSheet(STYLE_SHEET)
    try:
        _message_and_tip_in_place(qtbot, open_window(create_demo(tmp_path / "demo")))
    finally:
        app.setFont(font)
        app.setStyleSheet(sheet)


def _message_and_tip_in_place(qtbot, window) -> None:
    lab, fb = window.labeling, window.feedback
    item = lab.session.current_item()
    pred = Prediction(item.item_id, "digit", 12, "5", 0.2, {"8": 0.3, "5": 0.2, "3": 0.1})
    lab.on_predictions({item.item_id: {"digit": pred}})
    lab.activate(item.item_id)  # exploring: the note under the top-3 is shown
    qtbot.wait(150)
    row = fb.rows["digit"]
    assert row.explore.text()

    def layout():
        assert row.explore.geometry().top() >= row.top3.geometry().bottom()  # no overlap
        return fb.up_button.geometry().getRect(), row.picker.geometry().getRect()

    quiet = layout()
    fb.show_message(
        "Excluded case4_0: out of the queue, training and evaluation; its answers stay in the "
        "log. Ctrl+Z brings it back."
    )
    qtbot.wait(50)
    assert layout() == quiet and fb.message.isVisible() and not fb.key_hint.isVisible()
    shown = fb.message.shown_lines()  # at most the foot's lines; the tooltip has it whole
    assert 2 <= len(shown) <= 3 and fb.message.toolTip().endswith("brings it back.")
    drawn, whole = " ".join(" ".join(shown).split()), " ".join(fb.message.text().split())
    assert drawn == whole or (drawn.endswith("…") and whole.startswith(drawn[:-1].rstrip()))
    fb.show_message(" ".join(["A sentence far longer than the foot of the panel can hold."] * 6))
    qtbot.wait(50)
    assert layout() == quiet and fb.message.shown_lines()[-1].endswith("…")
    assert len(fb.message.shown_lines()) == 3
    fb.show_message("")
    fb.show_tip("Tip: 10 labels — a “wrong” rules out one; the right answer's key teaches more.")
    qtbot.wait(50)
    assert layout() == quiet and fb.key_hint.isVisible() and fb.key_hint.text().startswith("Tip")
    fb.show_tip("")
    assert "correct" in fb.key_hint.text()
