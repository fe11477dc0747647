"""Crafted hostile inputs for ``benchmarks/reliability.py`` (issue 18), each built in a folder.

Every ``make_*`` function writes its crafted file(s) into ``folder`` (a class folder of a source
tree) and returns the path that ``predict`` is pointed at. Large files are sparse (``truncate``),
so a "4 GB" WAV or an 800 MB DICOM takes no disk and is built in milliseconds.
"""

from __future__ import annotations

import io
import os
import struct
import wave
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image


def _wav_header(data_bytes: int, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    """A canonical 44-byte PCM WAV header that declares ``data_bytes`` of samples."""
    riff = min(36 + data_bytes, 0xFFFFFFFF)
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * width, channels * width, 16)
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", data_bytes)
    )


def _png(width: int = 64, height: int = 64, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (height, width), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def make_wav_4gb_sparse(folder: Path) -> Path:
    """A valid PCM header declaring 4,000,000,000 bytes (~35 h at 16 kHz), the file sparse."""
    path = folder / "long.wav"
    data_bytes = 4_000_000_000
    with open(path, "wb") as fh:
        fh.write(_wav_header(data_bytes))
        fh.truncate(44 + data_bytes)
    return path


def make_wav_overclaim(folder: Path) -> Path:
    """The header claims 100 MB of samples; the file holds 0.1 s."""
    path = folder / "overclaim.wav"
    samples = (np.sin(np.arange(1600) / 5) * 8000).astype(np.int16).tobytes()
    path.write_bytes(_wav_header(100_000_000) + samples)
    return path


def _dicom_dataset(rows: int, cols: int):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientName = "DOE^JOHN"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 0
    return ds


def make_dicom_huge_small_pixels(folder: Path) -> Path:
    """Rows = Columns = 20000 in the header, 128 bytes of Pixel Data."""
    path = folder / "huge_small.dcm"
    ds = _dicom_dataset(20000, 20000)
    ds.PixelData = bytes(128)
    ds.save_as(path, enforce_file_format=True)
    return path


def make_dicom_huge_sparse(folder: Path) -> Path:
    """A well-formed 20000 × 20000 16-bit DICOM: 800 MB of (sparse, zero) Pixel Data."""
    path = folder / "huge_full.dcm"
    ds = _dicom_dataset(20000, 20000)
    ds.save_as(path, enforce_file_format=True)
    n = 20000 * 20000 * 2
    with open(path, "r+b") as fh:  # append (7FE0,0010) OW, explicit VR little endian
        fh.seek(0, os.SEEK_END)
        fh.write(struct.pack("<HH", 0x7FE0, 0x0010) + b"OW\x00\x00" + struct.pack("<I", n))
        fh.truncate(fh.tell() + n)
    return path


def make_dicom_no_pixels(folder: Path) -> Path:
    path = folder / "nopixels.dcm"
    _dicom_dataset(8, 8).save_as(path, enforce_file_format=True)
    return path


def _png_bomb(path: Path, side: int, channels: int) -> Path:
    """A valid ``side`` × ``side`` PNG of zeros (grey or RGB): tiny on disk, huge decoded."""
    comp = zlib.compressobj(9)
    row = bytes(side * channels + 1)  # filter byte 0 + a row of zeros
    idat = b"".join(comp.compress(row * 500) for _ in range(side // 500)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2 if channels == 3 else 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )
    return path


def make_png_bomb(folder: Path) -> Path:
    """30000 × 30000 grey (900 MB decoded, 0.9 MB on disk): past Pillow's own bomb limit."""
    return _png_bomb(folder / "bomb.png", 30000, 1)


def make_png_bomb_rgb(folder: Path) -> Path:
    """12000 × 12000 RGB (144 Mpx, 432 MB decoded): under Pillow's error limit (179 Mpx)."""
    return _png_bomb(folder / "bomb_rgb.png", 12000, 3)


def make_png_truncated(folder: Path) -> Path:
    path = folder / "truncated.png"
    data = _png(256, 256)
    path.write_bytes(data[: len(data) // 2])
    return path


def make_fifo_png(folder: Path) -> Path:
    path = folder / "case.png"
    os.mkfifo(path)
    return path


def make_fifo_no_suffix(folder: Path) -> Path:
    path = folder / "case"
    os.mkfifo(path)
    return path


def make_symlink_passwd(folder: Path) -> Path:
    path = folder / "x.txt"
    os.symlink("/etc/passwd", path)
    return path


def make_text_200mb(folder: Path) -> Path:
    path = folder / "big.txt"
    line = b"the patient reports a mild cough and no fever since tuesday morning\n"
    block = line * (1_000_000 // len(line))
    with open(path, "wb") as fh:
        for _ in range(200):
            fh.write(block)
    return path


def make_zero_bytes(folder: Path) -> Path:
    for name in ("empty.png", "empty.wav", "empty.txt", "empty.dcm"):
        (folder / name).write_bytes(b"")
    return folder / "empty.png"


def make_dir_named_png(folder: Path) -> Path:
    path = folder / "a.png"
    path.mkdir()
    return path


def make_invalid_utf8(folder: Path) -> Path:
    path = folder / "latin.txt"
    path.write_bytes(b"caf\xe9 \xff\xfe broken \x80\x81 bytes\n")
    return path


CRAFTED: dict[str, tuple[str, Callable[[Path], Path]]] = {
    "wav-4gb-sparse": ("4 GB WAV, valid header, sparse", make_wav_4gb_sparse),
    "wav-overclaim": ("WAV header claims 100 MB, holds 0.1 s", make_wav_overclaim),
    "dicom-20000-small": ("DICOM 20000×20000, 128 B of pixel data", make_dicom_huge_small_pixels),
    "dicom-20000-full": ("DICOM 20000×20000, 800 MB pixel data (sparse)", make_dicom_huge_sparse),
    "dicom-no-pixels": ("DICOM without pixel data", make_dicom_no_pixels),
    "png-bomb": ("PNG 30000×30000 (900 MB decoded, 0.9 MB file)", make_png_bomb),
    "png-bomb-rgb": (
        "PNG 12000×12000 RGB (432 MB decoded), under Pillow's limit",
        make_png_bomb_rgb,
    ),
    "png-truncated": ("PNG cut in half", make_png_truncated),
    "fifo-png": ("FIFO named case.png", make_fifo_png),
    "fifo-no-suffix": ("FIFO without extension in a class folder", make_fifo_no_suffix),
    "symlink-passwd": ("x.txt → /etc/passwd (symlink)", make_symlink_passwd),
    "text-200mb": ("200 MB text file", make_text_200mb),
    "zero-bytes": ("zero-byte .png/.wav/.txt/.dcm", make_zero_bytes),
    "dir-named-png": ("a directory named a.png", make_dir_named_png),
    "invalid-utf8": ("text file with invalid UTF-8", make_invalid_utf8),
}


def write_small_items(root: Path, per_class: int = 4, classes: int = 2) -> None:
    """A tiny labelled class-folder source: ``per_class`` items (PNG + WAV + TXT) per class."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.sin(np.arange(8000) / 7) * 6000).astype(np.int16).tobytes())
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            stem = f"c{c}_item{i}"
            (folder / f"{stem}.png").write_bytes(_png(32, 32, seed=c * 100 + i))
            (folder / f"{stem}.wav").write_bytes(buf.getvalue())
            (folder / f"{stem}.txt").write_text(f"note {c} {i} " * (c + 1))
