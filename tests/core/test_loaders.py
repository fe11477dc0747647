"""Loaders: Pillow images, DICOM (pydicom's bundled test files), audio, text. No Qt."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
import soundfile as sf
from PIL import Image

from mmrl_desktop.core.data.loaders import (
    ImageData,
    UnreadableFile,
    apply_window,
    is_dicom_path,
    load_audio,
    load_image,
    load_text,
)
from mmrl_desktop.core.data.loaders.dicom import CT_PRESETS, check_dicom
from mmrl_desktop.core.data.loaders.image import check_image
from tests.core.badcorpus import bomb_png, dicom_testfile, pixelless_dicom, png_bytes


def _no_identifiers(info: dict, ds) -> None:
    """No patient tags in ``info``, and none of the file's patient values either."""
    assert not [k for k in info if "patient" in k.lower() or "birth" in k.lower()]
    for keyword in ("PatientName", "PatientID", "PatientBirthDate"):
        value = str(ds.get(keyword, "")).strip()
        if len(value) > 2:
            assert value not in repr(info), keyword


# ------------------------------------------------------------------ DICOM
def test_ct_in_hounsfield_units_with_ct_presets():
    path = dicom_testfile("CT_small.dcm")
    ds = pydicom.dcmread(path)
    data = load_image(path)
    assert isinstance(data, ImageData)
    raw = ds.pixel_array.astype(np.float32)
    np.testing.assert_allclose(
        data.pixels, raw * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    )
    assert data.pixels.dtype == np.float32 and data.pixels.shape == (128, 128)
    assert -1100 <= data.pixels.min() < 0 < data.pixels.max() < 3100  # air … bone, in HU
    assert data.display.dtype == np.uint8
    assert data.display.min() == 0 and data.display.max() == 255
    for name, preset in CT_PRESETS.items():
        assert data.presets[name] == preset
    assert "full range" in data.presets
    assert data.info["modality"] == "CT" and data.info["units"] == "HU"
    assert data.info["rows"] == 128 and "spacing_mm" in data.info
    _no_identifiers(data.info, ds)
    lung = apply_window(data.pixels, *data.presets["lung"])
    assert lung.dtype == np.uint8 and lung.max() > lung.min()


def test_mr_uses_the_files_window_and_no_hu_presets():
    path = dicom_testfile("MR_small.dcm")
    ds = pydicom.dcmread(path)
    data = load_image(path)
    assert data.window == (float(ds.WindowCenter), float(ds.WindowWidth)) == (600.0, 1600.0)
    assert set(data.presets) == {"file", "full range"}
    np.testing.assert_array_equal(data.display, apply_window(data.pixels, 600.0, 1600.0))
    assert data.info["modality"] == "MR" and data.info["photometric"] == "MONOCHROME2"
    _no_identifiers(data.info, ds)


@pytest.mark.parametrize(
    "compressed", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_bigendian.dcm"]
)
def test_compressed_decodes_equal_the_uncompressed_reference(compressed):
    ref = load_image(dicom_testfile("MR_small.dcm"))
    data = load_image(dicom_testfile(compressed))
    np.testing.assert_array_equal(data.pixels, ref.pixels)
    np.testing.assert_array_equal(data.display, ref.display)


def test_rgb_rle_and_multiframe():
    rgb = load_image(dicom_testfile("SC_rgb_rle.dcm"))
    assert rgb.pixels.shape == (100, 100, 3) and rgb.display.dtype == np.uint8
    assert rgb.display[0, 0].tolist() == [255, 0, 0]  # the test image's top band is red
    two = dicom_testfile("SC_rgb_rle_2frame.dcm")
    f0, f1 = load_image(two, frame=0), load_image(two, frame=1)
    assert f0.frames == f1.frames == 2 and f0.info["frames"] == 2
    np.testing.assert_array_equal(f0.pixels, pydicom.dcmread(two).pixel_array[0])
    np.testing.assert_array_equal(f1.pixels, pydicom.dcmread(two).pixel_array[1])
    with pytest.raises(UnreadableFile, match="frame 5 does not exist"):
        load_image(two, frame=5)
    dose = load_image(dicom_testfile("rtdose.dcm"), frame=14)
    assert dose.frames == 15 and dose.pixels.shape == (10, 10)


def test_palette_colour_and_jpeg2000():
    pal = load_image(dicom_testfile("examples_palette.dcm"))
    assert pal.pixels.ndim == 3 and pal.pixels.shape[-1] == 3 and pal.display.dtype == np.uint8
    assert pal.display.max() > 200
    j2k = load_image(dicom_testfile("JPEG2000.dcm"))
    assert j2k.display.min() == 0 and j2k.display.max() == 255
    assert j2k.info["body_part"] == "WHOLE BODY"


