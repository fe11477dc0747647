"""Volume viewer: time to the first painted slice and slice-scroll paint, on a 512×512×300 CT.

    QT_QPA_PLATFORM=offscreen OMP_NUM_THREADS=1 python benchmarks/volume_scroll.py \
        [--format dicom|nifti] [--size 512 --slices 300] [--opens 4] [--folder DIR] [--out FILE]

Writes the volume first (a CT series of int16 files with pydicom, or one uncompressed NIfTI with
nibabel; ``--folder`` keeps it between runs), then in one offscreen window (a ``VolumeView``
at 1000×800, the size it has in a maximised main window):

- **first painted slice**, ``--opens`` times: as the app opens an imported case
  (``load_for_display`` of the item import makes: ``volume_of_item`` from its record and the
  middle axial slice decoded) to the end of the window's first repaint showing that slice. The
  first open runs in a fresh process (imports done, files in the page cache since they were just
  written); the later ones are the warm figure (target ≤ 1 s). The two parts are also given
  apart: in the app the prefetch thread does ``load_for_display`` ahead, so only ``set_volume``
  + paint (``show_and_paint_ms``) is on the click's path. ``opens_from_files``: the same from
  ``read_volume`` of the folder or file (every header read, no import record).
- **slice-scroll paint**: one wheel notch at a time, sent to the viewport like a real one, timed
  from the event to the end of the window's first repaint after it (the slice read from the
  volume, windowed, handed to the image item and painted), over every axial slice, then the same
  on the coronal and sagittal planes. Their first slice reads the whole volume once, on a
  worker thread: given apart as ``plane_switch_ms`` (to the new plane painted),
  ``plane_switch_gui_cpu_ms`` (the GUI thread's CPU meanwhile), ``plane_switch_call_ms``
  (``set_plane`` itself) and ``plane_switch_longest_stall_ms`` (the event loop's longest gap,
  a 10 ms timer's). Target p95 ≤ 16 ms.
- per step also the wheel handler alone (slice read, windowed, handed to the image item) and the
  GUI thread's CPU time (wall time minus it is time spent waiting for a CPU: the machine's load
  average is in the report).
- RSS (current and peak) after the scrolls.

Prints one JSON object. ``--screenshots DIR`` then saves the main window showing each plane of
the volume with its slider (``docs/screenshots/volume_<plane>.png``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QObject, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from mmrl_desktop.core.data.volumes import read_volume
from mmrl_desktop.core.learning.trainer_loop import peak_rss_mb
from mmrl_desktop.gui.app import make_app
from mmrl_desktop.gui.bench_gui import _percentile
from mmrl_desktop.gui.viewers.volume_view import VolumeView

SPACING = (1.25, 0.7, 0.7)  # mm: slice, row, column (a usual chest CT)


def phantom(size: int, slices: int) -> np.ndarray:
    """A chest-like int16 phantom in stored values (HU + 1024): air, a body, two lungs that
    taper at both ends, a spine, a nodule in the right lung, a little noise."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size - 0.5
    body = (x / 0.42) ** 2 + (y / 0.3) ** 2 < 1
    spine = x**2 + (y - 0.2) ** 2 < 0.045**2
    rng = np.random.default_rng(0)
    out = np.empty((slices, size, size), np.int16)
    for k in range(slices):
        z = (k / max(slices - 1, 1) - 0.5) * 2  # -1 (feet) … +1 (head)
        r = max(0.0, 1 - ((z - 0.05) / 0.8) ** 2) ** 0.5  # the lungs' radius along z
        hu = np.full((size, size), -1000, np.int16)
        hu[body] = 40
        if r > 0:
            lungs = ((np.abs(x) - 0.17) / (0.12 * r + 1e-6)) ** 2 + (y / (0.19 * r + 1e-6)) ** 2
            hu[lungs < 1] = -850
        hu[spine] = 700
        d = (
            (x + 0.17) ** 2
            + (y + 0.02) ** 2
            + ((z - 0.2) * slices * SPACING[0] / 2 / (size * SPACING[1])) ** 2
        )
        hu[d < 0.02**2] = 60  # a nodule (patient right: the viewer's left)
        out[k] = hu + rng.integers(-20, 21, (size, size), dtype=np.int16) + 1024
    return out


