"""Menus, toolbar and keyboard shortcuts as QActions. Built here so main_window only wires them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QIcon, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox

from mmrl_desktop import logs
from mmrl_desktop.gui.label_keys import (
    filter_box_wanted,
    keys_summary,
    label_keys,
    own_character_keys,
)
from mmrl_desktop.paths import resources_dir

log = logging.getLogger(__name__)


@dataclass
class Actions:
    new_project: QAction
    open_project: QAction
    import_data: QAction
    export: QAction
    quit: QAction
    undo: QAction
    exclude: QAction
    include: QAction
    find_moved: QAction
    settings: QAction
    train_start: QAction
    train_pause: QAction
    train_stop: QAction
    evaluate: QAction
    checkpoints: QAction
    shortcuts_help: QAction
    open_log_folder: QAction
    about: QAction
    thumb_up: QAction
    thumb_down: QAction
    skip: QAction
    play: QAction
    find_label: QAction
    correct: list[QAction]  # one per label with a key; ``data()`` is the label


def _action(window: QMainWindow, text: str, keys=(), tip: str = "", icon: str = "") -> QAction:
    a = QAction(text, window)
    if keys:
        a.setShortcuts([QKeySequence(k) for k in keys])
        a.setShortcutContext(Qt.WindowShortcut)
    if tip:
        a.setToolTip(tip)
        a.setStatusTip(tip)
    if icon:
        a.setIcon(QIcon(str(resources_dir() / "icons" / icon)))
    window.addAction(a)  # shortcuts work even when the action is in no menu
    return a


def build_actions(window: QMainWindow, labels: list[str] = ()) -> Actions:
    """``labels``: the first task's labels, whose keys (``label_keys.py``) correct to them."""
    A = _action  # noqa: N806
    correct = []
    for label, key in label_keys(list(labels)).items():
        act = A(window, f"Correct to {label}", [key.upper() if key.isalpha() else key])
        act.setData(label)
        correct.append(act)
    acts = Actions(
        new_project=A(
            window, "&New project…", ["Ctrl+N"], "Create a project from a folder or manifest"
        ),
        open_project=A(window, "&Open project…", ["Ctrl+O"], "Open a project folder"),
        import_data=A(
            window, "&Import data…", ["Ctrl+I"], "Add a folder or manifest to this project"
        ),
        export=A(window, "&Export…", ["Ctrl+E"], "Export the model or the feedback"),
        quit=A(window, "&Quit", ["Ctrl+Q"]),
        undo=A(window, "&Undo last answer", ["Ctrl+Z"], "Withdraw the last answer (Ctrl+Z)"),
        exclude=A(
            window,
            "E&xclude this item",
            ["Ctrl+Delete"],  # not Ctrl+Backspace: in a text box that deletes a word
            "Set this item aside: out of the queue, training and evaluation (Ctrl+Z undoes)",
        ),
        include=A(window, "&Include excluded items…", [], "Bring excluded items back"),
        find_moved=A(
            window,
            "&Find moved files…",
            [],
            "The project's files moved to another folder: point the project at it",
        ),
        settings=A(window, "&Settings…", ["Ctrl+,"], "Annotator, algorithm and hyper-parameters"),
        train_start=A(window, "&Start / resume training", [], "Start or resume the trainer"),
        train_pause=A(window, "&Pause training", [], "Pause the trainer"),
        train_stop=A(window, "S&top training", [], "Stop the trainer"),
        evaluate=A(window, "&Evaluate…", ["Ctrl+T"], "Held-out metrics: current vs starting model"),
        checkpoints=A(window, "&Checkpoints…", [], "List checkpoints, roll back"),
        shortcuts_help=A(window, "&Keyboard shortcuts", ["F1"]),
        open_log_folder=A(
            window, "Open &log folder", [], "The app's log files, to send with a problem report"
        ),
        about=A(window, "&About mmrl-desktop"),
        thumb_up=A(
            window, "Right", ["A", "Right"], "The shown label is right (A or →)", "thumb_up.svg"
        ),
        thumb_down=A(
            window, "Wrong", ["X", "Left"], "The shown label is wrong (X or ←)", "thumb_down.svg"
        ),
        skip=A(window, "Skip", ["Space"], "Skip this item (Space)"),
        play=A(window, "Play / pause sound", ["P"], "Play or pause the item's sound (P)"),
        find_label=A(window, "Correct to… (type the label)", ["/", "Ctrl+F"]),
        correct=correct,
    )
    acts.open_log_folder.triggered.connect(lambda: open_log_folder(window))
    _menus(window, acts)
    _toolbar(window, acts)
    return acts


def open_log_folder(parent=None) -> bool:
    """Show the log folder in the system's file manager (created if needed); where the system
    has none to open it with, say where the folder is (the user would have seen nothing)."""
    folder = logs.log_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        log.warning("the log folder cannot be created")
    opened = QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
    log.info("log folder opened: %s", opened)
    if not opened and parent is not None:
        QMessageBox.information(
            parent,
            "Log folder",
            f"No file manager could open the log folder. It is:\n{folder}",
        )
    return opened


