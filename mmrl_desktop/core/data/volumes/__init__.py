"""Volumes: a DICOM series, a multi-frame DICOM or a NIfTI file as one item (ADR 0015).

``Volume`` (``volume.py``) and ``read_volume`` (``read.py``) are what the viewer and the model read;
``is_volume`` / ``volume_of_item`` (``items.py``) open an imported item's volume from what import
recorded in ``Item.info["volume"]``, without re-reading every header.
"""

from mmrl_desktop.core.data.volumes.items import is_volume, volume_of_item
from mmrl_desktop.core.data.volumes.read import read_volume
from mmrl_desktop.core.data.volumes.volume import PLANES, Volume, axis_map, is_nifti_name

__all__ = [
    "PLANES",
    "Volume",
    "axis_map",
    "is_nifti_name",
    "is_volume",
    "read_volume",
    "volume_of_item",
]
