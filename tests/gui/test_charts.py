"""Live charts: ring buffer, key routing, throttled redraw."""

from __future__ import annotations

import numpy as np
import pytest

from mmrl_desktop.gui.charts import MAX_SERIES, ChartsPanel, RingBuffer


def test_ring_buffer_wraps_and_keeps_the_newest_in_order():
    buf = RingBuffer(5)
    storage = buf._x
    for i in range(3):
        buf.append(i, 10 * i)
    x, y = buf.data()
    assert list(x) == [0, 1, 2] and list(y) == [0, 10, 20]
    for i in range(3, 23):
        buf.append(i, 10 * i)
        x, y = buf.data()
        assert list(x) == list(range(max(0, i - 4), i + 1))  # always the last 5, oldest first
        assert list(y) == [10 * v for v in x]
    assert len(buf) == 5 and buf.last() == (22.0, 220.0)
    assert buf._x is storage  # preallocated: never reallocated
    buf.clear()
    assert len(buf) == 0 and buf.last() is None and len(buf.data()[0]) == 0


def test_redraw_timer_draws_only_after_changes(qtbot, charts):
    curve = charts._curves["loss/total"]
    assert not charts.timer.isActive()  # nothing to draw: no timer running
    for step in range(10):
        charts.add_point("loss/total", step, 1.0 / (step + 1))
    assert charts.timer.isActive()
    assert curve.getData()[0] is None or len(curve.getData()[0]) == 0  # not drawn per point
    qtbot.waitUntil(lambda: not charts.timer.isActive(), timeout=1000)
    x, y = curve.getData()
    assert list(x) == list(range(10)) and y[-1] == pytest.approx(0.1)
    assert "0.10" in charts.plots["loss"].titleLabel.text  # the title shows the latest value
    charts.flush()  # nothing dirty: a no-op
    assert not charts.timer.isActive()


def test_ring_buffer_wraps_in_the_panel(qtbot, charts):
    for step in range(250):
        charts.add_point("reward/thumbs_up_cum", step, step / 250)
    charts.flush()
    x, _ = charts._curves["reward/thumbs_up_cum"].getData()
    assert len(x) == 100 and x[0] == 150 and x[-1] == 249


def test_keys_are_routed_to_their_plots(charts):
    for key in (
        "reward/thumbs_up_ma",
        "reward/thumbs_up_cum",
        "loss/total",
        "kl/ref",
        "eval/accuracy",
        "perf/updates_per_s",
    ):
        charts.add_point(key, 1, 0.5)
    charts.add_point("loss/policy", 1, 0.3)  # open prefix: a new curve in the loss plot
    charts.add_point("perf/device_ms", 1, 3.0)  # other perf numbers: ignored
    charts.add_point("something/else", 1, 3.0)  # unknown: ignored
    charts.add_point("kl/ref", 2, float("nan"))  # non-finite: dropped
    charts.add_point("kl/ref", "x", 1.0)  # not a number: dropped
    charts.flush()
    keys = charts.keys()
    assert "loss/policy" in keys
    assert "perf/device_ms" not in keys and "something/else" not in keys
    assert len(charts.series("kl/ref")) == 1
    title = charts.plots["loss"].titleLabel.text
    assert "total" in title  # the first curve got a name once a second came (one name fits)
    assert charts.series("loss/policy") is not None
    for i in range(10):
        charts.add_point(f"eval/metric_{i}", 1, 0.1)
    assert len(charts._members["eval"]) == MAX_SERIES


def test_clear_empties_every_curve(qtbot, charts):
    charts.add_point("loss/total", 1, 2.0)
    charts.add_point("eval/accuracy", 1, 0.7)
    charts.flush()
    charts.clear()
    assert len(charts.series("loss/total")) == 0 and not charts.timer.isActive()
    x, _ = charts._curves["loss/total"].getData()
    assert x is None or len(x) == 0


def test_layout_switches_to_two_rows_when_tall(qtbot, charts):
    assert charts._columns == 6
    charts.resize(800, 500)
    qtbot.waitUntil(lambda: charts._columns == 3, timeout=1000)
    charts.resize(1280, 230)
    qtbot.waitUntil(lambda: charts._columns == 6, timeout=1000)


def test_add_point_is_cheap(charts):
    import time

    t0 = time.perf_counter()
    for i in range(5000):
        charts.add_point("loss/total", i, np.sin(i))
    per_point = (time.perf_counter() - t0) / 5000
    assert per_point < 50e-6  # a store into numpy, no drawing


def test_ring_buffer_extend_and_pop():
    buf = RingBuffer(5)
    buf.append(0, 0)
    buf.extend([1, 2, 3], [10, 20, 30])
    assert list(buf.data()[0]) == [0, 1, 2, 3]
    buf.extend(range(4, 10), range(40, 100, 10))  # more than fits: the newest 5
    assert list(buf.data()[0]) == [5, 6, 7, 8, 9] and buf.last() == (9.0, 90.0)
    buf.pop()
    assert buf.last() == (8.0, 80.0) and len(buf) == 4


