"""A bad-input corpus for import tests (docs BENCHMARKS §3), built in a temporary folder.

``build_folder_corpus`` writes a folder of classes and ``build_manifest_corpus`` a manifest
folder; each returns a ``Corpus`` naming the item ids that must be imported and, for every file
that must be refused, a fragment of the reason. Everything is tiny and built in milliseconds.
"""

from __future__ import annotations

import io
import os
import struct
import wave
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

UNICODE_STEM = "ünïcødé_名前_😀"


@dataclass
class Corpus:
    root: Path
    good_ids: set[str] = field(default_factory=set)
    bad: dict[str, str] = field(default_factory=dict)  # relative path → reason fragment
    labels: dict[str, str | None] = field(default_factory=dict)  # item id → label


# ------------------------------------------------------------------ file makers
def png_bytes(size=(16, 12), mode="L", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) + ((3,) if mode == "RGB" else ())
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode=mode).save(buf, "PNG")
    return buf.getvalue()


def png16_bytes() -> bytes:
    arr = (np.arange(20 * 10, dtype=np.uint16).reshape(10, 20) * 300).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 120, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid tiny PNG whose IHDR declares ``width``×``height`` (CRC fixed): a decompression bomb
    as far as any reader that trusts the header is concerned."""
    data = bytearray(png_bytes((1, 1)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def wav_bytes(seconds: float = 0.1, rate: int = 8000, channels: int = 1) -> bytes:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    frames = np.repeat(tone[:, None], channels, axis=1)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames.tobytes())
    return buf.getvalue()


def broken_wav_bytes() -> bytes:
    """RIFF/WAVE magic, then a mangled fmt chunk (zero channels, absurd sizes)."""
    good = bytearray(wav_bytes())
    good[20:36] = b"\x00" * 16
    return bytes(good)


def _image_dataset(rows: int, cols: int, bits: int):
    """A Part 10 secondary-capture dataset of ``rows``×``cols`` ``bits``-bit grey pixels, with
    every image tag but no Pixel Data."""
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
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 0
    return ds


def pixelless_dicom(path: Path) -> None:
    """A well-formed DICOM file (Part 10, preamble) with image tags but no Pixel Data."""
    _image_dataset(8, 8, 8).save_as(path, enforce_file_format=True)


def dicom_testfile(name: str) -> Path:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:  # pragma: no cover - pydicom ships these files
        raise FileNotFoundError(name)
    return Path(path)


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _symlink(link: Path, target: Path | str) -> bool:
    try:
        os.symlink(target, link)
        return True
    except (OSError, NotImplementedError):  # pragma: no cover - Windows without privilege
        return False


# ------------------------------------------------------------------ corpora
def build_folder_corpus(base: Path) -> Corpus:
    root = base / "source"
    c = Corpus(root)
    normal, abnormal = root / "normal", root / "abnormal"

    def good(item_id: str, label: str | None) -> None:
        c.good_ids.add(item_id)
        c.labels[item_id] = label

    # good files
    _write(normal / "case1.png", png_bytes())
    _write(normal / "case1.wav", wav_bytes())
    _write(normal / "case1.txt", b"Nodule in the left upper lobe.\n")
    good("normal/case1", "normal")
    _write(normal / "case2.png", png16_bytes())
    good("normal/case2", "normal")
    _write(normal / f"{UNICODE_STEM}.png", png_bytes(mode="RGB"))
    _write(normal / f"{UNICODE_STEM}.txt", "ça va, 名前 😀".encode())
    good(f"normal/{UNICODE_STEM}", "normal")
    _write(normal / "ct.dcm", dicom_testfile("CT_small.dcm").read_bytes())
    good("normal/ct", "normal")
    _write(normal / "mr_no_extension", dicom_testfile("MR_small.dcm").read_bytes())
    good("normal/mr_no_extension", "normal")
    _write(abnormal / "case3.jpg", jpeg_bytes())
    _write(abnormal / "case3.txt", b"\xef\xbb\xbfwith a BOM\n")
    good("abnormal/case3", "abnormal")
    _write(abnormal / "case4.flac", b"")  # replaced below by a real FLAC
    import soundfile as sf

    sf.write(abnormal / "case4.flac", np.zeros(800, np.float32), 8000)
    good("abnormal/case4", "abnormal")
    # a good image whose sound is broken: the item keeps the image, the WAV is reported
    _write(abnormal / "mixed.png", png_bytes(seed=3))
    _write(abnormal / "mixed.wav", broken_wav_bytes())
    good("abnormal/mixed", "abnormal")
    c.bad["abnormal/mixed.wav"] = "audio file header is broken"

    # bad files
    trunc = png_bytes((64, 64), seed=1)
    bad = {
        "normal/bad_truncated.png": (trunc[: len(trunc) // 2], "image is truncated"),
        "normal/bad_empty.png": (b"", "file is empty"),
        "normal/bad_text.png": (b"this is really text, not a PNG\n", "not an image"),
        "normal/bomb.png": (bomb_png(), "decompression bomb"),
        "normal/bad_header.wav": (broken_wav_bytes(), "audio file header is broken"),
        "normal/notwav.wav": (b"RIFF\x00\x00\x00\x00garbage", "audio file header is broken"),
        "normal/binary.txt": (b"abc\x00\x01\x02\xff", "binary"),
        "normal/latin1.txt": ("café crème".encode("latin-1"), "not UTF-8"),
        "normal/garbage.dcm": (os.urandom(600), "not a DICOM file"),
        "abnormal/bad_truncated.jpg": (jpeg_bytes()[:-40], "image is truncated"),
        "abnormal/report.docx": (b"PK\x03\x04", "not a recognised"),
        "abnormal/.DS_Store": (b"\x00\x00\x00\x01Bud1", "hidden"),
        "stray.png": (png_bytes(), "not in a class folder"),
    }
    for rel, (data, reason) in bad.items():
        _write(root / rel, data)
        c.bad[rel] = reason
    pixelless_dicom(normal / "nopixels.dcm")
    c.bad["normal/nopixels.dcm"] = "no pixel data"
    trunc_dcm = dicom_testfile("MR_small.dcm").read_bytes()
    _write(normal / "cut.dcm", trunc_dcm[:-500])
    c.bad["normal/cut.dcm"] = "truncated"
    (normal / "nested").mkdir()
    _write(normal / "nested" / "deep.png", png_bytes())
    c.bad["normal/nested"] = "folders inside a class folder"
    (root / ".hidden_class").mkdir()
    _write(root / ".hidden_class" / "x.png", png_bytes())
    c.bad[".hidden_class"] = "hidden"

    # symlinks: a self-loop, a two-link loop, one leaving SOURCE, a folder link back to SOURCE
    outside = _write(base / "outside" / "secret.png", png_bytes())
    if _symlink(normal / "loop.png", "loop.png"):
        c.bad["normal/loop.png"] = "loops"
        _symlink(normal / "ping.wav", "pong.wav")
        _symlink(normal / "pong.wav", "ping.wav")
        c.bad["normal/ping.wav"] = "loops"
        c.bad["normal/pong.wav"] = "loops"
        _symlink(normal / "escape.png", outside)
        c.bad["normal/escape.png"] = "outside SOURCE"
        _symlink(root / "again", root)
        c.bad["again"] = "loops"
        _symlink(root / "elsewhere", outside.parent)
        c.bad["elsewhere"] = "outside SOURCE"
        _symlink(abnormal / "alias.png", abnormal / "case3.jpg")  # inside SOURCE: followed
        good("abnormal/alias", "abnormal")
    return c


MANIFEST_ROWS = [
    # id, image, audio, text, label
    ("m1", "images/a.png", "", "a cat sitting on a mat", "cat"),
    ("m2", "", "sounds/b.wav", "notes/b.txt", "dog"),
    ("m3", "/etc/hostname", "", "", "cat"),
    ("m4", "../outside.png", "", "", "dog"),
    ("m5", "images/missing.png", "", "", "cat"),
    ("m1", "images/c.png", "", "", "dog"),  # duplicate id
    ("m6", f"images/{UNICODE_STEM}.png", "", "", ""),  # unlabelled
    ("m7", "images/trunc.png", "", "the picture is lost, the words remain", "cat"),
    ("", "images/a.png", "", "", "cat"),  # no id
    ("m8", "", "", "", "cat"),  # nothing
    ("m9", "images/link_out.png", "", "", "dog"),
    ("m10", "scans/ct.dcm", "", "", "dog"),
    ("m11", "images\\..\\..\\outside.png", "", "", "cat"),
    ("m12", "images/nested/../a.png", "sounds/missing.wav", "notes/latin1.txt", "dog"),
]


def build_manifest_corpus(base: Path, fmt: str = "csv") -> Corpus:
    root = base / "msource"
    c = Corpus(root)
    _write(root / "images" / "a.png", png_bytes())
    _write(root / "images" / "c.png", png_bytes(seed=2))
    _write(root / "images" / f"{UNICODE_STEM}.png", png_bytes(seed=4))
    t = png_bytes((64, 64), seed=5)
    _write(root / "images" / "trunc.png", t[: len(t) // 2])
    _write(root / "sounds" / "b.wav", wav_bytes())
    _write(root / "notes" / "b.txt", b"barking\n")
    _write(root / "notes" / "latin1.txt", "naïve".encode("latin-1"))
    _write(root / "scans" / "ct.dcm", dicom_testfile("CT_small.dcm").read_bytes())
    _write(base / "outside.png", png_bytes())
    linked = _symlink(root / "images" / "link_out.png", base / "outside.png")
    name = f"items.{fmt}"
    c.good_ids = {"m1", "m2", "m6", "m7", "m10", "m12"}
    c.labels = {"m1": "cat", "m2": "dog", "m6": None, "m7": "cat", "m10": "dog", "m12": "dog"}
    c.bad = {
        "/etc/hostname": "absolute",
        "../outside.png": "'..'",
        "images/missing.png": "not found",
        "images/trunc.png": "truncated",
        "images/../../outside.png": "'..'",
        "sounds/missing.wav": "not found",
        "notes/latin1.txt": "not UTF-8",
    }
    line = {"csv": 1, "jsonl": 0}[fmt]
    for i, row in enumerate(MANIFEST_ROWS, start=line + 1):
        if row[0] == "m1" and i > line + 1:
            c.bad[f"{name}:{i}"] = "duplicate id"
        elif row[0] == "":
            c.bad[f"{name}:{i}"] = "no id"
        elif row[0] == "m8":
            c.bad[f"{name}:{i}"] = "no image, audio or text"
    if linked:
        c.bad["images/link_out.png"] = "outside the manifest's folder"
    if fmt == "csv":
        lines = ["id,image,audio,text,label"]
        lines += [",".join(_csv_cell(v) for v in row) for row in MANIFEST_ROWS]
        _write(root / name, ("\n".join(lines) + "\n").encode())
    else:
        import json

        keys = ("id", "image", "audio", "text", "label")
        body = [json.dumps(dict(zip(keys, row, strict=True))) for row in MANIFEST_ROWS]
        body.append("{not json")
        c.bad[f"{name}:{len(body)}"] = "not valid JSON"
        _write(root / name, ("\n".join(body) + "\n").encode())
    return c


def _csv_cell(value: str) -> str:
    return f'"{value}"' if "," in value or " " in value else value


# ------------------------------------------------------------------ hostile files (issue 18)
def huge_wav(path: Path, data_bytes: int = 0xFFFF0000, rate: int = 16000) -> Path:
    """A WAV whose header is valid and whose data chunk holds ``data_bytes`` (4 GB by default) of
    16-bit mono silence, written as a sparse file: it costs no disk, but a reader that decodes the
    whole file needs twice its size in memory."""
    data = bytearray(wav_bytes(0.01, rate))
    assert data[36:40] == b"data"
    data[4:8] = struct.pack("<I", data_bytes + 36)
    data[40:44] = struct.pack("<I", data_bytes)
    _write(path, bytes(data))
    with open(path, "r+b") as fh:
        fh.truncate(44 + data_bytes)
    return path


def huge_dicom(
    path: Path, rows: int = 20000, cols: int = 20000, pixel_bytes: int | None = None
) -> Path:
    """A valid DICOM file of ``rows``×``cols`` 16-bit pixels whose pixel data (800 MB for the
    default 20000×20000) is a sparse run of zeros: complete as far as any header check goes.
    ``pixel_bytes`` makes the pixel data element that long instead (longer than the image)."""
    ds = _image_dataset(rows, cols, 16)
    ds.PixelData = b"\x00" * 16  # the last element: its length is patched below
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    size = rows * cols * 2 if pixel_bytes is None else pixel_bytes
    with open(path, "r+b") as fh:
        end = fh.seek(0, os.SEEK_END)
        fh.seek(end - 16 - 4)
        fh.write(struct.pack("<I", size))
        fh.truncate(end - 16 + size)
    return path


def make_fifo(path: Path) -> bool:
    """A named pipe at ``path`` (False where the platform has none). Opening it for reading
    waits for a writer forever."""
    if not hasattr(os, "mkfifo"):  # pragma: no cover - Windows
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return True
