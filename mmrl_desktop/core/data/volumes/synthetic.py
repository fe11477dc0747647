"""Write volumes as files: a DICOM series (one file per slice), a multi-frame DICOM, a NIfTI.

Used by the demo's phantoms, the volume benchmark and the tests. The files carry no patient
identifiers (PatientName "Phantom", PatientID "0"). Arrays are ``(k, j, i)`` stored values with an
LPS geometry: ``origin`` is the first voxel's position; ``orientation`` the DICOM direction
cosines (row direction, then column direction); slices go along their cross product.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"


def lps_affine(
    spacing: Sequence[float],
    orientation: Sequence[float] = AXIAL,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """The ``(k, j, i)`` → LPS affine of a series written with these arguments."""
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    normal = np.cross(row, col)
    affine = np.eye(4)
    affine[:3, 0] = normal * spacing[0]
    affine[:3, 1] = col * spacing[1]
    affine[:3, 2] = row * spacing[2]
    affine[:3, 3] = origin
    return affine


def _base_dataset(uid: str, sop_class: str, shape, spacing, slope, intercept, window, tags):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.SOPClassUID = sop_class
    ds.PatientName, ds.PatientID = "Phantom", "0"
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[uid, "study"])
    ds.SeriesInstanceUID = uid
    ds.Modality = tags.get("modality", "CT")
    for key, kw in (("body_part", "BodyPartExamined"), ("series_description", "SeriesDescription")):
        if key in tags:
            setattr(ds, kw, tags[key])
    ds.Rows, ds.Columns = int(shape[1]), int(shape[2])
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1
    ds.PixelSpacing = [float(spacing[1]), float(spacing[2])]
    ds.SliceThickness = float(spacing[0])
    ds.RescaleSlope, ds.RescaleIntercept = float(slope), float(intercept)
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = float(window[0]), float(window[1])
    return ds


def _save(ds, path: str) -> None:
    ds.save_as(path, enforce_file_format=True)


def write_series(
    folder: str | os.PathLike,
    stored: np.ndarray,
    spacing: Sequence[float] = (2.0, 1.0, 1.0),
    orientation: Sequence[float] = AXIAL,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    slope: float = 1.0,
    intercept: float = -1024.0,
    window: tuple[float, float] | None = (40.0, 400.0),
    series_uid: str | None = None,
    names: Sequence[str] | None = None,
    tags: dict | None = None,
) -> list[str]:
    """One DICOM file per slice ``k`` of ``stored`` (int16), named ``names[k]`` (default
    ``slice_###.dcm``); returns the paths in slice order."""
    from pydicom.uid import generate_uid

    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    uid = series_uid or generate_uid()
    stored = np.asarray(stored, dtype=np.int16)
    affine = lps_affine(spacing, orientation, origin)
    ds = _base_dataset(uid, CT_STORAGE, stored.shape, spacing, slope, intercept, window, tags or {})
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    paths = []
    for k in range(stored.shape[0]):
        ds.SOPInstanceUID = generate_uid(entropy_srcs=[uid, str(k)])
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(v) for v in affine[:3, 3] + k * affine[:3, 0]]
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        path = os.path.join(folder, names[k] if names else f"slice_{k:03d}.dcm")
        _save(ds, path)
        paths.append(path)
    return paths


def write_multiframe(
    path: str | os.PathLike,
    stored: np.ndarray,
    spacing: Sequence[float] = (2.0, 1.0, 1.0),
    orientation: Sequence[float] = AXIAL,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
    slope: float = 1.0,
    intercept: float = -1024.0,
    window: tuple[float, float] | None = (40.0, 400.0),
    tags: dict | None = None,
) -> str:
    """An enhanced (multi-frame) CT file with per-frame positions."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence as Seq
    from pydicom.uid import generate_uid

    uid = generate_uid()
    stored = np.asarray(stored, dtype=np.int16)
    affine = lps_affine(spacing, orientation, origin)
    ds = _base_dataset(
        uid, ENHANCED_CT_STORAGE, stored.shape, spacing, slope, intercept, window, tags or {}
    )
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.NumberOfFrames = int(stored.shape[0])
    shared = Dataset()
    orient, measures = Dataset(), Dataset()
    orient.ImageOrientationPatient = [float(v) for v in orientation]
    measures.PixelSpacing = [float(spacing[1]), float(spacing[2])]
    measures.SliceThickness = float(spacing[0])
    shared.PlaneOrientationSequence = Seq([orient])
    shared.PixelMeasuresSequence = Seq([measures])
    ds.SharedFunctionalGroupsSequence = Seq([shared])
    frames = []
    for k in range(stored.shape[0]):
        frame, pos = Dataset(), Dataset()
        pos.ImagePositionPatient = [float(v) for v in affine[:3, 3] + k * affine[:3, 0]]
        frame.PlanePositionSequence = Seq([pos])
        frames.append(frame)
    ds.PerFrameFunctionalGroupsSequence = Seq(frames)
    ds.PixelData = np.ascontiguousarray(stored).tobytes()
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    _save(ds, path)
    return path


def write_nifti(
    path: str | os.PathLike,
    values: np.ndarray,
    spacing: Sequence[float] = (2.0, 1.0, 1.0),
    orientation: Sequence[float] = AXIAL,
    origin: Sequence[float] = (0.0, 0.0, 0.0),
) -> str:
    """``values`` ``(k, j, i)`` (e.g. HU) as NIfTI with the same patient geometry as
    ``write_series`` with these arguments (the affine converted to RAS, the array to x, y, z)."""
    import nibabel as nib

    from mmrl_desktop.core.data.volumes.nifti import _KJI_TO_XYZ
    from mmrl_desktop.core.data.volumes.volume import LPS_FROM_RAS

    ras = LPS_FROM_RAS @ lps_affine(spacing, orientation, origin) @ _KJI_TO_XYZ
    img = nib.Nifti1Image(np.ascontiguousarray(np.asarray(values).T), ras)
    img.header.set_xyzt_units("mm")
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    nib.save(img, path)
    return path
