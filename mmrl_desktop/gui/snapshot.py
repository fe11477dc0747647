"""Render the main window offscreen to PNG files (``mmrl-desktop snapshot``).

One PNG per modality present (image, DICOM, volume, audio, text, multimodal), the charts after simulated
clicks, and the evaluation view. Works on a temporary copy of the project, so the user's answers
are never touched.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from mmrl_desktop.core.data.items import Item, Modality
from mmrl_desktop.core.data.project import Project


def _kind(item: Item) -> str:
    mods = item.modalities
    if len(mods) > 1:
        return "multimodal"
    if mods == (Modality.VOLUME,):  # a series or NIfTI: its ``image`` is the first file
        return "volume"
    if item.image:
        return "dicom" if _is_dicom(item.image) else "image"
    if item.audio:
        return "audio"
    return "text"


def _is_dicom(path: str) -> bool:
    from mmrl_desktop.core.data.loaders import has_dicom_preamble  # never opens a FIFO or device

    return path.lower().endswith(".dcm") or has_dicom_preamble(path)


def _click(app, window, clicks: int) -> None:
    """Fill the charts: ``clicks`` answers of a simulated expert (the right label when known),
    then, in a project with held-out items, wait for the first evaluation's plot."""
    from mmrl_desktop.gui.bench_gui import _wait, simulated_answer

    lab = window.labeling
    for _ in range(clicks if lab.session.tasks else 0):
        simulated_answer(lab, unlabelled="skip")
        _wait(app, lambda: False, 0.15)
    _wait(app, lambda: False, 1.5)
    held_out = window.charts.series("eval/accuracy")
    if clicks and held_out is not None and window.charts.note("eval") is None:
        _wait(app, lambda: len(held_out) > 0, 30.0)
        _wait(app, lambda: False, 0.6)


def take_snapshots(
    project_dir: str | Path,
    out_dir: str | Path,
    clicks: int = 60,
    size: tuple[int, int] = (1280, 800),
) -> list[Path]:
    from mmrl_desktop.gui.app import make_app, release_window
    from mmrl_desktop.gui.bench_gui import _wait
    from mmrl_desktop.gui.main_window import MainWindow

    app = make_app(offscreen=True)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-snapshot-"))
    try:
        work = tmp / "project"
        shutil.copytree(project_dir, work)
        window = MainWindow(Project.open(work), annotator="snapshot")
        window.resize(*size)
        window.show()
        _wait(app, lambda: window.labeling is not None, 30.0)
        lab = window.labeling
        _wait(app, lambda: window.trainer.state in ("idle", "running", "error"), 120.0)
        _click(app, window, clicks)
        # one item of each kind
        seen: dict[str, str] = {}
        for it in lab.session.items:
            seen.setdefault(_kind(it), it.item_id)
        for kind in ("image", "dicom", "volume", "audio", "text", "multimodal"):
            if kind in seen:
                lab.activate(seen[kind])
                _wait(app, lambda: False, 0.4)
                path = out / f"{kind}.png"
                window.grab().save(str(path))
                written.append(path)
        path = out / "charts.png"
        window.charts.grab().save(str(path))
        written.append(path)
        path = out / "main_window.png"
        lab.activate(seen.get("image") or next(iter(seen.values())))
        _wait(app, lambda: False, 0.3)
        window.grab().save(str(path))
        written.append(path)
        evaluation = getattr(window, "evaluation_snapshot", None)
        if evaluation is not None:
            path = out / "evaluation.png"
            evaluation(path)
            written.append(path)
        release_window(window)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
