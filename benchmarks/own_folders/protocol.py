"""The app's bench protocol, repeated outside the app so the anchors see the same items.

``mmrl-desktop bench`` (``core/tools/bench.py``) imports the folder (``core/data/importer.py``:
class folders in natural order, then each class's file stems in natural order), splits the
labelled items with scikit-learn's ``train_test_split(test_size=holdout, random_state=seed,
stratify=labels)``, and asks about the stream items in the order that call returns them,
cycling when the answers outnumber the stream. The anchors train on the distinct items of the
first N asks and are scored on the same held-out items. ``tests/test_own_folders.py`` checks the
order against the app's importer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SUFFIXES = {
    "image": (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"),
    "audio": (".wav", ".flac", ".ogg", ".mp3"),
    "text": (".txt",),
}


def natural_key(text: str) -> list:
    """'2' before '10'; case-insensitive otherwise (as the app's importer)."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text)]


@dataclass(frozen=True)
class Entry:
    item_id: str  # <label>/<stem>, as the app names it
    label: str
    path: Path


def folder_items(folder: Path, modality: str) -> list[Entry]:
    """The labelled items of a class-folder SOURCE in the app's import order."""
    out = []
    classes = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
    for cls in sorted(classes, key=lambda p: natural_key(p.name)):
        files = [
            f
            for f in cls.iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in SUFFIXES[modality]
        ]
        for f in sorted(files, key=lambda f: natural_key(f.stem)):
            out.append(Entry(f"{cls.name}/{f.stem}", cls.name, f))
    return out


# the app's own split (the anchors must see the same held-out items): one piece of code
from mmrl_desktop.core.tools.bench import stratified_split  # noqa: E402,F401


def answered(stream: list[int], n: int) -> list[int]:
    """The distinct items of the first ``n`` asks (the stream cycles), in first-ask order."""
    seen: dict[int, None] = {}
    for t in range(n):
        seen.setdefault(stream[t % len(stream)], None)
    return list(seen)
