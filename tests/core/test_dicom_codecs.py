"""JPEG Lossless and JPEG-LS DICOM (common in clinical archives) decode in the default install
(issue 13, point 8), through the app's own loader, with a permissively licensed codec (GDCM)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.pixels import get_decoder

from mmrl_desktop.core.data.loaders import check_file, load_image


def _file(name: str) -> str:
    path = get_testdata_file(name, download=False)
    assert path is not None, f"{name} is not among pydicom's bundled test files"
    return path


# compressed file → the same image stored losslessly (None: no local reference), largest error
CASES = {
    "MR_small_jpeg_ls_lossless.dcm": ("MR_small.dcm", 0),  # JPEG-LS lossless, 16-bit signed
    "SC_rgb_jpeg_gdcm.dcm": ("SC_rgb_rle.dcm", 0),  # JPEG Lossless SV1 (process 14), RGB
    "SC_rgb_jls_lossy_line.dcm": ("SC_rgb_rle.dcm", 2),  # JPEG-LS near-lossless, RGB
    "SC_rgb_jls_lossy_sample.dcm": ("SC_rgb_rle.dcm", 2),
    "JPEGLSNearLossless_16.dcm": (None, None),  # JPEG-LS near-lossless, 16-bit
    "JPEGLSNearLossless_08.dcm": (None, None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jpeg_lossless_and_jpeg_ls_decode_through_the_loader(name):
    path = _file(name)
    info = check_file(path, "dicom")  # the import's check: no "cannot decode" refusal
    assert info["frames"] == 1
    image = load_image(path)
    ref_name, tolerance = CASES[name]
    if ref_name is not None:
        ref = load_image(_file(ref_name))
        assert image.pixels.shape == ref.pixels.shape
        assert np.abs(image.pixels.astype(np.float64) - ref.pixels).max() <= tolerance
    else:
        assert image.pixels.ndim == 2 and image.pixels.std() > 0
    assert image.display.dtype == np.uint8 and image.display.max() > image.display.min()


@pytest.mark.parametrize(
    "syntax",
    [
        pydicom.uid.JPEGLossless,
        pydicom.uid.JPEGLosslessSV1,
        pydicom.uid.JPEGLSLossless,
        pydicom.uid.JPEGLSNearLossless,
    ],
)
def test_the_decoder_is_gdcm_never_a_gpl_plugin(syntax):
    """GDCM (BSD; the python-gdcm wheel is Apache-2.0) decodes these; pylibjpeg-libjpeg (GPL-3)
    is not a dependency (tests/test_packaging.py checks the licences of the whole install)."""
    decoder = get_decoder(syntax)
    assert decoder.is_available
    assert "gdcm" in decoder.available_plugins


def test_the_loader_gives_what_gdcm_decodes():
    path = _file("MR_small_jpeg_ls_lossless.dcm")
    by_gdcm = pydicom.pixels.pixel_array(path, decoding_plugin="gdcm")
    np.testing.assert_array_equal(load_image(path).pixels, by_gdcm.astype(np.float32))
