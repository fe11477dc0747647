"""The suite's data sets: how each is made, its modality, and the extra ``bench`` arguments the
app's runs take for it; ``ensure`` makes a set once in a cache folder and reuses it.

The data set itself is fixed (``DATA_SEED``); the bench seeds vary the split and the learners."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from benchmarks.own_folders import images, sound, texts

DATA_SEED = 0
VERSION = 2  # bump when a generator changes, so cached folders are remade


@dataclass(frozen=True)
class DataSet:
    name: str
    modality: str  # image | audio | text
    writer: object  # (out: Path, per_class: int, seed: int) -> info dict
    per_class: int  # items per class of the full set (>= ~430 items in all: 300 + a hold-out)
    orientation_free: bool = False  # flips / 90° turns keep the label (the anchors use them)
    cnn_size: int = 32  # the image anchor's input side
    bench_args: tuple[str, ...] = field(default=())  # extra `mmrl-desktop bench` arguments


# the app is told what the anchors assume: flips and 90° turns keep these sets' labels (a user
# ticks the wizard's "orientation does not matter" for such a folder)
_FREE = ("--orientation-free",)
_TWO_SHAPES = partial(images.write_shapes, kinds=images.SHAPES[:2])
_TWO_TEXTURES = partial(images.write_textures, kinds=images.TEXTURES[:2])
_FOUR_WORDS = partial(sound.write_words, words=sound.WORDS[:4])
_TWO_WORDS = partial(sound.write_words, words=sound.WORDS[:2])

SETS: dict[str, DataSet] = {
    d.name: d
    for d in (
        DataSet("shapes", "image", images.write_shapes, 170, True, bench_args=_FREE),
        DataSet("glyphs", "image", images.write_glyphs, 50),
        DataSet("textures", "image", images.write_textures, 100, True, bench_args=_FREE),
        DataSet("words", "audio", sound.write_words, 60),
        DataSet("texts", "text", texts.write_texts, 100),
        DataSet("digits", "image", images.write_digits, None),  # all 1,797 (as `--data digits`)
        # tiny images besides 8×8 digits: 16 px letters and shapes (issue 17, §5j)
        DataSet("glyphs16", "image", partial(images.write_glyphs, size=16), 50),
        DataSet(
            "shapes16", "image", partial(images.write_shapes, size=16), 170, True, bench_args=_FREE
        ),  # fmt: skip
        # two labels, the first two of each set: a 👎 names the right answer (ADR 0044's scope)
        DataSet("shapes2", "image", _TWO_SHAPES, 220, True, bench_args=_FREE),
        DataSet("textures2", "image", _TWO_TEXTURES, 220, True, bench_args=_FREE),
        # sounds of fewer than 8 labels (ADR 0044's scope): the first four and two words
        DataSet("words4", "audio", _FOUR_WORDS, 110),
        DataSet("words2", "audio", _TWO_WORDS, 220),
    )
}


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "mmrl-own-folders"


def ensure(name: str, cache: Path | None = None, per_class: int | None = None) -> tuple[Path, dict]:
    """The folder of set ``name`` (made now unless cached) and its info (classes, items, the
    seconds it took to make, fonts/voices used). Raises ``sound.NoEspeak`` for words without
    espeak-ng."""
    ds = SETS[name]
    n = per_class if per_class is not None else ds.per_class
    folder = (cache or default_cache()) / f"{name}-n{n}-s{DATA_SEED}-v{VERSION}"
    stamp = folder / ".made.json"
    if stamp.is_file():
        return folder, json.loads(stamp.read_text())
    tmp = folder.with_name(f"{folder.name}.part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    info = dict(ds.writer(tmp, n, DATA_SEED))
    info.update(set=name, seconds=round(time.perf_counter() - t0, 2), seed=DATA_SEED)
    (tmp / ".made.json").write_text(json.dumps(info))
    if (folder / ".made.json").is_file():  # another process made it meanwhile: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        return folder, json.loads((folder / ".made.json").read_text())
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder, info
