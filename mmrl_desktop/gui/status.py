"""The status bar: the next-item order, the modality the model predicts from when it leaves
the others out (ADR 0039), device, model version, answers given, trainer state,
updates per second, notes on the left while the trainer retrains the model at once
(``train/retrain_left``, core/learning/renew.py) and when other programs starve the trainer
(``perf/starved``, core/learning/trainer_loop.py), and a progress bar while a pretrained
encoder's embeddings are computed (``embedding_progress.py``)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from mmrl_desktop.core.evaluation.model_info import used_alone
from mmrl_desktop.gui.embedding_progress import EmbeddingProgress
from mmrl_desktop.gui.widgets import ElidedLabel, reserve_width

TRAINER_STATES = ("stopped", "loading", "running", "idle", "paused", "error")
SHUFFLE_NOTE = (
    "The items are asked in a fixed random order: the thumbs-up and agreement figures are a "
    "random sample of the items, like the held-out accuracy."
)
ACTIVE_NOTE = (
    "The model chooses which item is asked next ({order}; {random} of the picks at random): the "
    "thumbs-up and agreement figures are about the items it chose, not a random sample. The "
    "held-out accuracy stays a random sample of the items."
)
WAITING_NOTE = (
    "For now the items are asked in the queue order: the model starts choosing ({order}) after "
    "a warm-up of answers to every label{check}."
)
READINESS = (
    ", and once its uncertainty has shown that it predicts which answers are thumbs-down while "
    "its labels are right well above chance (the readiness check)"
)
GATED_ORDERS = ("uncertain", "diverse")  # core/learning/next_item.py's GATED
HANDED_BACK_NOTE = (
    "Most of the items have answers, so the model no longer chooses ({order}): the rest are "
    "asked in the queue order. By now most items get asked whichever the order, and what the "
    "model would leave to the end are the cases it is surest of. The thumbs-up and agreement "
    "figures still include the items it chose; the held-out accuracy stays a random sample."
)
ALONE_NOTE = (
    "The model predicts from the {used} alone: on the latest answers it predicted what you said "
    "better than with every modality fused ({all}). It fuses them again once they do better "
    "([model] modality_choice)."
)


def modalities_text(info: dict) -> tuple[str, str]:
    """(the bar's text, its tooltip) for the modalities the model predicts from; empty while
    it fuses every modality its items have (ADR 0039)."""
    alone = used_alone(info)
    if not alone:
        return "", ""
    every = ", ".join(info.get("modalities") or [])
    return f"model: {alone} alone", ALONE_NOTE.format(used=alone, all=every)


def order_note(order: str, random_fraction: float = 0.1) -> str:
    """What the figures are about under this next-item order (ADR 0013)."""
    if order == "shuffle":
        return SHUFFLE_NOTE
    return ACTIVE_NOTE.format(order=order, random=f"{random_fraction:.0%}")


def _retrain_progress(metrics: dict[str, float]) -> str:
    size = int(metrics.get("train/retrain_updates", 0))
    return f"{size - int(metrics.get('train/retrain_left', 0))} of {size} updates"


def retrain_text(metrics: dict[str, float]) -> str:
    """While the trainer retrains the model at once (a refit from new weights while the answers
    are few, or a renewal's catch-up: core/learning/renew.py) its new model is not shown yet."""
    answers = metrics.get("data/answers")
    on = f" on {int(answers)} answers" if answers is not None else ""
    return (
        f"training: retraining the model{on} ({_retrain_progress(metrics)}); "
        "the model from before answers until it is done"
    )


def retrain_short(metrics: dict[str, float]) -> str:
    """``retrain_text`` where the bar has no room for it."""
    return f"retraining ({_retrain_progress(metrics)})"


def starved_text(metrics: dict[str, float]) -> str:
    rate = metrics.get("perf/throughput_updates_per_s", 0.0)
    return f"training: starved ({rate:.1f} updates/s, other programs are using the CPU)"


class StatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.device = QLabel("device: —")
        self.version = QLabel("model v0")
        self.answers = QLabel("0 / 0 answered")
        self.state = QLabel("trainer: stopped")
        self.speed = QLabel("")
        self.order = QLabel("")  # "Next: uncertain", from the trainer's Info
        self.modalities = QLabel("")  # "model: audio alone" (ADR 0039); hidden while it fuses
        self.modalities.hide()
        self._order, self._random, self._choosing = "", 0.1, False
        self._handed_back: int | None = None  # the answers when the order handed back
        # the notes on the left: hidden unless training is starved, resp. a refit or a catch-up
        # is under way; shortened, then cut with "…" (full text in the tooltip) rather than
        # widening the window past the screen (at 1280 px the retraining note did)
        self.starved = ElidedLabel("")
        self.retrain = ElidedLabel("")
        self.embeddings = EmbeddingProgress()  # hidden unless embeddings are being computed
        self.addWidget(self.retrain, 1)
        self.addWidget(self.starved, 1)
        self.retrain.hide()
        self.starved.hide()
        # a message (a warning, a roll back) has the left of the bar to itself: the notes wait
        self.messageChanged.connect(lambda _text: self._show_notes())
        self.addPermanentWidget(self.embeddings)
        labels = (self.order, self.modalities, self.device, self.version, self.answers)
        for w in (*labels, self.state, self.speed):
            w.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(w)
        # numbers that change while the expert works keep their room: the labels to their left
        # and right do not shift by a digit's width (nor re-lay out the bar) on a click
        reserve_width(self.version, "model v00000")
        for state in TRAINER_STATES:  # the widest of them
            reserve_width(self.state, f"trainer: {state}")
        reserve_width(self.speed, "000 updates/s")
        self._answers_width = 0

    def set_counts(self, done: int, total: int) -> None:
        if len(str(total)) != self._answers_width:  # room for every count up to the total
            self._answers_width = len(str(total))
            digits = "0" * self._answers_width
            reserve_width(self.answers, f"{digits} / {digits} answered")
        self.answers.setText(f"{done} / {total} answered")

    def set_trainer_state(self, state: str) -> None:
        """A trainer that stopped (or paused) trains at no speed and is starved by nobody; a
        stopped one retrains nothing either: its notes go with it instead of going stale."""
        self.state.setText(f"trainer: {state}")
        if state in ("stopped", "error", "paused"):
            self.speed.setText("")
            self._note(self.starved, "")
        if state in ("stopped", "error"):
            self._note(self.retrain, "")

    def set_info(self, info: dict) -> None:
        self.embeddings.on_info(info)
        if "next_item" in info:
            self._choosing = False  # a trainer (re)started: the queue order until its first choice
            self._handed_back = None  # ... and it says again if it hands back (next_item.py)
            self._order, self._random = str(info["next_item"]), info.get("next_item_random", 0.1)
            self._show_order()
        if "next_item_handed_back" in info:
            self._handed_back = int(info["next_item_handed_back"])
            self._show_order()
        if "modalities_used" in info:
            text, tip = modalities_text(info)
            self.modalities.setText(text)
            self.modalities.setToolTip(tip)
            self.modalities.setVisible(bool(text))
        if "device" in info:
            self.device.setText(f"device: {info['device']}")
        if "model_version" in info:
            self.version.setText(f"model v{info['model_version']}")

    def on_next_items(self, _event=None) -> None:
        """The trainer chose items: the order is choosing now, no longer the queue's."""
        self._choosing = True
        self._show_order()

    def _show_order(self) -> None:
        order = self._order
        note = order_note(order, self._random)
        if self._handed_back is not None and order != "shuffle":
            self.order.setText(f"Next: queue order ({order} until {self._handed_back} answers)")
            note = HANDED_BACK_NOTE.format(order=order)
        elif order == "shuffle" or self._choosing:
            self.order.setText(f"Next: {order}")
        else:  # warm-up or readiness check: the queue order goes on (ADR 0013)
            self.order.setText(f"Next: {order} (queue order for now)")
            check = READINESS if order in GATED_ORDERS else ""
            note = WAITING_NOTE.format(order=order, check=check) + " " + note
        self.order.setToolTip(note)

    def on_event(self, ev) -> None:
        self.embeddings.on_metrics(ev.metrics)
        if ev.metrics and all(k.startswith("embeddings/") for k in ev.metrics):
            return  # the trainer's embedding progress (Metrics(0, 0, …)): not a model version
        self.version.setText(f"model v{ev.model_version}")
        ups = ev.metrics.get("perf/updates_per_s")
        if ups is not None:
            self.speed.setText(f"{ups:.0f} updates/s")
        left = ev.metrics.get("train/retrain_left")
        if left:
            self._note(self.retrain, retrain_text(ev.metrics), retrain_short(ev.metrics))
        elif left is not None or "data/model_version" in ev.metrics:
            self._note(self.retrain, "")  # done, or a new model shown (an undo dropped the refit)
        starved = ev.metrics.get("perf/starved")
        if starved is not None:
            self._note(
                self.starved, starved_text(ev.metrics) if starved else "", "training: starved"
            )

    def _note(self, label: ElidedLabel, text: str, *shorter: str) -> None:
        label.set_texts(text, *shorter)
        self._show_notes()

    def _show_notes(self) -> None:
        """The notes with a text show unless a message is up: drawn under it they overlapped
        ("Rolled back: …" over "retraining (77 of 300 updates)")."""
        for label in (self.retrain, self.starved):
            label.setVisible(bool(label.text()) and not self.currentMessage())

    def show_error(self, text: str) -> None:
        self.showMessage(text, 15000)
