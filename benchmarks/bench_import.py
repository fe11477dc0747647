"""Folder-import throughput: files indexed and validated per second (target ≥ 2,000 files/s).

Builds a folder of classes with small PNG, WAV and TXT files (a third each, grouped by stem into
multimodal items) in a temporary directory, then imports it into a fresh project several times
and prints the median files/s. Import validates headers only; pixels are not decoded.

    python benchmarks/bench_import.py [--files 5000] [--classes 10] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmrl_desktop.core.data.importer import import_source  # noqa: E402
from mmrl_desktop.core.data.project import Project  # noqa: E402


def build_source(root: Path, files: int, classes: int, seed: int = 0) -> int:
    """Write ``files`` small files (PNG/WAV/TXT in turn) under ``root/<class>/``. Returns count."""
    rng = np.random.default_rng(seed)
    png = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8)).save(png, "PNG")
    wav = io.BytesIO()
    with wave.open(wav, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(rng.integers(-3000, 3000, 1600, dtype=np.int16).tobytes())
    payload = {".png": png.getvalue(), ".wav": wav.getvalue(), ".txt": b"a short note\n"}
    suffixes = list(payload)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True, exist_ok=True)
    for i in range(files):
        stem, suffix = i // 3, suffixes[i % 3]
        folder = root / f"class{stem % classes}"
        (folder / f"case{stem:06d}{suffix}").write_bytes(payload[suffix])
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=5000)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        source = Path(tmp) / "source"
        n = build_source(source, args.files, args.classes)
        rates, seconds = [], []
        for r in range(args.repeats):
            project = Project.create(Path(tmp) / f"project{r}")
            t0 = time.perf_counter()
            result = import_source(source, project)
            dt = time.perf_counter() - t0
            assert result.skipped == [], result.skipped[:3]
            assert result.items == (n + 2) // 3, result.items
            seconds.append(dt)
            rates.append(n / dt)
    out = {
        "files": n,
        "items": (n + 2) // 3,
        "repeats": args.repeats,
        "seconds": [round(s, 3) for s in seconds],
        "files_per_s_median": round(statistics.median(rates)),
        "target_files_per_s": 2000,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"import of {n} files ({out['items']} items): median {out['files_per_s_median']} "
            f"files/s over {args.repeats} runs ({', '.join(f'{s:.2f}' for s in seconds)} s); "
            "target ≥ 2000 files/s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
