"""Volume reading costs (issue 15): a 512 × 512 × 300 int16 CT series, and memory from a 10-volume
to a 500-volume project.

    python -m benchmarks.volumes.measure big   [--dir /tmp/vol-measure]   # the large series
    python -m benchmarks.volumes.measure many  [--dir /tmp/vol-measure]   # 10 vs 500 volumes

``big``: writes the series (one file per slice, shuffled names) once; then, in a fresh process,
times the import's indexing (``scan_source``: headers only) and the write into a project, opens
the item's volume (``volume_of_item``, no header re-read) and times the first axial slice, ten
more slices, and a coronal reformat (which reads every slice once); RSS (``/proc/self/status``
VmRSS, and the peak VmHWM) after each step.

``many``: two projects of small series (16 × 64 × 64, 16 files each; the 500 case uses small
volumes so that it is written in minutes) — each measured in its own process: RSS after opening
the project and listing its items, and after opening every item's volume and reading its middle
slice in turn (as the viewer does case after case; nothing kept). One JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def rss_mb() -> dict:
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS", "VmHWM")):
                key, value = line.split(":")
                out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def write_big(root: Path) -> Path:
    from mmrl_desktop.core.data.volumes.synthetic import write_series

    src = root / "big-src"
    if (src / ".done").exists():
        return src
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:512, 0:512]
    body = ((yy - 256) / 200.0) ** 2 + ((xx - 256) / 240.0) ** 2 <= 1
    base = np.where(body, 1064, 24).astype(np.int16)  # 40 HU inside, -1000 outside (+1024)
    names = [f"{int(v):08x}.dcm" for v in rng.permutation(10**7)[:300]]
    stored = np.empty((300, 512, 512), np.int16)
    for k in range(300):
        stored[k] = base + rng.integers(-20, 20, (512, 512), dtype=np.int16)
    write_series(src / "ct" / "study", stored, (1.0, 0.7, 0.7), names=names)
    (src / ".done").write_text("ok")
    return src


def measure_big(root: Path) -> dict:
    from mmrl_desktop.core.data.importer import import_source, scan_source
    from mmrl_desktop.core.data.project import Project
    from mmrl_desktop.core.data.volumes import volume_of_item

    src = write_big(root)
    out: dict = {"start": rss_mb()}
    t = time.perf_counter()
    scan = scan_source(src)
    out["index_s"] = round(time.perf_counter() - t, 3)
    out["after_index"] = rss_mb()
    proj_dir = root / f"big-proj-{os.getpid()}"
    t = time.perf_counter()
    import_source(src, Project.create(proj_dir), holdout=0.0)
    out["import_s"] = round(time.perf_counter() - t, 3)
    with Project.open(proj_dir).open_store() as store:
        (item,) = store.items()
    t = time.perf_counter()
    vol = volume_of_item(item)
    first = vol.plane_slice("axial", vol.n_slices("axial") // 2)
    out["first_slice_s"] = round(time.perf_counter() - t, 4)
    out["shape"] = list(vol.shape)
    t = time.perf_counter()
    for k in range(10):
        vol.plane_slice("axial", k * 7)
    out["axial_slice_ms"] = round((time.perf_counter() - t) * 100, 2)
    out["after_axial"] = rss_mb()
    t = time.perf_counter()
    vol.plane_slice("coronal", 256)
    out["first_coronal_s"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    vol.plane_slice("sagittal", 256)
    out["next_sagittal_ms"] = round((time.perf_counter() - t) * 1000, 2)
    out["after_coronal"] = rss_mb()
    out["items"] = len(scan.items)
    assert first.shape == (512, 512)
    return out


def write_many(root: Path, n: int) -> Path:
    from mmrl_desktop.core.data.volumes.synthetic import write_series

    src = root / f"many-{n}"
    if (src / ".done").exists():
        return src
    rng = np.random.default_rng(n)
    for k in range(n):
        stored = rng.integers(0, 2000, (16, 64, 64)).astype(np.int16)
        write_series(src / ("a" if k % 2 else "b") / f"case{k:04d}", stored)
    (src / ".done").write_text("ok")
    return src


def measure_many(root: Path, n: int) -> dict:
    import gc

    from mmrl_desktop.core.data.importer import import_source
    from mmrl_desktop.core.data.project import Project
    from mmrl_desktop.core.data.volumes import volume_of_item

    proj_dir = root / f"many-proj-{n}"
    if not (proj_dir / "project.toml").exists():
        import_source(write_many(root, n), Project.create(proj_dir), holdout=0.0)
    gc.collect()
    out: dict = {"volumes": n, "start": rss_mb()}
    project = Project.open(proj_dir)
    with project.open_store() as store:
        items = store.items()
        out["after_items"] = rss_mb()
        for it in items:
            vol = volume_of_item(it)
            vol.plane_slice("axial", vol.n_slices("axial") // 2)
            del vol
        gc.collect()
        out["after_reading_all"] = rss_mb()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["big", "many", "_big", "_many"])
    ap.add_argument("--dir", default="/tmp/vol-measure")
    ap.add_argument("--n", type=int, default=10)
    args = ap.parse_args(argv)
    root = Path(args.dir)
    root.mkdir(parents=True, exist_ok=True)
    if args.what == "_big":
        print(json.dumps(measure_big(root)))
    elif args.what == "_many":
        print(json.dumps(measure_many(root, args.n)))
    elif args.what == "big":
        write_big(root)
        print(_child(["_big", "--dir", str(root)]))
    else:
        results = [
            json.loads(_child(["_many", "--dir", str(root), "--n", str(n)])) for n in (10, 500)
        ]
        growth = results[1]["after_reading_all"]["VmRSS"] - results[0]["after_reading_all"]["VmRSS"]
        print(json.dumps({"runs": results, "growth_mb_10_to_500": round(growth, 1)}))
    return 0


def _child(args: list[str]) -> str:
    """A fresh process for each measurement (its RSS is its own)."""
    cmd = [sys.executable, "-m", "benchmarks.volumes.measure", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    raise SystemExit(main())
