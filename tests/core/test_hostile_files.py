"""Hostile and unlucky files (issue 18): huge headers, FIFOs, files swapped for symbolic links.

Every crafted file here is tiny on disk (sparse) but claims gigabytes; the readers must read only
what they use, refuse what would not fit before decoding it, never open a FIFO, and re-check on
every read that an item's file is still inside the folder it was imported from.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.data.importer import import_source, scan_source
from mmrl_desktop.core.data.loaders import (
    MAX_PIXELS,
    UnreadableFile,
    check_file,
    item_file,
    load_audio,
    load_image,
    load_text,
)
from mmrl_desktop.core.data.loaders.audio import MAX_AUDIO_SAMPLES, check_audio
from mmrl_desktop.core.data.loaders.dicom import check_dicom
from mmrl_desktop.core.data.loaders.image import check_image
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.labelling.prefetch import load_for_display
from mmrl_desktop.core.learning.model.featurize import Featurizer, resolve_model_config
from mmrl_desktop.core.tools.predict import scan_files
from tests.core.badcorpus import (
    bomb_png,
    huge_dicom,
    huge_wav,
    jpeg_bytes,
    make_fifo,
    png_bytes,
    wav_bytes,
)

REPO = Path(__file__).resolve().parents[2]
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS and /proc/self/status")
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")


def _limited(code: str, limit_gb: float = 2.0, timeout: float = 60) -> dict:
    """Run ``code`` in a fresh Python with its address space capped at ``limit_gb`` (so a reader
    that tries to decode gigabytes fails there instead of taking the machine's memory); the code
    prints one JSON object, returned here with the process's peak RSS in MB."""
    head = (
        "import json, resource\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({int(limit_gb * 2**30)},) * 2)\n"
    )
    tail = (  # VmHWM: this process's own peak (ru_maxrss would include the parent's at fork)
        "\nhwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]\n"
        "out['peak_mb'] = int(hwm.split()[1]) / 1024\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", head + code + tail],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------ 1. a 4 GB WAV
@linux_only
def test_a_4gb_wav_is_read_only_as_far_as_it_is_used(tmp_path):
    path = huge_wav(tmp_path / "long.wav")
    assert path.stat().st_size > 4_000_000_000 and path.stat().st_blocks * 512 < 1 << 20
    assert check_audio(path)["seconds"] > 100_000  # the header is valid: import accepts it
    out = _limited(
        "from mmrl_desktop.core.data.loaders import load_audio\n"
        "import time\n"
        "t = time.perf_counter()\n"
        f"model = load_audio({str(path)!r}, 16000, max_seconds=2.0)\n"
        "t_model = time.perf_counter() - t\n"
        f"view = load_audio({str(path)!r}, None)\n"
        "out = {'model': len(model), 'view': len(view), 't_model': t_model}\n"
    )
    assert out["model"] == 32000 and out["t_model"] < 1.0  # the model's 2 s, from the start
    assert out["view"] == MAX_AUDIO_SAMPLES  # the viewer's bounded prefix, not 2.1 G samples
    assert out["peak_mb"] < 300, out  # 128 MB of samples + the interpreter


def test_audio_prefix_matches_the_whole_file_and_channels_are_mixed(tmp_path):
    import soundfile as sf

    rng = np.random.default_rng(0)
    stereo = rng.uniform(-0.5, 0.5, (8000 * 5, 2)).astype(np.float32)
    path = tmp_path / "five.wav"
    sf.write(path, stereo, 8000, subtype="FLOAT")
    whole = load_audio(path, 16000)
    first = load_audio(path, 16000, max_seconds=2.0)
    assert len(first) == 32000
    np.testing.assert_allclose(first, whole[:32000], atol=1e-5)  # same as cutting afterwards
    native = load_audio(path, None, max_seconds=1.0)
    np.testing.assert_allclose(native, stereo[:8000].mean(axis=1), atol=1e-6)


# ------------------------------------------------------------------ 3. one size guard for images
def test_a_20000_square_dicom_is_refused_from_its_header(tmp_path):
    path = huge_dicom(tmp_path / "huge.dcm")
    assert path.stat().st_size > 800_000_000 and path.stat().st_blocks * 512 < 1 << 20
    t = time.perf_counter()
    for reader in (check_dicom, load_image, lambda p: check_file(str(p), "dicom")):
        with pytest.raises(UnreadableFile, match=r"20000×20000 = 400 megapixels.*limit is 64"):
            reader(path)
    assert time.perf_counter() - t < 2.0  # the 800 MB of pixel data were never read


def test_a_small_dicom_with_gigabytes_of_pixel_data_is_refused_before_reading_it(tmp_path):
    path = huge_dicom(tmp_path / "padded.dcm", 8, 8, pixel_bytes=2_000_000_000)
    t = time.perf_counter()
    for reader in (check_dicom, load_image):
        with pytest.raises(UnreadableFile, match=r"far larger than its image \(2000 MB for"):
            reader(path)
    assert time.perf_counter() - t < 2.0


def test_a_png_claiming_81_megapixels_is_refused_under_pillows_own_threshold(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(bomb_png(9000, 9000))  # Pillow's bomb guard starts at 89 megapixels
    assert MAX_PIXELS < 9000 * 9000
    for reader in (check_image, load_image):
        with pytest.raises(UnreadableFile, match="81 megapixels; the limit is 64 megapixels"):
            reader(path)
    path.write_bytes(bomb_png(30000, 30000))  # Pillow's own error: the same sentence
    with pytest.raises(UnreadableFile, match="900 megapixels; the limit is 64 megapixels"):
        check_image(path)


def test_import_reports_the_huge_dicom_and_keeps_the_rest(tmp_path):
    src = tmp_path / "src"
    huge_dicom(src / "a" / "huge.dcm")
    (src / "a" / "ok.png").write_bytes(png_bytes())
    (src / "b").mkdir()
    (src / "b" / "ok.png").write_bytes(png_bytes(seed=1))
    result = import_source(src, Project.create(tmp_path / "proj"))
    assert {s.path: s.reason for s in result.skipped}["a/huge.dcm"].startswith(
        "image is too large (20000×20000"
    )
    assert result.items == 2


def test_large_images_are_reduced_while_decoding_for_the_model(tmp_path):
    from PIL import Image

    jpg = tmp_path / "photo.jpg"
    rgb = np.zeros((3000, 4000, 3), np.uint8)
    rgb[:, 2000:] = 200
    Image.fromarray(rgb).save(jpg, quality=90)
    full, small = load_image(jpg), load_image(jpg, max_side=1024)
    assert full.display.shape == (3000, 4000, 3)
    assert small.display.shape[1] < 2048 and small.display.shape[1] >= 1000  # JPEG draft 1/2..1/4
    png = tmp_path / "scan16.png"
    Image.fromarray(np.full((2500, 2200), 40000, np.uint16)).save(png)
    reduced = load_image(png, max_side=1024)
    assert reduced.display.shape == (1250, 1100) and reduced.pixels.max() == 40000
    small_png = tmp_path / "small.png"
    small_png.write_bytes(png_bytes((300, 200)))
    np.testing.assert_array_equal(  # ordinary images are decoded exactly as before
        load_image(small_png, max_side=1024).display, load_image(small_png).display
    )


# ------------------------------------------------------------------ text
def test_text_read_is_bounded_and_a_device_is_never_read(tmp_path):
    big = tmp_path / "big.txt"
    with open(big, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)
    with pytest.raises(UnreadableFile, match="too large"):
        load_text(big)
    if os.path.exists("/dev/zero") and hasattr(os, "symlink"):
        zero = tmp_path / "zero.txt"
        os.symlink("/dev/zero", zero)  # endless, and its size says 0
        with pytest.raises(UnreadableFile, match=r"not a regular file \(a device\)"):
            load_text(zero)


def test_hashing_a_long_text_stops_at_max_tokens():
    from mmrl_desktop.core.learning.model.featurize import hash_text

    words = " ".join(f"w{i}" for i in range(400_000))
    t = time.perf_counter()
    long_ids = hash_text(words, 4096, 256)
    assert time.perf_counter() - t < 0.5
    np.testing.assert_array_equal(long_ids, hash_text(" ".join(words.split()[:256]), 4096, 256))
    few = "a short note about one case"
    expected_len = 6 + 5 + sum(max(1, len(w) + 2 - 2) for w in few.split())
    assert len(hash_text(few, 4096, 256)) == expected_len


def test_a_manifest_over_the_limit_is_refused_before_it_is_read(tmp_path):
    from mmrl_desktop.core.data.manifest import MAX_MANIFEST_BYTES
    from mmrl_desktop.core.errors import UserError

    man = tmp_path / "items.csv"
    man.write_text("id,image,label\n")
    with open(man, "r+b") as fh:  # sparse: as large as a few million rows, costs no disk
        fh.truncate(MAX_MANIFEST_BYTES + 1_000_000)
    t = time.perf_counter()
    with pytest.raises(UserError, match=r"items.csv is too large \(65 MB; the limit is 64 MB"):
        scan_source(tmp_path)
    assert time.perf_counter() - t < 1.0


# ------------------------------------------------------------------ 4. FIFOs and other non-files
@needs_fifo
@pytest.mark.timeout(20)
def test_loaders_refuse_a_fifo_without_opening_it(tmp_path):
    for name in ("pipe.png", "pipe.wav", "pipe.txt", "pipe.dcm", "pipe_no_suffix"):
        make_fifo(tmp_path / name)
    for name, kind in (("pipe.png", "image"), ("pipe.wav", "audio"), ("pipe.txt", "text")):
        with pytest.raises(UnreadableFile, match=r"not a regular file \(a FIFO"):
            check_file(str(tmp_path / name), kind)
    with pytest.raises(UnreadableFile, match="FIFO"):
        check_file(str(tmp_path / "pipe.dcm"), "dicom")
    for load in (load_image, load_audio, load_text):
        with pytest.raises(UnreadableFile, match="FIFO"):
            load(tmp_path / {load_image: "pipe.png", load_audio: "pipe.wav"}.get(load, "pipe.txt"))
    with pytest.raises(UnreadableFile, match=r"not a regular file \(a folder\)"):
        load_image(tmp_path)


@needs_fifo
@pytest.mark.timeout(20)
def test_import_reports_fifos_in_a_class_folder_and_a_manifest(tmp_path):
    src = tmp_path / "src"
    for label in ("a", "b"):
        (src / label).mkdir(parents=True)
        (src / label / "ok.png").write_bytes(png_bytes(seed=len(label)))
    make_fifo(src / "a" / "pipe.png")
    make_fifo(src / "a" / "IM0001")  # no suffix: the DICOM preamble sniff would open it
    skipped = {s.path: s.reason for s in scan_source(src).skipped}
    assert skipped["a/pipe.png"].startswith("not a regular file (a FIFO")
    assert skipped["a/IM0001"].startswith("not a regular file (a FIFO")
    man = tmp_path / "man"
    (man / "images").mkdir(parents=True)
    (man / "images" / "ok.png").write_bytes(png_bytes())
    make_fifo(man / "images" / "pipe.png")
    make_fifo(man / "images" / "pipe2")
    (man / "items.csv").write_text(
        "id,image,label\nok,images/ok.png,a\np,images/pipe.png,b\nq,images/pipe2,b\n"
    )
    scan = scan_source(man)
    skipped = {s.path: s.reason for s in scan.skipped}
    assert "FIFO" in skipped["images/pipe.png"] and "FIFO" in skipped["images/pipe2"]
    assert [it.item_id for it, _ in scan.items] == ["ok"]


@needs_fifo
@pytest.mark.timeout(20)
def test_predict_reports_a_fifo(tmp_path):
    src = tmp_path / "new"
    src.mkdir()
    (src / "ok.png").write_bytes(png_bytes())
    make_fifo(src / "pipe.png")
    make_fifo(src / "scan")
    items, skipped, _ = scan_files(str(src))
    reasons = {s["path"]: s["reason"] for s in skipped}
    assert "FIFO" in reasons["pipe.png"] and "FIFO" in reasons["scan"]
    assert [it.item_id for it, _, _ in items] == ["ok"]


# ------------------------------------------------------------------ 5. files swapped for links
@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_a_file_swapped_for_a_link_outside_the_source_is_not_read(tmp_path):
    src = tmp_path / "src"
    for label in ("a", "b"):
        (src / label).mkdir(parents=True)
        for i in range(2):
            (src / label / f"c{i}.png").write_bytes(png_bytes(seed=i + 3 * len(label)))
            (src / label / f"c{i}.wav").write_bytes(wav_bytes())
    project = Project.create(tmp_path / "proj")
    import_source(src, project)
    with project.open_store() as store:
        items = {it.item_id: it for it in store.items()}
    secret = tmp_path / "elsewhere" / "secret.png"
    secret.parent.mkdir()
    secret.write_bytes(png_bytes((20, 20), seed=9))
    victim = items["a/c0"]
    os.remove(victim.image)
    os.symlink(secret, victim.image)
    with pytest.raises(UnreadableFile, match="outside the folder it was imported from"):
        item_file(victim, "image")
    assert item_file(victim, "audio") == victim.audio  # the item's other file is still read
    # the way train, simulate and evaluate read items: the featurizer masks the image, no crash
    cfg = resolve_model_config(ModelConfig(), list(items.values()))
    fz = Featurizer(cfg)
    feats = fz.features(victim)
    assert "image" not in feats and "audio" in feats and fz.errors == 1
    assert "image" in fz.features(items["a/c1"])
    image_only = dataclasses.replace(victim, item_id="a/c0-image", audio=None)
    assert fz.features(image_only) == {}  # named, so training and evaluate leave it out
    assert "outside the folder it was imported from" in fz.unreadable["a/c0-image"]
    view = load_for_display(victim)  # the viewer says so too
    assert view.image is None and "outside the folder" in view.errors[0]
    # a link that stays inside the source is still followed
    os.remove(victim.image)
    os.symlink(items["b/c0"].image, victim.image)
    assert item_file(victim, "image") == victim.image


def test_items_imported_before_roots_were_recorded_are_still_checked(tmp_path):
    from mmrl_desktop.core.data.items import Item

    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    good = tmp_path / "data" / "x.png"
    good.write_bytes(png_bytes())
    assert item_file(Item("x", image=str(good)), "image") == str(good)
    if hasattr(os, "symlink"):
        (tmp_path / "elsewhere" / "y.png").write_bytes(png_bytes())
        link = tmp_path / "data" / "y.png"
        os.symlink(tmp_path / "elsewhere" / "y.png", link)
        with pytest.raises(UnreadableFile, match="outside the folder"):
            item_file(Item("y", image=str(link)), "image")


def test_jpeg_fixture_still_decodes(tmp_path):
    path = tmp_path / "x.jpg"
    path.write_bytes(jpeg_bytes())
    assert load_image(path, max_side=1024).display.shape == (16, 16, 3)