def _menus(window: QMainWindow, acts: Actions) -> None:
    """File, Edit, Train, Evaluate, View (filled by the window) and Help."""
    bar = window.menuBar()
    m = bar.addMenu("&File")
    for a in (acts.new_project, acts.open_project, acts.import_data, acts.find_moved, acts.export):
        m.addAction(a)
    window.recent_menu = m.addMenu("Open &recent")
    m.addSeparator()
    m.addAction(acts.quit)
    m = bar.addMenu("&Edit")
    m.addAction(acts.undo)
    m.addAction(acts.skip)
    m.addSeparator()
    m.addAction(acts.exclude)
    m.addAction(acts.include)
    m.addSeparator()
    m.addAction(acts.settings)
    m = bar.addMenu("&Train")
    for a in (acts.train_start, acts.train_pause, acts.train_stop):
        m.addAction(a)
    m = bar.addMenu("E&valuate")
    m.addAction(acts.evaluate)
    m.addAction(acts.checkpoints)
    window.view_menu = bar.addMenu("&View")
    m = bar.addMenu("&Help")
    m.addAction(acts.shortcuts_help)
    m.addAction(acts.open_log_folder)
    m.addSeparator()
    m.addAction(acts.about)


def _toolbar(window: QMainWindow, acts: Actions) -> None:
    tb = window.addToolBar("Main")
    tb.setObjectName("mainToolBar")
    tb.setMovable(False)
    for a in (acts.open_project, acts.import_data):
        tb.addAction(a)
    tb.addSeparator()
    for a in (acts.train_start, acts.train_pause, acts.train_stop):
        tb.addAction(a)
    tb.addSeparator()
    tb.addAction(acts.evaluate)
    tb.addAction(acts.export)


SHORTCUTS_TEXT = """<h3>Keyboard shortcuts</h3>
<table cellpadding="2">
<tr><td><b>A</b> or <b>→</b></td><td>Right (thumbs up): the shown label is right</td></tr>
<tr><td><b>X</b> or <b>←</b></td><td>Wrong (thumbs down): the shown label is wrong</td></tr>
{correct}
<tr><td><b>Space</b></td><td>skip this item</td></tr>
<tr><td><b>Ctrl+Z</b></td><td>undo the last answer (also after a restart)</td></tr>
<tr><td><b>Ctrl+Delete</b></td><td>exclude this item (a bad file: out of the queue, training
and evaluation; Ctrl+Z or Edit ▸ Include excluded items brings it back)</td></tr>
<tr><td><b>P</b></td><td>play / pause the sound</td></tr>
<tr><td>right-drag on an image</td><td>window / level (DICOM)</td></tr>
<tr><td>wheel, left-drag; <b>+</b> / <b>−</b></td><td>zoom, pan; zoom in / out</td></tr>
<tr><td><b>F</b>, <b>R</b> (image clicked first)</td><td>fit the image, reset the window</td></tr>
<tr><td>a volume: wheel, <b>↑</b>/<b>↓</b>, <b>PgUp</b>/<b>PgDn</b>, <b>Home</b>/<b>End</b></td>
<td>previous / next slice (PgUp/PgDn: ten); Ctrl+wheel zooms</td></tr>
<tr><td>a volume: <b>Ctrl+1</b>, <b>Ctrl+2</b>, <b>Ctrl+3</b></td>
<td>axial, coronal, sagittal plane (or the buttons above the image)</td></tr>
<tr><td>a draft: <b>Shift+A</b> / <b>Shift+X</b> / <b>Shift+E</b></td>
<td>a generate task's draft: good / bad / edit (Enter submits, Esc cancels)</td></tr>
</table>"""


def correct_keys_rows(labels: list[str]) -> str:
    """The help's rows for the keys that correct the first task's label."""
    labels = list(labels)
    if not labels:
        return ""
    what = (
        "correct: type part of the right label, Enter (the first match)"
        if filter_box_wanted(labels)
        else "correct: open the Correct to… list"
    )
    find = f"<tr><td><b>/</b> or <b>Ctrl+F</b></td><td>{what}</td></tr>"
    if own_character_keys(labels):
        keys = keys_summary(labels)
        row = (
            f"<tr><td><b>{keys}</b></td><td>correct: type the right label itself "
            "(each label is one character)</td></tr>"
        )
    else:
        keys = keys_summary(labels)
        more = " (the first 10 labels; the others through the type-to-find box)"
        row = (
            f"<tr><td><b>{keys}</b></td><td>correct: the right label is the one with this key "
            f"in the Correct to… list{more if filter_box_wanted(labels) else ''}</td></tr>"
        )
    return row + "\n" + find


def shortcuts_text(labels: list[str] = ()) -> str:
    """The F1 help for a project whose first task has these labels."""
    return SHORTCUTS_TEXT.format(correct=correct_keys_rows(labels))


ABOUT_TEXT = """<h3>mmrl-desktop {}</h3>
<p>Teach a multimodal model with thumbs: look at a case, see the model's guess, answer Right
(thumbs up) or Wrong (thumbs down), or give the right label.
The model learns between your clicks, on this machine only — nothing is ever sent anywhere.</p>
<p>Your answers are saved the moment you give them (SQLite, append-only; undo is a retraction).</p>"""
