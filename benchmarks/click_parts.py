"""Where a click's handler time goes, and what one window resize step costs, on the demo.

    QT_QPA_PLATFORM=offscreen python benchmarks/click_parts.py [--clicks 300] [--resizes 40]

Opens the real main window on a copy of the demo project (trainer running), clicks like
``bench-gui``'s simulated expert, and times the click handler and its parts by wrapping them:
the answer's transaction (``store.record``), the viewer showing the next item
(``viewer.show_item``), the panel, the queue. ``bench-gui`` gives the whole click → paint; this
says which part of the handler moved. Then it resizes the window back and forth and times each
step with its relayout and repaint (every viewer page built so far is laid out at the viewer's
size). Prints one JSON object: p50/p95 in ms per part.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from mmrl_desktop.core.data.demo import resolve_project
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.gui.app import make_app, release_window
from mmrl_desktop.gui.bench_gui import _percentile, _wait, simulated_answer
from mmrl_desktop.gui.main_window import MainWindow


def _timed(times: dict, obj, name: str, key: str) -> None:
    orig = getattr(obj, name)

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return orig(*args, **kwargs)
        finally:
            times[key].append((time.perf_counter() - t) * 1e3)

    setattr(obj, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clicks", type=int, default=300)
    ap.add_argument("--resizes", type=int, default=40)
    args = ap.parse_args()
    app = make_app(offscreen=True)
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-click-parts-"))
    try:
        shutil.copytree(resolve_project("demo").root, tmp / "p")
        window = MainWindow(Project.open(tmp / "p"), annotator="bench", device="cpu")
        window.resize(1280, 800)
        window.show()
        _wait(app, lambda: window.labeling is not None, 30.0)
        lab = window.labeling
        _wait(app, lambda: window.trainer.state in ("idle", "running", "error"), 60.0)
        times: dict[str, list[float]] = defaultdict(list)
        _timed(times, lab.session.store, "record_feedback", "store.record")
        _timed(times, lab.viewer, "show_item", "viewer.show_item")
        _timed(times, lab.feedback, "show_item", "feedback.show_item")
        _timed(times, lab.queue, "select", "queue.select")
        _timed(times, lab.queue, "item_changed", "queue.item_changed")
        for _ in range(args.clicks):
            t = time.perf_counter()
            simulated_answer(lab)
            times["handler"].append((time.perf_counter() - t) * 1e3)
            _wait(app, lambda: False, 0.03)
        for k in range(args.resizes):
            t = time.perf_counter()
            window.resize(1280 + (k % 2) * 40 + k, 800 + (k % 2) * 20)
            QCoreApplication.sendPostedEvents(None, 0)
            app.processEvents()
            times["resize step"].append((time.perf_counter() - t) * 1e3)
        pages = sum(len(ps) for ps in window.viewer._pages.values())
        release_window(window)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report = {
        key: {
            "n": len(v),
            "p50": round(statistics.median(v), 2),
            "p95": round(_percentile(v, 95), 2),
        }
        for key, v in sorted(times.items())
    }
    report["viewer_pages"] = pages
    print(json.dumps(report))


if __name__ == "__main__":
    main()
