"""The status bar says when other programs starve the trainer, and stops saying it after."""

from __future__ import annotations

from mmrl_desktop.core.learning.trainer_messages import Metrics
from mmrl_desktop.gui.status import StatusBar


def _event(metrics: dict[str, float]) -> Metrics:
    return Metrics(step=40, model_version=7, metrics=metrics)


def test_a_starved_trainer_is_shown_and_the_note_goes_when_it_catches_up(qtbot, show_widget):
    bar = show_widget(StatusBar(), 1000, 24)
    bar.on_event(_event({"perf/updates_per_s": 40.0, "loss/total": 0.5}))
    assert bar.starved.text() == ""
    bar.on_event(_event({"perf/starved": 1.0, "perf/throughput_updates_per_s": 0.31}))
    assert bar.starved.text() == (
        "training: starved (0.3 updates/s, other programs are using the CPU)"
    )
    assert bar.starved.isVisible()
    bar.on_event(_event({"loss/total": 0.4}))  # an event without the verdict keeps it
    assert "starved" in bar.starved.text()
    bar.on_event(_event({"perf/starved": 0.0, "perf/throughput_updates_per_s": 30.0}))
    assert bar.starved.text() == ""
