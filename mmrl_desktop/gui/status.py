"""The status bar: device, model version, answers given, trainer state, updates per second."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar


class StatusBar(QStatusBar):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.device = QLabel("device: —")
        self.version = QLabel("model v0")
        self.answers = QLabel("0 / 0 answered")
        self.state = QLabel("trainer: stopped")
        self.speed = QLabel("")
        for w in (self.device, self.version, self.answers, self.state, self.speed):
            w.setContentsMargins(8, 0, 8, 0)
            self.addPermanentWidget(w)

    def set_counts(self, done: int, total: int) -> None:
        self.answers.setText(f"{done} / {total} answered")

    def set_trainer_state(self, state: str) -> None:
        self.state.setText(f"trainer: {state}")

    def set_info(self, info: dict) -> None:
        if "device" in info:
            self.device.setText(f"device: {info['device']}")
        if "model_version" in info:
            self.version.setText(f"model v{info['model_version']}")

    def on_event(self, ev) -> None:
        self.version.setText(f"model v{ev.model_version}")
        ups = ev.metrics.get("perf/updates_per_s")
        if ups is not None:
            self.speed.setText(f"{ups:.0f} updates/s")

    def show_error(self, text: str) -> None:
        self.showMessage(text, 15000)