def write_source(source: Path, fmt: str, stored: np.ndarray) -> None:
    """The volume as a DICOM series (files shuffled by name) or one NIfTI file (values in HU)."""
    from mmrl_desktop.core.data.volumes.synthetic import write_nifti, write_series

    if fmt == "dicom":
        names = [f"IM{n:05d}.dcm" for n in np.random.default_rng(1).permutation(len(stored))]
        tags = {"body_part": "CHEST", "series_description": "bench phantom"}
        write_series(source, stored, spacing=SPACING, names=names, tags=tags)
    else:
        write_nifti(source, (stored.astype(np.int32) - 1024).astype(np.int16), spacing=SPACING)


class PaintWatch(QObject):
    """The end of the window's next repaint (``UpdateRequest``), as ``bench_gui`` times it."""

    def __init__(self, window):
        super().__init__()
        self.window, self.painted_at = window, None
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if self.painted_at is None and obj is self.window and event.type() == QEvent.UpdateRequest:
            obj.removeEventFilter(self)
            try:
                obj.event(event)
            finally:
                obj.installEventFilter(self)
            self.painted_at = time.perf_counter()
            return True
        return False

    def wait(self, t0: float, timeout_s: float = 5.0) -> float:
        """ms from ``t0`` to the end of the next repaint."""
        end = time.perf_counter() + timeout_s
        while self.painted_at is None and time.perf_counter() < end:
            QCoreApplication.processEvents()
        at, self.painted_at = self.painted_at or time.perf_counter(), None
        return (at - t0) * 1e3


def wheel(view: VolumeView, notches: int = -1) -> None:
    vp = view.graphics.viewport()
    pos = QPointF(vp.width() / 2, vp.height() / 2)
    QApplication.sendEvent(
        vp,
        QWheelEvent(
            pos,
            QPointF(vp.mapToGlobal(pos.toPoint())),
            QPointF(0, 0).toPoint(),
            QPointF(0, 120 * notches).toPoint(),
            Qt.NoButton,
            Qt.NoModifier,
            Qt.NoScrollPhase,
            False,
        ),
    )


def _stats(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50": round(_percentile(ms, 50), 2),
        "p95": round(_percentile(ms, 95), 2),
        "max": round(max(ms), 2),
        "mean": round(statistics.fmean(ms), 2),
    }


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return round(int(fh.read().split()[1]) * 4096 / 2**20, 1)


def volume_item(source: Path, fmt: str):
    """The item import would make of this volume (its record: files, shape, geometry)."""
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.volumes.items import volume_record

    vol = read_volume(source)
    files = list(vol.voxels.files) if fmt == "dicom" else None
    root = source if fmt == "dicom" else source.parent
    record = volume_record("dicom-series" if fmt == "dicom" else "nifti", vol, str(root), files)
    info = {"source_root": str(root), "volume": record, "modality": "CT", "body_part": "CHEST"}
    return Item("chest_001", image=files[0] if files else str(source), info=info)


def opens(view: VolumeView, watch: PaintWatch, load, times: int) -> list[dict]:
    """``times`` × (``load()`` → a Volume; ``set_volume``; the first repaint)."""
    out = []
    for _ in range(times):
        view.set_volume(None)
        QCoreApplication.processEvents()
        watch.painted_at = None
        t0 = time.perf_counter()
        vol = load()
        t1 = time.perf_counter()
        view.set_volume(vol)
        total = watch.wait(t0)
        out.append(
            {
                "load_ms": round((t1 - t0) * 1e3, 1),
                "show_and_paint_ms": round(total - (t1 - t0) * 1e3, 1),
                "first_painted_slice_ms": round(total, 1),
            }
        )
    return out


