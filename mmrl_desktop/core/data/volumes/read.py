"""``read_volume``: a path (a series folder, a list of files, a multi-frame DICOM, a NIfTI) to a
``Volume``. Its own module so that ``volume.py`` imports none of the readers (no import cycle)."""

from __future__ import annotations

import os

from mmrl_desktop.core.data.loaders.base import UnreadableFile, is_dicom_path
from mmrl_desktop.core.data.volumes.dicom_series import read_series, read_series_folder
from mmrl_desktop.core.data.volumes.multiframe import read_multiframe
from mmrl_desktop.core.data.volumes.nifti import read_nifti
from mmrl_desktop.core.data.volumes.volume import Volume, is_nifti_name


def read_volume(path: str | os.PathLike | list | tuple) -> Volume:
    """A volume from a DICOM series folder, a list of a series' files, a multi-frame DICOM file,
    or a ``.nii`` / ``.nii.gz`` file. Raises ``UnreadableFile`` (one sentence) otherwise; a folder
    with several series is refused (import them: each becomes its own item)."""
    if isinstance(path, (list, tuple)):
        return read_series([os.fspath(p) for p in path])
    path = os.fspath(path)
    if os.path.isdir(path):
        return read_series_folder(path)
    if is_nifti_name(path):
        return read_nifti(path)
    if is_dicom_path(path):
        return read_multiframe(path)
    raise UnreadableFile(
        "not a volume (a DICOM series folder, a multi-frame DICOM or a NIfTI file)"
    )
