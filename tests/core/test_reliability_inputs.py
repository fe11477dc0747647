"""The reliability harness's crafted inputs (benchmarks/crafted_inputs.py) are what they claim:
the sizes their headers declare, sparse where they say so, and the special files special."""

from __future__ import annotations

import os
import stat
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import crafted_inputs as ci  # noqa: E402


def test_huge_files_declare_their_size_and_take_no_disk(tmp_path):
    import pydicom
    import soundfile as sf

    wav = ci.make_wav_4gb_sparse(tmp_path)
    assert wav.stat().st_size == 4_000_000_044
    assert sf.info(str(wav)).frames == 2_000_000_000  # 16-bit mono
    dcm = ci.make_dicom_huge_sparse(tmp_path)
    head = pydicom.dcmread(dcm, stop_before_pixels=True)
    assert (head.Rows, head.Columns) == (20000, 20000)
    assert dcm.stat().st_size > 800_000_000
    small = pydicom.dcmread(ci.make_dicom_huge_small_pixels(tmp_path))
    assert small.Rows == 20000 and len(small.PixelData) == 128
    for path in (wav, dcm):  # sparse: a few blocks, not gigabytes
        assert path.stat().st_blocks * 512 < 1_000_000


def test_bomb_truncated_and_overclaiming_files(tmp_path):
    import soundfile as sf
    from PIL import Image

    bomb = ci.make_png_bomb(tmp_path)
    assert bomb.stat().st_size < 2_000_000
    head = bomb.read_bytes()[:24]
    assert head[12:16] == b"IHDR" and struct.unpack(">II", head[16:24]) == (30000, 30000)
    with pytest.raises(Image.DecompressionBombError):  # Pillow refuses it at open
        Image.open(bomb)
    with (
        pytest.warns(Image.DecompressionBombWarning),
        Image.open(ci.make_png_bomb_rgb(tmp_path)) as im,
    ):
        assert im.size == (12000, 12000) and im.mode == "RGB"  # only a warning: it would decode
    trunc = ci.make_png_truncated(tmp_path)
    with pytest.raises(OSError), Image.open(trunc) as im:
        im.load()
    over = ci.make_wav_overclaim(tmp_path)
    assert over.stat().st_size < 10_000
    with open(over, "rb") as fh:
        assert int.from_bytes(fh.read(44)[40:44], "little") == 100_000_000
    assert sf.info(str(over)).samplerate == 16000


def test_special_files(tmp_path):
    assert stat.S_ISFIFO(os.lstat(ci.make_fifo_png(tmp_path)).st_mode)
    fifo = ci.make_fifo_no_suffix(tmp_path)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and fifo.suffix == ""
    link = ci.make_symlink_passwd(tmp_path)
    assert link.is_symlink() and os.readlink(link) == "/etc/passwd"
    assert ci.make_dir_named_png(tmp_path).is_dir()
    ci.make_zero_bytes(tmp_path)
    assert (tmp_path / "empty.wav").stat().st_size == 0
    with pytest.raises(UnicodeDecodeError):
        ci.make_invalid_utf8(tmp_path).read_text(encoding="utf-8")
    assert ci.make_text_200mb(tmp_path).stat().st_size > 199_000_000
    assert set(ci.CRAFTED) >= {"wav-4gb-sparse", "png-bomb", "fifo-no-suffix", "symlink-passwd"}