def test_monochrome1_is_inverted_for_display(tmp_path):
    ds = pydicom.dcmread(dicom_testfile("MR_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    path = tmp_path / "mono1.dcm"
    ds.save_as(path)
    ref, inv = load_image(dicom_testfile("MR_small.dcm")), load_image(path)
    np.testing.assert_array_equal(inv.pixels, ref.pixels)  # file units unchanged
    np.testing.assert_array_equal(inv.display, 255 - ref.display)


def test_dicom_without_suffix_and_refusals(tmp_path):
    plain = tmp_path / "IM0001"
    plain.write_bytes(dicom_testfile("CT_small.dcm").read_bytes())
    assert is_dicom_path(plain) and load_image(plain).info["modality"] == "CT"
    nopix = tmp_path / "nopix.dcm"
    pixelless_dicom(nopix)
    with pytest.raises(UnreadableFile, match="no pixel data"):
        check_dicom(nopix)
    with pytest.raises(UnreadableFile, match="no pixel data"):
        load_image(nopix)
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"\x01\x02" * 300)
    with pytest.raises(UnreadableFile, match="not a DICOM file"):
        check_dicom(garbage)
    (tmp_path / "empty.dcm").write_bytes(b"")
    with pytest.raises(UnreadableFile, match="empty"):
        check_dicom(tmp_path / "empty.dcm")
    with pytest.raises(UnreadableFile, match="truncated"):
        check_dicom(dicom_testfile("MR_truncated.dcm"))
    # a compression no installed decoder reads (JPEG-LS decodes since python-gdcm: see
    # test_dicom_codecs.py; JPEG 2000 Part 2 does not) is refused at import, before decoding
    part2 = tmp_path / "part2.dcm"
    ds = pydicom.dcmread(dicom_testfile("MR_small_jpeg_ls_lossless.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.92"  # JPEG 2000 Part 2, lossless
    ds.save_as(part2, enforce_file_format=True)
    with pytest.raises(UnreadableFile, match="JPEG 2000 Part 2 .* cannot decode"):
        check_dicom(part2)


def test_check_dicom_reads_no_pixels_and_keeps_display_info_only(monkeypatch):
    monkeypatch.setattr(pydicom.Dataset, "pixel_array", property(lambda s: 1 / 0))
    info = check_dicom(dicom_testfile("CT_small.dcm"))
    assert info["modality"] == "CT" and info["frames"] == 1
    assert set(info["window_presets"]) == set(CT_PRESETS)
    assert set(info) <= {"modality", "body_part", "frames", "window_presets"}


# ------------------------------------------------------------------ Pillow images
def _save(tmp_path, name, img: Image.Image, **kw):
    path = tmp_path / name
    img.save(path, **kw)
    return path


def test_eight_bit_grey_and_rgb(tmp_path):
    grey = np.arange(12 * 10, dtype=np.uint8).reshape(10, 12)
    data = load_image(_save(tmp_path, "g.png", Image.fromarray(grey)))
    assert data.pixels.shape == (10, 12) and data.window is None and data.presets == {}
    np.testing.assert_array_equal(data.display, grey)
    rgb = load_image(_save(tmp_path, "c.bmp", Image.fromarray(np.full((4, 5, 3), 7, np.uint8))))
    assert rgb.pixels.shape == (4, 5, 3) and rgb.display.dtype == np.uint8
    one = load_image(_save(tmp_path, "b.tif", Image.new("1", (3, 2), 1)))
    assert one.display.tolist() == [[255] * 3] * 2


def test_sixteen_bit_windowed_by_min_max(tmp_path):
    arr = np.linspace(1000, 41000, 200).astype(np.uint16).reshape(10, 20)
    data = load_image(_save(tmp_path, "g16.png", Image.fromarray(arr)))
    np.testing.assert_array_equal(data.pixels, arr.astype(np.float32))
    assert data.display.min() == 0 and data.display.max() == 255
    assert data.presets["full range"] == data.window


def test_alpha_palette_and_exif_orientation(tmp_path):
    ink = np.zeros((6, 6, 4), np.uint8)
    ink[2:4, 2:4] = (0, 0, 0, 255)  # black ink on a transparent page → white background
    d = load_image(_save(tmp_path, "ink.png", Image.fromarray(ink, "RGBA")))
    assert d.display.shape == (6, 6, 3) and d.display[0, 0].tolist() == [255, 255, 255]
    assert d.display[2, 2].tolist() == [0, 0, 0]
    logo = np.zeros((6, 6, 4), np.uint8)
    logo[2:4, 2:4] = (250, 250, 250, 255)  # a light logo → black background
    assert load_image(_save(tmp_path, "logo.png", Image.fromarray(logo, "RGBA"))).display[
        0, 0
    ].tolist() == [0, 0, 0]
    pal = Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4) * 16).convert("P")
    assert load_image(_save(tmp_path, "pal.png", pal)).display.shape == (4, 4, 3)
    wide = Image.fromarray(np.zeros((2, 6, 3), np.uint8))  # 6 wide, 2 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    d = load_image(_save(tmp_path, "rot.jpg", wide, exif=exif.tobytes()))
    assert d.display.shape[:2] == (6, 2)


def test_image_checks_give_sentences(tmp_path):
    good = tmp_path / "ok.png"
    good.write_bytes(png_bytes())
    assert check_image(good)["format"] == "PNG"
    data = png_bytes((64, 64), seed=1)
    cases = {
        "trunc.png": (data[: len(data) // 2], "image is truncated"),
        "empty.png": (b"", "file is empty"),
        "text.png": (b"hello, I am text", "not an image"),
        "bomb.png": (bomb_png(), "decompression bomb"),
        "bigish.png": (bomb_png(10000, 10000), "100 megapixels"),  # above 1x, below 2x limit
    }
    for name, (payload, fragment) in cases.items():
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(UnreadableFile, match=fragment):
            check_image(path)
        with pytest.raises(UnreadableFile):
            load_image(path)


# ------------------------------------------------------------------ audio and text
def test_audio_mono_float32_resampled_without_torchaudio_load(tmp_path, monkeypatch):
    import torchaudio

    monkeypatch.setattr(torchaudio, "load", lambda *a, **k: 1 / 0, raising=False)
    t = np.arange(8000) / 8000.0
    left, right = np.sin(2 * np.pi * 200 * t), np.zeros_like(t)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1).astype(np.float32), 8000)
    native = load_audio(path, sample_rate=None)
    assert native.dtype == np.float32 and native.ndim == 1 and native.shape == (8000,)
    np.testing.assert_allclose(native, left / 2, atol=1e-4)
    up = load_audio(path)  # default 16 kHz
    assert up.dtype == np.float32 and abs(len(up) - 16000) <= 2
    assert abs(float(np.abs(up).max()) - 0.5) < 0.05
    flac = tmp_path / "a.flac"
    sf.write(flac, np.zeros(1600, np.float32), 16000)
    assert load_audio(flac).shape == (1600,)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    from mmrl_desktop.core.data.loaders.audio import check_audio

    with pytest.raises(UnreadableFile, match="audio file header is broken"):
        check_audio(bad)
    with pytest.raises(UnreadableFile):
        load_audio(bad)


def test_text_utf8_bom_binary_inline(tmp_path):
    from mmrl_desktop.core.data.loaders.text import check_text

    p = tmp_path / "a.txt"
    p.write_bytes(b"\xef\xbb\xbfh\xc3\xa9llo \xf0\x9f\x98\x80")
    assert load_text(p) == "héllo 😀" and check_text(p)["chars"] == 7
    assert load_text(path=None, inline="inline words") == "inline words"
    p.write_bytes(b"\x00\x01binary")
    with pytest.raises(UnreadableFile, match="binary"):
        load_text(p)
    p.write_bytes("naïve".encode("latin-1"))
    with pytest.raises(UnreadableFile, match="not UTF-8"):
        check_text(p)
    p.write_bytes("hi".encode("utf-16"))
    with pytest.raises(UnreadableFile, match="UTF-16"):
        check_text(p)


def test_loaders_return_plain_numpy(tmp_path):
    path = tmp_path / "x.png"
    path.write_bytes(png_bytes())
    data = load_image(path)
    assert type(data.pixels) is np.ndarray and type(data.display) is np.ndarray
    buf = io.BytesIO()
    sf.write(buf, np.zeros(100, np.float32), 16000, format="WAV")
    (tmp_path / "z.wav").write_bytes(buf.getvalue())
    assert type(load_audio(tmp_path / "z.wav")) is np.ndarray


def test_every_format_loader_shares_the_package_types(tmp_path):
    """The format modules take their shared types from ``loaders/base.py`` (so none imports the
    package, which imports them: ADR 0012), and the package re-exports the same objects: an
    ``UnreadableFile`` raised by any format loader is caught as ``loaders.UnreadableFile``."""
    from mmrl_desktop.core.data import loaders
    from mmrl_desktop.core.data.loaders import audio, base, dicom, image, text

    assert loaders.ImageData is base.ImageData is image.ImageData is dicom.ImageData
    for module in (audio, dicom, image, text):
        assert module.UnreadableFile is loaders.UnreadableFile
    assert set(loaders.__all__) >= {n for n in vars(base) if n.isupper() or n[0] != "_"} - {
        "annotations",
        "dataclass",
        "field",
        "np",
        "os",
        "stat",
    }
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    for kind in ("image", "dicom", "audio", "text"):
        with pytest.raises(loaders.UnreadableFile, match="empty"):
            loaders.check_file(str(empty), kind)
