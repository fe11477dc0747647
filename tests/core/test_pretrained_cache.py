"""The embedding cache of pretrained encoders (issue 14): computed once per (content, encoder),
resumed after kill -9 without serving a half-written shard, invalidated by another encoder."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.learning.pretrained import inspect_encoder, load_encoder
from mmrl_desktop.core.learning.pretrained.cache import EmbeddingCache, cache_folder, prune
from mmrl_desktop.core.learning.pretrained.embed import _inputs, embed_batch
from mmrl_desktop.core.learning.pretrained.fill import EmbeddingSource, fill_cache, load_input
from tests.core.badcorpus import dicom_testfile
from tests.core.tinyhf import tiny_model


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("hf") / "vit", "vit")


def make_items(folder, n=12, side=(40, 50)):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        path = folder / f"img{i:03d}.png"
        Image.fromarray(rng.integers(0, 255, (*side, 3), dtype=np.uint8)).save(path)
        items.append(Item(item_id=f"i{i}", image=str(path)))
    return items


def test_fill_once_then_from_the_cache(vit, tmp_path):
    items = make_items(tmp_path / "data")
    info = inspect_encoder(vit, "image")
    seen = []
    first = fill_cache(
        tmp_path / "p",
        items,
        info,
        batch_size=5,
        shard_items=4,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert (first.total, first.cached, first.computed) == (12, 0, 12)
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)
    again = fill_cache(tmp_path / "p", items, info)
    assert (again.cached, again.computed) == (12, 0)
    # what is stored is the encoder's embedding of the image as loaded (float16)
    enc = load_encoder(info)
    direct = embed_batch(enc, [load_input(items[3], info)])[0]
    source = EmbeddingSource(tmp_path / "p", info)
    got = source.vectors(items)
    assert len(got) == 12 and source.computed == 0
    np.testing.assert_allclose(got["i3"], direct, rtol=1e-2, atol=1e-2)


def test_images_reach_the_encoder_at_the_processors_resolution(vit, tmp_path):
    items = make_items(tmp_path / "data", n=2, side=(300, 180))
    info = inspect_encoder(vit)
    enc = load_encoder(info)
    pixels = _inputs(enc, [load_input(it, info) for it in items])["pixel_values"]
    assert tuple(pixels.shape) == (2, 3, info.input_size, info.input_size)


def test_dicom_goes_through_the_viewers_lut_and_window(vit, tmp_path):
    from mmrl_desktop.core.data.loaders import load_image

    path = tmp_path / "ct.dcm"
    shutil.copy(dicom_testfile("CT_small.dcm"), path)
    item = Item(item_id="ct", image=str(path))
    info = inspect_encoder(vit)
    shown = load_image(path).display  # what the viewer shows
    np.testing.assert_array_equal(load_input(item, info), shown)
    assert fill_cache(tmp_path / "p", [item], info).computed == 1


def test_a_changed_file_or_another_encoder_recomputes(vit, tmp_path):
    items = make_items(tmp_path / "data", n=6)
    info = inspect_encoder(vit)
    fill_cache(tmp_path / "p", items, info)
    from PIL import Image

    Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(items[0].image)
    assert fill_cache(tmp_path / "p", items, info).computed == 1
    other = tiny_model(tmp_path / "vit2", "vit")  # another encoder: new weights
    info2 = inspect_encoder(other)
    assert info2.fingerprint != info.fingerprint
    assert fill_cache(tmp_path / "p", items, info2).computed == 6
    assert prune(tmp_path / "p", [info2]) == [f"image-{info.fingerprint}"]
    assert not cache_folder(tmp_path / "p", info).exists()


def test_unreadable_items_are_reported_not_fatal(vit, tmp_path):
    items = make_items(tmp_path / "data", n=3)
    (tmp_path / "data" / "img001.png").write_bytes(b"not a png")
    result = fill_cache(tmp_path / "p", items, inspect_encoder(vit))
    assert result.computed == 2 and list(result.unreadable) == ["i1"]


CHILD = """
import sys, time
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.learning.pretrained import inspect_encoder
from mmrl_desktop.core.learning.pretrained.fill import fill_cache
paths = sys.argv[3:]
items = [Item(item_id=f"i{i}", image=p) for i, p in enumerate(paths)]
def progress(done, total):
    if done >= 8:  # two shards of 4 are stored; the third batch is never written
        print("READY", flush=True)
        time.sleep(600)
fill_cache(sys.argv[1], items, inspect_encoder(sys.argv[2]), batch_size=2, shard_items=4,
           progress=progress)
"""


def test_resumes_after_kill_9_and_never_serves_a_half_written_shard(vit, tmp_path):
    items = make_items(tmp_path / "data", n=14)
    project = tmp_path / "p"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CHILD), str(project), str(vit)]
        + [it.image for it in items],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "READY"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    info = inspect_encoder(vit)
    folder = cache_folder(project, info)
    # what a kill during a write leaves: a temporary file, and (a disk fault) a damaged shard
    (folder / ".shard-99999999999999999999-1-000001.npz.tmp").write_bytes(b"PK\x03\x04half")
    good = sorted(folder.glob("shard-*.npz"))
    assert len(good) == 2
    (folder / "shard-99999999999999999999-1-000002.npz").write_bytes(good[0].read_bytes()[:300])
    cache = EmbeddingCache(project, info)
    assert len(cache) == 8  # the two whole shards, nothing from the broken files
    assert (folder / "shard-99999999999999999999-1-000002.bad").exists()
    resumed = fill_cache(project, items, info)
    assert (resumed.cached, resumed.computed) == (8, 6)
    assert len(EmbeddingCache(project, info)) == 14


def test_a_few_at_a_time_make_few_files(vit, tmp_path):
    items = make_items(tmp_path / "data", n=5)
    info = inspect_encoder(vit)
    source = EmbeddingSource(tmp_path / "p", info)
    first = source.vectors(items[:3])
    folder = cache_folder(tmp_path / "p", info)
    assert len(first) == 3 and not list(folder.glob("shard-*.npz"))  # served from memory
    source.flush()
    assert len(list(folder.glob("shard-*.npz"))) == 1
    reread = EmbeddingSource(tmp_path / "p", info).vectors(items[:3])  # from the shard
    np.testing.assert_array_equal(reread["i0"], first["i0"])
    cache = EmbeddingCache(tmp_path / "p2", info)
    for i in range(40):  # one row at a time: merged once 32 small shards are there
        cache.add([bytes([i]) * 32], np.full((1, 32), i, np.float32))
    assert len(list(cache.folder.glob("shard-*.npz"))) <= 10
    again = EmbeddingCache(tmp_path / "p2", info)
    assert len(again) == 40 and float(again.get(bytes([7]) * 32)[0]) == 7.0
