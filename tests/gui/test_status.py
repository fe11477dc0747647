"""The status bar says when other programs starve the trainer, and while it retrains the model
at once (a refit), and stops saying it after."""

from __future__ import annotations

import pytest

from mmrl_desktop.core.learning.trainer_messages import Metrics
from mmrl_desktop.gui.status import StatusBar


def _event(metrics: dict[str, float]) -> Metrics:
    return Metrics(step=40, model_version=7, metrics=metrics)


NOTES = {  # a note on the left of the bar: the event that shows it, its text, the one that ends it
    "starved": (
        {"perf/starved": 1.0, "perf/throughput_updates_per_s": 0.31},
        "training: starved (0.3 updates/s, other programs are using the CPU)",
        {"perf/starved": 0.0, "perf/throughput_updates_per_s": 30.0},
    ),
    "retrain": (
        {"train/retrain_left": 450.0, "train/retrain_updates": 600.0, "data/answers": 27.0},
        "training: retraining the model on 27 answers (150 of 600 updates); "
        "the model from before answers until it is done",
        {"train/retrain_left": 0.0, "train/retrain_updates": 600.0},
    ),
}


@pytest.mark.parametrize("note", sorted(NOTES))
def test_a_note_is_shown_while_it_holds_and_goes_after(qtbot, show_widget, note):
    """Starved by other programs; retraining the model at once (a refit or a catch-up)."""
    shown, text, ended = NOTES[note]
    bar = show_widget(StatusBar(), 1000, 24)
    label = getattr(bar, note)
    bar.on_event(_event({"perf/updates_per_s": 40.0, "loss/total": 0.5}))
    assert label.text() == ""
    bar.on_event(_event({**shown, "loss/total": 0.5}))
    assert label.text() == text and label.isVisible()
    bar.on_event(_event({"loss/total": 0.4}))  # an event without its numbers keeps it
    assert label.text() == text
    bar.on_event(_event(ended))
    assert label.text() == ""


def test_a_message_has_the_left_of_the_bar_to_itself(qtbot, show_widget):
    """A roll back's or a warning's message was drawn over the retraining note."""
    shown, text, _ = NOTES["retrain"]
    bar = show_widget(StatusBar(), 1000, 24)
    bar.on_event(_event(shown))
    assert bar.retrain.isVisible()
    bar.show_error("Rolled back: training continues from ckpt-00000102.")
    assert not bar.retrain.isVisible()
    bar.on_event(_event({**shown, "train/retrain_left": 300.0}))  # a note that changes: still hid
    assert not bar.retrain.isVisible() and "300 of 600" in bar.retrain.text()
    bar.clearMessage()
    assert bar.retrain.isVisible()


def test_a_stopped_trainer_leaves_no_stale_notes(qtbot, show_widget):
    bar = show_widget(StatusBar(), 1000, 24)
    bar.set_trainer_state("running")
    bar.on_event(_event({**NOTES["retrain"][0], **NOTES["starved"][0], "perf/updates_per_s": 5.0}))
    assert bar.retrain.isVisible() and bar.starved.isVisible() and bar.speed.text()
    bar.set_trainer_state("paused")
    assert bar.retrain.isVisible() and not bar.starved.isVisible() and bar.speed.text() == ""
    bar.set_trainer_state("stopped")
    assert not bar.retrain.isVisible() and bar.retrain.text() == ""


def test_a_retraining_note_goes_when_a_new_model_is_shown_without_it(qtbot, show_widget):
    bar = show_widget(StatusBar(), 1000, 24)
    bar.on_event(_event({"train/retrain_left": 10.0, "train/retrain_updates": 20.0}))
    assert bar.retrain.text().startswith("training: retraining the model (10 of 20 updates)")
    bar.on_event(_event({"data/model_version": 9.0}))  # an undo dropped it: a new model shown
    assert bar.retrain.text() == ""


def test_the_embedding_progress_bar_shows_while_embeddings_are_computed(qtbot, show_widget):
    bar = show_widget(StatusBar(), 1000, 24)
    assert not bar.embeddings.isVisible()  # no pretrained encoder: nothing shown
    bar.set_info({"device": "cpu", "embeddings_done": 120, "embeddings_total": 1797})
    assert bar.embeddings.isVisible() and bar.embeddings.text() == "Embeddings 120 / 1,797"
    bar.on_event(_event({"loss/total": 0.5}))
    assert bar.version.text() == "model v7"
    progress = Metrics(step=0, model_version=0, metrics={"embeddings/done": 1500.0,
                                                        "embeddings/total": 1797.0})  # fmt: skip
    bar.on_event(progress)  # how the trainer loop sends it (trainer_loop.py)
    assert bar.embeddings.value() == 1500 and bar.embeddings.text() == "Embeddings 1,500 / 1,797"
    assert bar.version.text() == "model v7"  # the progress is not a model version
    bar.on_event(_event({"loss/total": 0.4}))  # an event without the numbers keeps the bar
    assert bar.embeddings.isVisible()
    bar.set_info({"embeddings_done": 1797, "embeddings_total": 1797})
    assert not bar.embeddings.isVisible()


def test_a_long_note_never_widens_the_window_past_1280_px(qtbot, show_widget):
    """The retraining note once made the main window 1,591 px wide on a 1280 px request: the
    notes shorten, then cut with "…", and keep the full text as their tooltip."""
    from PySide6.QtWidgets import QMainWindow

    win, bar = QMainWindow(), StatusBar()
    win.setStatusBar(bar)
    show_widget(win, 1280, 800)
    bar.set_info({"next_item": "shuffle", "device": "cpu", "model_version": 12})
    bar.set_counts(30, 150)
    shown, text, _ = NOTES["retrain"]
    bar.on_event(_event({**shown, **NOTES["starved"][0]}))
    qtbot.wait(50)
    assert bar.minimumSizeHint().width() <= 1280 and win.width() == 1280
    assert bar.retrain.toolTip() == text and bar.retrain.shown_text() != text


def test_the_bar_says_when_the_model_predicts_from_one_modality_alone(qtbot, show_widget):
    """[model] modality_choice (ADR 0039): shown only while the model leaves a modality out."""
    bar = show_widget(StatusBar(), 1000, 24)
    both = ["image", "audio"]
    bar.set_info({"device": "cpu", "modalities": both, "modalities_used": both})
    assert bar.modalities.isHidden()
    bar.set_info({"modalities": both, "modalities_used": ["audio"]})
    assert bar.modalities.isVisible() and bar.modalities.text() == "model: audio alone"
    assert "better than with every modality" in bar.modalities.toolTip()
    bar.set_info({"modalities": both, "modalities_used": both})
    assert bar.modalities.isHidden()
    bar.set_info({"modalities": ["image"], "modalities_used": None})  # no fusion: nothing to say
    assert bar.modalities.isHidden()