def plane_switch(view: VolumeView, watch: PaintWatch, plane: str) -> dict:
    """``set_plane`` to the end of the first repaint showing that plane, in a real event loop (a
    whole read runs on a worker thread meanwhile): the wall time, the GUI thread's CPU time,
    ``set_plane`` itself, and the event loop's longest stall (the largest gap between the ticks
    of a 10 ms timer: the longest the GUI did not answer, plus up to 10 ms)."""
    loop, ticks = QEventLoop(), [time.perf_counter()]
    tick, poll = QTimer(interval=10), QTimer(interval=5)
    tick.timeout.connect(lambda: ticks.append(time.perf_counter()))

    def check() -> None:
        if view.plane() == plane and view.reading() is None and watch.painted_at is not None:
            loop.quit()

    def switched(_plane: str) -> None:
        watch.painted_at = None  # a paint before the switch (the "reading…" note) is not it

    poll.timeout.connect(check)
    view.planeChanged.connect(switched)
    tick.start()
    c0, t0 = time.thread_time(), time.perf_counter()
    view.set_plane(plane)
    call_ms = (time.perf_counter() - t0) * 1e3
    poll.start()
    QTimer.singleShot(60_000, loop.quit)
    loop.exec()
    cpu_ms = (time.thread_time() - c0) * 1e3
    ticks.append(time.perf_counter())
    tick.stop()
    poll.stop()
    view.planeChanged.disconnect(switched)
    at, watch.painted_at = watch.painted_at or time.perf_counter(), None
    return {
        "plane_switch_ms": round((at - t0) * 1e3, 1),  # until the new plane is painted
        "plane_switch_gui_cpu_ms": round(cpu_ms, 1),
        "plane_switch_call_ms": round(call_ms, 1),  # set_plane itself
        "plane_switch_longest_stall_ms": round(max(np.diff(ticks)) * 1e3, 1),
    }


def scroll(view: VolumeView, watch: PaintWatch, plane: str, steps: int) -> dict:
    switch = plane_switch(view, watch, plane) if plane != view.plane() else {}
    view.set_slice(0)
    watch.wait(time.perf_counter())
    ms, handler, cpu = [], [], []
    for _ in range(min(steps, view.slice_count() - 1)):
        c0, t0 = time.thread_time(), time.perf_counter()
        wheel(view)
        handler.append((time.perf_counter() - t0) * 1e3)
        ms.append(watch.wait(t0))
        cpu.append((time.thread_time() - c0) * 1e3)
    return {
        "plane_switch_ms": None,
        **switch,
        "scroll_paint_ms": _stats(ms),
        "handler_ms": _stats(handler),  # the wheel event: slice read, windowed, handed over
        "gui_thread_cpu_ms": _stats(cpu),  # CPU the GUI thread used per step (wall - this: waiting)
    }


