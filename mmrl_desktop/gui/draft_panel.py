"""The draft panel of a ``generate`` task: the model's draft for the shown item (or "drafting…"
while the trainer process writes it), thumbs-up / thumbs-down, and Edit (a text box; Enter
submits the edited text, Esc cancels).

``DraftPanel`` only shows and emits; ``DraftController`` wires it to the Qt-free ``DraftBook``
(``core/labelling/drafts.py``: the drafts received and the answers, one committed row each) and
to the trainer (``draftsArrived``; a ``Wake`` after an answer). No language model is loaded in
the app's process: the drafts come ready from the trainer process, ahead of the expert.

Keys (window-wide, beside the label keys A/→ and X/←): Shift+A the draft is good, Shift+X it is
bad, Shift+E edit it; in the edit box Enter submits and Esc cancels.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.labelling.drafts import DraftBook
from mmrl_desktop.core.labelling.undo import DRAFT, newest_kind
from mmrl_desktop.gui.widgets import reserve_lines
from mmrl_desktop.paths import resources_dir

DRAFTING = "drafting…"
KEYS = {"up": "Shift+A", "down": "Shift+X", "edit": "Shift+E"}
# the feedback panel's look (gui/app.py's style sheet), for this panel's own names
STYLE = """
#draftPanel { background: #1f2430; }
#draftPanel QLabel { color: #e2e8f0; }
#draftPanel #taskTitle { color: #a0aec0; font-size: 9pt; letter-spacing: 1px; }
#draftPanel #draftText { color: #ffffff; font-size: 13pt; font-weight: 600; }
#draftPanel #predSource, #draftPanel #keyHint, #draftPanel #draftStatus {
    color: #a0aec0; font-size: 9.5pt; }
QPushButton#draftUp, QPushButton#draftDown { color: white; border-radius: 6px;
    font-weight: 700; }
QPushButton#draftUp { background: #2f855a; }
QPushButton#draftUp:hover { background: #38a169; }
QPushButton#draftDown { background: #c53030; }
QPushButton#draftDown:hover { background: #e53e3e; }
QPushButton#draftUp:disabled, QPushButton#draftDown:disabled { background: #4a5568;
    color: #a0aec0; }
