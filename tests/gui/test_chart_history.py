"""Charts restored at open (issue 12.8) and the prequential chart (issue 12.1): the answers in the
log come back as the thumbs-up and prequential curves, the trainer's stored metrics as theirs, and
a plot that has no figure says why."""

from __future__ import annotations

import time

import numpy as np
import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.evaluation import prequential
from mmrl_desktop.core.labelling.session import LabelingSession
from mmrl_desktop.core.metrics import wilson_interval
from mmrl_desktop.gui.chart_history import (
    MOVING_AVERAGE,
    ThumbsUpRates,
    metrics_series,
    thumbs_series,
)
from mmrl_desktop.gui.charts import NO_ANSWERS_NOTE
from mmrl_desktop.gui.main_window import MainWindow

LABELS = ["a", "b", "c"]


def _project(tmp_path, n_items: int = 30) -> Project:
    p = Project.create(tmp_path / "proj", tasks=[Task("label", LABELS)])
    with p.open_store() as s:  # text items, all in the pool: no held-out items
        s.add_items(
            Item(f"t{k}", text_inline=f"note {k}", labels={"label": LABELS[k % 3]})
            for k in range(n_items)
        )
    return p


def _answer(project: Project, pattern: list[int]) -> None:
    """Answer through the real session: 1 thumbs-up, -1 thumbs-down, 0 a correction."""
    with project.open_store() as store:
        s = LabelingSession(project, store, "tester", seed=0)
        for a in pattern:
            if a == 0:
                s.answer(-1, corrected={"label": "c"}) if s.prediction(
                    s.current_item().item_id, "label"
                ).shown_label != "c" else s.answer(-1)
            else:
                s.answer(a)
        store.add_metrics("run-old", 40, {"loss/total": 2.0, "loss/label": 2.0, "kl/label": 0.1})
        store.add_metrics("run-old", 80, {"loss/total": 1.5, "kl/label": 0.2})


def _open(qtbot, project) -> MainWindow:
    w = MainWindow(project, annotator="tester", device="cpu", start_trainer=False)
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.ready, timeout=30000):
        w.show()
    qtbot.waitExposed(w)
    return w


def test_thumbs_series_is_the_live_moving_average():
    ups = [True, False, True, True] * 10
    x, ma = thumbs_series(ups)["reward/thumbs_up_ma"]
    _, cum = thumbs_series(ups)["reward/thumbs_up_cum"]
    for i in range(len(ups)):
        window = ups[max(0, i + 1 - MOVING_AVERAGE) : i + 1]
        assert ma[i] == pytest.approx(sum(window) / len(window))
        assert cum[i] == pytest.approx(sum(ups[: i + 1]) / (i + 1)) and x[i] == i + 1


def test_each_answers_thumbs_up_point_comes_from_the_same_rates_as_the_history():
    """One source for the thumbs-up chart: adding answers one by one (a click) gives the points
    the restored history has, and undo takes the last one back."""
    ups = [k % 3 != 0 for k in range(130)]
    live = ThumbsUpRates()
    points = [live.add(u) for u in ups]
    x, recent = thumbs_series(ups)["reward/thumbs_up_ma"]
    _, every = thumbs_series(ups)["reward/thumbs_up_cum"]
    assert [p[0] for p in points] == list(x)
    assert [p[1] for p in points] == pytest.approx(list(recent))
    assert [p[2] for p in points] == pytest.approx(list(every))
    live.pop()
    assert len(live) == 129 and live.add(ups[-1]) == points[-1]


def test_metrics_rows_fold_like_live_events():
    rows = [
        ("r", 10, "loss/total", 2.0, 0.0),
        ("r", 10, "loss/label", 2.0, 0.0),  # duplicates loss/total: left out
        ("r", 10, "kl/label", 0.3, 0.0),  # one task: the KL to the starting model
        ("r", 10, "data/answers", 5.0, 0.0),
        ("r", 20, "eval/accuracy_label", 0.5, 0.0),
    ]
    s = metrics_series(rows, ["label"], capacity=100)
    assert list(s["loss/total"][0]) == [10] and list(s["kl/ref"][1]) == [0.3]
    assert list(s["eval/accuracy"][0]) == [20] and "loss/label" not in s