def _hover(view: VolumeView, row: int, col: int) -> None:
    """A mouse move onto displayed pixel (row, col): the readout shows its voxel and value."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QMouseEvent

    pos = view.graphics.mapFromScene(view.image_item.mapToScene(QPointF(col + 0.5, row + 0.5)))
    vp = view.graphics.viewport()
    time.sleep(0.02)  # pyqtgraph drops mouse moves closer than 10 ms
    move = QMouseEvent(
        QEvent.MouseMove,
        QPointF(pos),
        QPointF(vp.mapToGlobal(QPoint(pos))),
        Qt.NoButton,
        Qt.NoButton,
        Qt.NoModifier,
    )
    QApplication.sendEvent(vp, move)


def screenshots(source: Path, fmt: str, folder: Path, size: int, slices: int) -> list[str]:
    """The main window (1280×800, trainer not started) on a one-case project holding this
    volume: each plane through the phantom's nodule, lung window, the cursor on the nodule,
    saved as ``volume_<plane>.png``. Works on a temporary project; ``source`` is only read."""
    from mmrl_desktop.core.data.items import Item
    from mmrl_desktop.core.data.project import Project, Task
    from mmrl_desktop.core.data.volumes.items import volume_record
    from mmrl_desktop.gui.bench_gui import _wait
    from mmrl_desktop.gui.main_window import MainWindow

    app = QApplication.instance()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-volume-shots-"))
    vol = read_volume(source)
    files = list(vol.voxels.files) if fmt == "dicom" else None
    root = source if fmt == "dicom" else source.parent
    record = volume_record("dicom-series" if fmt == "dicom" else "nifti", vol, str(root), files)
    info = {"source_root": str(root), "volume": record, "modality": "CT", "body_part": "CHEST"}
    first = files[0] if files else str(source)
    project = Project.create(tmp / "proj", tasks=[Task("finding", ["nodule", "normal"])])
    with project.open_store() as store:
        store.add_items([Item("chest_001", image=first, info=info, labels={"finding": "nodule"})])
    w = MainWindow(project, annotator="screenshots", device="cpu", start_trainer=False)
    w.resize(1280, 800)
    w.show()
    out = []
    try:
        _wait(app, lambda: w.labeling is not None and w.viewer.volume_view is not None, 30.0)
        view = w.viewer.volume_view
        k = round(0.6 * (slices - 1))  # the nodule: z = 0.2 of -1…1
        j, i = round(0.48 * size), round(0.33 * size)  # y = -0.02, x = -0.17 (patient right)
        at = {
            "axial": (k, j, i),
            "coronal": (j, slices - 1 - k, i),
            "sagittal": (i, slices - 1 - k, j),
        }
        for plane, (index, row, col) in at.items():
            view.set_plane(plane)  # read whole on a worker thread the first time
            _wait(app, lambda p=plane: view.plane() == p and view.reading() is None, 30.0)
            view.set_slice(index)
            view.apply_preset("lung")
            view.fit()
            _wait(app, lambda: False, 0.3)
            _hover(view, row, col)
            _wait(app, lambda: False, 0.3)
            path = folder / f"volume_{plane}.png"
            w.grab().save(str(path))
            out.append(str(path))
    finally:
        w.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--format", choices=("dicom", "nifti"), default="dicom")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--opens", type=int, default=4)
    ap.add_argument("--steps", type=int, default=299, help="wheel notches per plane")
    ap.add_argument("--folder", help="keep the written volume here (reused when present)")
    ap.add_argument("--out", help="also write the JSON here")
    ap.add_argument("--screenshots", help="save each plane as volume_<plane>.png in this folder")
    return ap.parse_args()


def measure(source: Path, args) -> dict:
    """Opens, then the scrolls of each plane, in one offscreen ``VolumeView``."""
    from mmrl_desktop.core.labelling.prefetch import load_for_display

    view = VolumeView()
    view.resize(1000, 800)
    view.show()
    for _ in range(20):
        QCoreApplication.processEvents()
    watch = PaintWatch(view)  # top level (its window() is the W/L)
    item = volume_item(source, args.format)
    first = opens(view, watch, lambda: load_for_display(item).volume, args.opens)
    from_files = opens(view, watch, lambda: read_volume(source), args.opens)
    planes = {p: scroll(view, watch, p, args.steps) for p in ("axial", "coronal", "sagittal")}
    return {
        "format": args.format,
        "shape": [args.slices, args.size, args.size],
        "dtype": "int16",
        "opens": first,  # as the app: load_for_display (the prefetch thread's part) + show
        "first_painted_slice_warm_ms": min(o["first_painted_slice_ms"] for o in first[1:])
        if len(first) > 1
        else None,
        "opens_from_files": from_files,  # read_volume: every header read, no import record
        "planes": planes,
        "rss_mb": rss_mb(),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "cpus": os.cpu_count(),
        "peak_rss_mb": peak_rss_mb(),
    }


def main() -> None:
    args = _args()
    make_app(offscreen=True)  # the app's style and fonts, as the window has them
    tmp = None if args.folder else Path(tempfile.mkdtemp(prefix="mmrl-volume-bench-"))
    base = Path(args.folder) if args.folder else tmp
    source = base / ("series" if args.format == "dicom" else "volume.nii")
    try:
        t = time.perf_counter()
        if not source.exists():
            write_source(source, args.format, phantom(args.size, args.slices))
        write_s = round(time.perf_counter() - t, 1)
        report = {"write_s": write_s, **measure(source, args)}
        if args.screenshots:
            report["screenshots"] = screenshots(
                source, args.format, Path(args.screenshots), args.size, args.slices
            )
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