"""


class DraftPanel(QFrame):
    draftUp = Signal(int)  # the candidate's index
    draftDown = Signal(int)
    editSubmitted = Signal(int, str)  # the candidate's index, the edited text

    def __init__(self, task: str, prompt: str, candidates: int = 1, parent=None):
        super().__init__(parent)
        self.setObjectName("draftPanel")
        self.setAttribute(Qt.WA_StyledBackground, True)
        self.setStyleSheet(STYLE)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(6)
        title = QLabel(f"{task.upper()} — DRAFT")
        title.setObjectName("taskTitle")
        title.setToolTip(f"The prompt after each item's text: {prompt}")
        self.prompt = prompt
        self.source = QLabel("")
        self.source.setObjectName("predSource")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.source)
        lay.addLayout(head)
        self.texts, self.choice = self._candidates(lay, candidates)
        self.status = QLabel("")
        self.status.setObjectName("draftStatus")
        lay.addWidget(self.status)
        lay.addLayout(self._buttons())
        self.editor = QLineEdit()
        self.editor.setObjectName("draftEditor")
        self.editor.setPlaceholderText("The right text — Enter submits, Esc cancels")
        self.editor.setFocusPolicy(Qt.ClickFocus)  # never the window's first focus
        self.editor.returnPressed.connect(self._submit_edit)
        self.editor.installEventFilter(self)
        self.editor.hide()
        lay.addWidget(self.editor)
        self.hint = QLabel(
            f"{KEYS['up']} good · {KEYS['down']} bad · {KEYS['edit']} edit, Enter submits"
        )
        self.hint.setObjectName("keyHint")
        self.hint.setWordWrap(True)
        lay.addWidget(self.hint)
        self.show_drafts(None)
        self.setMinimumHeight(self.sizeHint().height())  # the dock never squeezes it

    def _candidates(self, lay: QVBoxLayout, n: int) -> tuple[list[QLabel], QButtonGroup]:
        """One word-wrapped label per candidate; with several, a radio button chooses one."""
        group = QButtonGroup(self)
        texts = []
        for k in range(max(1, n)):
            text = QLabel("")
            text.setObjectName("draftText")
            text.setWordWrap(True)
            reserve_lines(text, 2)  # a two-line draft moves nothing below it
            text.setTextInteractionFlags(Qt.TextSelectableByMouse)
            if n > 1:
                radio = QRadioButton(str(k + 1))
                radio.setFocusPolicy(Qt.NoFocus)
                group.addButton(radio, k)
                radio.setChecked(k == 0)
                row = QHBoxLayout()
                row.addWidget(radio)
                row.addWidget(text, 1)
                lay.addLayout(row)
            else:
                lay.addWidget(text)
            texts.append(text)
        return texts, group

    def _buttons(self) -> QHBoxLayout:
        icons = resources_dir() / "icons"
        self.up_button = self._button(" Good", icons / "thumb_up.svg", "draftUp", "up")
        self.down_button = self._button(" Bad", icons / "thumb_down.svg", "draftDown", "down")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setObjectName("draftEdit")
        self.edit_button.setToolTip(f"Write the right text ({KEYS['edit']}); Enter submits")
        self.edit_button.setMinimumHeight(40)
        self.edit_button.setFocusPolicy(Qt.NoFocus)
        self.up_button.clicked.connect(lambda: self.draftUp.emit(self.candidate()))
        self.down_button.clicked.connect(lambda: self.draftDown.emit(self.candidate()))
        self.edit_button.clicked.connect(self.begin_edit)
        row = QHBoxLayout()
        for b in (self.up_button, self.down_button, self.edit_button):
            row.addWidget(b)
        return row

    def _button(self, text: str, icon, name: str, key: str) -> QPushButton:
        b = QPushButton(QIcon(str(icon)), text)
        b.setObjectName(name)
        b.setToolTip(f"The draft is {text.strip().lower()} ({KEYS[key]})")
        b.setMinimumHeight(40)
        b.setFocusPolicy(Qt.NoFocus)
        return b

    def make_actions(self, window: QWidget) -> dict[str, QAction]:
        """The panel's window-wide keys (``KEYS``), added to ``window``."""
        acts = {}
        for name, slot in (
            ("up", lambda: self.up_button.isEnabled() and self.up_button.click()),
            ("down", lambda: self.down_button.isEnabled() and self.down_button.click()),
            ("edit", self.begin_edit),
        ):
            act = QAction(f"Draft: {name}", window)
            act.setShortcut(QKeySequence(KEYS[name]))
            act.setShortcutContext(Qt.WindowShortcut)
            act.triggered.connect(slot)
            window.addAction(act)
            acts[name] = act
        return acts

    # ------------------------------------------------------------------ API
    def candidate(self) -> int:
        return max(0, self.choice.checkedId())

    def show_drafts(self, texts: list[str] | None, source: str = "", status: str = "") -> None:
        """The drafts of the shown item (None: still drafting), where they come from (``policy
        v3``) and the answer already given, if any."""
        ready = bool(texts)
        for k, label in enumerate(self.texts):
            label.setText(texts[k] if ready and k < len(texts) else (DRAFTING if k == 0 else ""))
        self.source.setText(source if ready else "")
        self.status.setText(status)
        for b in (self.up_button, self.down_button, self.edit_button):
            b.setEnabled(ready)
        if not ready:
            self.cancel_edit()

    def begin_edit(self) -> None:
        if not self.edit_button.isEnabled():
            return
        self.editor.setText(self.texts[self.candidate()].text())
        self.editor.show()
        self.editor.setFocus(Qt.ShortcutFocusReason)
        self.editor.selectAll()

    def cancel_edit(self) -> None:
        self.editor.hide()
        self.editor.clearFocus()

    def _submit_edit(self) -> None:
        text = self.editor.text()
        if not text.strip():
            self.status.setText("The edited text is empty: type the right text, or Esc.")
            return
        self.cancel_edit()
        self.editSubmitted.emit(self.candidate(), text)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        """Esc in the edit box cancels the edit."""
        escape = event.type() == event.Type.KeyPress and event.key() == Qt.Key_Escape
        if obj is self.editor and escape:
            self.cancel_edit()
            return True
        return super().eventFilter(obj, event)


ANSWERED = {1: "answered: good", -1: "answered: bad"}