def test_prequential_band_is_one_decimated_path(qtbot):
    from mmrl_desktop.gui.charts import BAND_POINTS

    charts = ChartsPanel()
    qtbot.addWidget(charts)
    n = 3 * BAND_POINTS
    charts.load_series("preq/accuracy", np.arange(1, n + 1), np.full(n, 0.5))
    charts.load_series("preq/low", np.arange(1, n + 1), np.linspace(0.0, 0.4, n))
    charts.load_series("preq/high", np.arange(1, n + 1), np.linspace(1.0, 0.6, n))
    charts.flush()
    path = charts._band.path()
    assert 2 * 100 <= path.elementCount() <= 2 * BAND_POINTS + 2  # not one vertex per answer
    rect = path.boundingRect()
    assert (rect.left(), rect.right()) == (1.0, n) and rect.top() == 0.0 and rect.bottom() == 1.0
    assert "0.50 (0.40–0.60)" in charts.plots["preq"].titleLabel.text
    charts.pop_point("preq/accuracy")
    assert charts.series("preq/accuracy").last()[0] == n - 1


def _fill_every_plot(charts):
    """Values whose titles are the longest the panel shows: an interval, two held-out curves."""
    for step in range(1, 6):
        charts.add_point("preq/accuracy", step, 0.0)
        charts.add_point("preq/low", step, 0.0)
        charts.add_point("preq/high", step, 0.24)
    for key in ("reward/thumbs_up_ma", "reward/thumbs_up_cum", "loss/total", "loss/label"):
        charts.add_point(key, 1, 0.123)
    charts.add_point("eval/accuracy", 200, 0.56)
    charts.add_point("eval/macro_f1", 200, 0.41)
    charts.add_point("kl/ref", 1, 1.1)
    charts.add_point("perf/updates_per_s", 1, 28.34)
    charts._titles_at = 0.0  # titles due now
    charts.flush()


@pytest.mark.parametrize("size", [(1280, 230), (1920, 260), (900, 420)])
def test_every_title_fits_its_plot(qtbot, charts, size):
    charts.resize(*size)
    _fill_every_plot(charts)
    qtbot.wait(50)  # the layout settles
    for pid, plot in charts.plots.items():
        text = plot.titleLabel.item.boundingRect().width()
        assert text <= plot.geometry().width(), (pid, plot.titleLabel.text)
    assert "0.00 (0.00–0.24)" in charts.plots["preq"].titleLabel.text
    assert "accuracy" in charts.plots["preq"].toolTip()  # the full name: on hover


def test_a_single_held_out_point_is_seen_against_step_zero(qtbot, charts):
    charts.add_point("eval/accuracy", 200, 0.56)
    charts.flush()
    curve = charts._curves["eval/accuracy"]
    assert curve.opts["symbol"] is not None  # one evaluation is a dot, not an invisible line
    (x0, x1), _ = charts.plots["eval"].getViewBox().viewRange()
    assert x0 <= 0 and x1 >= 200


@pytest.mark.parametrize("height", [160, 230])
def test_a_note_stays_inside_its_plot(qtbot, charts, height):
    from mmrl_desktop.core.evaluation.prequential import NO_HOLDOUT

    charts.resize(1280, height)
    charts.set_note("eval", NO_HOLDOUT)
    qtbot.wait(50)
    item = charts._notes["eval"][0]
    box = charts.plots["eval"].getViewBox().geometry()
    shown = item.mapRectToParent(item.boundingRect())
    assert shown.bottom() <= box.bottom() + 1 and shown.right() <= box.right() + 1
    assert charts.note("eval") == NO_HOLDOUT  # the full sentence, also as a tooltip
    if item.toPlainText() != NO_HOLDOUT:
        assert item.toolTip() == NO_HOLDOUT and item.toPlainText().endswith("…")


def test_the_trainers_metrics_are_plotted_under_the_keys_they_arrive_with(charts):
    """The trainer sends the charts' keys (core/learning/trainer_messages.chart_keys): the panel
    renames nothing, so a per-task key of a one-task project is not folded here any more."""
    from mmrl_desktop.core.learning.trainer_messages import Metrics

    charts.add_trainer_metrics(Metrics(5, 2, {"kl/ref": 0.25, "loss/total": 1.5}))
    assert charts.series("kl/ref").last() == (5.0, 0.25)
    assert charts.series("loss/total").last() == (5.0, 1.5)


def test_the_network_alone_is_named_beside_the_held_out_accuracy(charts):
    """With new_item_vote the held-out plot has a second curve, the network without the pool's
    vote (what an export predicts), named so in the tooltip."""
    charts.add_point("eval/accuracy", 10, 0.6)
    charts.add_point("eval/network_accuracy", 10, 0.4)
    charts.flush()
    tip = charts.plots["eval"].toolTip()
    assert "network alone 0.4" in tip and "accuracy 0.6" in tip
    assert "as an export predicts" in tip