def test_charts_restored_after_reopening_a_project_with_answers(qtbot, tmp_path):
    project = _project(tmp_path)
    _answer(project, [1, -1, 0, 1, 1, -1, 1, 0, -1, 1, 1, 1])
    with project.open_store() as store:
        live = store.active_feedback()
    right = sum(e.reward > 0 for e in live)
    n = len(live)
    w = _open(qtbot, project)
    charts = w.charts
    qtbot.waitUntil(lambda: len(charts.series("preq/accuracy")) == n, timeout=10000)
    assert charts.series("preq/accuracy").last() == pytest.approx((n, right / n))
    lo, hi = wilson_interval(right, n)
    assert charts.series("preq/low").last()[1] == pytest.approx(lo)
    assert charts.series("preq/high").last()[1] == pytest.approx(hi)
    assert len(charts.series("reward/thumbs_up_cum")) == n
    assert charts.series("reward/thumbs_up_cum").last()[1] == pytest.approx(right / n)
    assert charts.series("loss/total").last() == (80.0, 1.5)  # the stored training metrics
    assert len(charts.series("kl/ref")) == 2
    qtbot.waitUntil(lambda: charts.note("preq") is None, timeout=5000)  # it has data
    assert charts.note("eval") == prequential.NO_HOLDOUT  # no figure: one sentence why
    x, y = charts._curves["preq/accuracy"].getData()
    assert len(x) == n and y[-1] == pytest.approx(right / n)

    # a live answer adds one point after the paint; undo takes it away again
    w.labeling.thumb_up()
    qtbot.waitUntil(lambda: len(charts.series("preq/accuracy")) == n + 1, timeout=5000)
    assert charts.series("preq/accuracy").last()[1] == pytest.approx((right + 1) / (n + 1))
    w.labeling.undo()
    assert len(charts.series("preq/accuracy")) == n
    assert len(charts.series("reward/thumbs_up_ma")) == n
    assert charts.series("preq/accuracy").last()[1] == pytest.approx(right / n)
    qtbot.waitUntil(lambda: w.labeling._settled, timeout=5000)  # its look-ahead ran
    w.shutdown()


def test_a_new_project_says_why_its_charts_are_empty(qtbot, tmp_path):
    w = _open(qtbot, _project(tmp_path))
    qtbot.waitUntil(lambda: w.labeling.answer_charts.restored, timeout=10000)
    assert w.charts.note("preq") == NO_ANSWERS_NOTE
    assert w.charts.note("eval") == prequential.NO_HOLDOUT
    w.labeling.thumb_down()
    qtbot.waitUntil(lambda: len(w.charts.series("preq/accuracy")) == 1, timeout=5000)
    qtbot.waitUntil(lambda: w.charts.note("preq") is None, timeout=5000)  # redrawn: it went
    assert w.charts.series("preq/accuracy").last() == (1.0, 0.0)
    qtbot.waitUntil(lambda: w.labeling._settled, timeout=5000)
    w.shutdown()


def test_restore_reads_off_the_gui_thread_fast_enough(tmp_path):
    from mmrl_desktop.gui.chart_history import read_history

    project = _project(tmp_path, n_items=60)
    _answer(project, [1, -1] * 30)
    with project.open_store() as store:
        upto = store.last_event_id()
        actions = LabelingSession(project, store, "t").undo_stack
    t0 = time.perf_counter()
    h = read_history(str(project.root), upto, actions, ["label"], time.time())
    assert time.perf_counter() - t0 < 2.0
    assert len(h.right) == 60 and len(h.ups) == 60 and h.holdout_items == 0
    assert np.mean(h.right) == pytest.approx(0.5)


def test_a_held_out_chart_without_a_figure_yet_says_when_it_comes(qtbot, tmp_path):
    from mmrl_desktop.gui.chart_history import NO_EVAL_YET

    p = _project(tmp_path)
    with p.open_store() as s:
        s.set_split(["t0", "t1", "t2"], "holdout")
    w = _open(qtbot, p)
    qtbot.waitUntil(lambda: w.labeling.answer_charts.restored, timeout=10000)
    assert w.charts.note("eval") == NO_EVAL_YET
    w.charts.add_metrics(200, {"eval/accuracy": 0.5})
    qtbot.waitUntil(lambda: w.charts.note("eval") is None, timeout=5000)
    qtbot.waitUntil(lambda: w.labeling._settled, timeout=5000)
    w.shutdown()