class DraftController(QObject):
    """Wires a ``DraftPanel`` to a ``DraftBook`` and the trainer (module docstring)."""

    answered = Signal(object)  # a DraftClick
    messageRequested = Signal(str)

    def __init__(self, book: DraftBook, panel: DraftPanel, trainer=None, parent=None):
        super().__init__(parent)
        self.book, self.panel, self.trainer = book, panel, trainer
        self.item_id: str | None = None
        self.advance = None  # called after an answer when the project has no label task
        self.go_to = None  # shows an item again (undo)
        panel.draftUp.connect(lambda k: self._answer(lambda: book.answer(self.item_id, +1, k)))
        panel.draftDown.connect(lambda k: self._answer(lambda: book.answer(self.item_id, -1, k)))
        panel.editSubmitted.connect(
            lambda k, text: self._answer(lambda: book.edit(self.item_id, text, k))
        )
        if trainer is not None and hasattr(trainer, "draftsArrived"):
            trainer.draftsArrived.connect(self.on_drafts)

    def show(self, item_id: str | None) -> None:
        """The labelling view shows ``item_id`` now (its ``itemShown``)."""
        self.item_id = item_id
        self.book.show(item_id)
        self._paint()

    def on_drafts(self, event) -> None:
        """A ``Drafts`` message: repaint when it holds the shown item's draft."""
        if self.item_id in self.book.receive(event.drafts):
            self._paint()

    def _paint(self) -> None:
        if self.item_id is None:
            self.panel.show_drafts(None)
            return
        drafts = self.book.drafts_for(self.item_id)
        answer = self.book.answer_of(self.item_id)
        status = ""
        if answer is not None:
            status = "answered: edited" if answer.is_edit else ANSWERED[answer.reward]
        source = f"policy v{drafts[0].policy_version}" if drafts else ""
        self.panel.show_drafts([d.text for d in drafts] if drafts else None, source, status)

    def _answer(self, fn) -> None:
        if self.item_id is None:
            return
        try:
            click = fn()
        except (ValueError, KeyError) as err:
            self.messageRequested.emit(str(err).strip("'"))
            return
        if self.advance is not None:  # no label task: the draft's answer moves on
            self.advance()
        else:
            self._paint()
        if self.trainer is not None:
            self.trainer.feedback_arrived()  # the trainer reads the answer now
        self.answered.emit(click)

    def undo(self) -> bool:
        """Withdraw the newest draft answer (a retraction row); with ``go_to`` its item is
        shown again."""
        click = self.book.undo()
        if click is None:
            self.messageRequested.emit("Nothing to undo.")
            return False
        if self.go_to is not None:
            self.go_to(click.item_id)
        else:
            self._paint()
        self.messageRequested.emit(f"Undone: the answer on {click.item_id}'s draft was withdrawn.")
        if self.trainer is not None:
            self.trainer.feedback_arrived()
        return True


def attach_drafts(window) -> DraftController | None:
    """The main window's draft dock for the project's first generate task (None without one):
    the panel under the prediction, its keys, and the shown item followed (``itemShown``)."""
    project = window.project
    if not project.generate_tasks:
        return None
    task = project.generate_tasks[0]
    labeling = window.labeling
    book = DraftBook(labeling.session.store, task.name, window.annotator or "")
    panel = DraftPanel(task.name, task.settings.prompt, task.settings.candidates)
    ctrl = DraftController(book, panel, window.trainer, parent=window)
    panel.make_actions(window)
    labeling.itemShown.connect(ctrl.show)
    ctrl.messageRequested.connect(window.feedback.show_message)
    dock = window._dock("Draft", panel, Qt.RightDockWidgetArea, "draftDock")
    feedback = window.findChild(QDockWidget, "feedbackDock")
    if feedback is not None:  # the prediction keeps what it needs, the draft its own height
        height = panel.sizeHint().height()
        window.resizeDocks([feedback, dock], [window.height() - height, height], Qt.Vertical)
    ctrl.go_to = labeling.activate  # an undone draft answer shows its item again
    undo = ctrl.undo  # drafts only: Ctrl+Z undoes the newest draft answer
    if not project.tasks:  # and an answer shows the next item
        ctrl.advance = lambda: _next_unanswered(labeling, book)
    else:  # label tasks too: the newest answer of either kind (``core/labelling/undo.py``)
        undo = lambda: _undo_newest(labeling, ctrl)  # noqa: E731
    window.actions_.undo.triggered.disconnect(labeling.undo)
    window.feedback.undoRequested.disconnect(labeling.undo)
    window.actions_.undo.triggered.connect(undo)
    window.feedback.undoRequested.connect(undo)
    current = labeling.session.current_item()
    ctrl.show(current.item_id if current is not None else None)
    return ctrl


def _undo_newest(labeling, ctrl: DraftController) -> None:
    """Ctrl+Z with label tasks and drafts: withdraw the newest answer, a label's or a draft's."""
    if newest_kind(labeling.session, ctrl.book) == DRAFT:
        ctrl.undo()
    else:
        labeling.undo()


def _next_unanswered(labeling, book: DraftBook) -> None:
    """Show the next item in the queue order whose draft has no answer (a project whose only
    task is a generate task); the shown one stays when every draft has an answer."""
    session = labeling.session
    items, start = session.items, session.current
    for k in range(1, len(items) + 1):
        item_id = items[(start + k) % len(items)].item_id
        if book.answer_of(item_id) is None:
            labeling.activate(item_id)
            return
    labeling.show_current()
