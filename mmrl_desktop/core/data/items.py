"""Items: one case with one or more modalities (image, audio, text) sharing an id.

Plain data, no Qt types, no decoded pixels: files are read lazily by ``mmrl_desktop.core.data.loaders``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Modality(str, Enum):
    IMAGE = "image"
    AUDIO = "audio"
    TEXT = "text"
    VOLUME = "volume"  # a DICOM series, multi-frame DICOM or NIfTI (``core.data.volumes``)


IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".dcm"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg"})
TEXT_SUFFIXES = frozenset({".txt"})


def modality_of_suffix(suffix: str) -> Modality | None:
    """The modality a file extension stands for, or None for an unrecognised file."""
    s = suffix.lower()
    if s in IMAGE_SUFFIXES:
        return Modality.IMAGE
    if s in AUDIO_SUFFIXES:
        return Modality.AUDIO
    if s in TEXT_SUFFIXES:
        return Modality.TEXT
    return None


@dataclass(frozen=True)
class Item:
    """One case. Paths are absolute; ``text_inline`` holds text given in a manifest cell.

    ``labels`` maps task name → label for labelled items (import fills the first task).
    ``split`` is ``"pool"`` (shown to the expert) or ``"holdout"`` (kept out of feedback, for
    evaluation). ``info`` holds display-only metadata such as a DICOM file's modality and window
    presets — never patient identifiers — and ``source_root``, the real path of the folder the item
    was imported from: ``loaders.item_file`` refuses to read a file that no longer lies inside it.
    """

    item_id: str
    image: str | None = None
    audio: str | None = None
    text: str | None = None
    text_inline: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    split: str = "pool"
    info: dict = field(default_factory=dict)

    @property
    def modalities(self) -> tuple[Modality, ...]:
        out = []
        if self.image:  # a volume's ``image`` is its first file; ``info["volume"]`` says it is one
            volume = isinstance((self.info or {}).get("volume"), dict)
            out.append(Modality.VOLUME if volume else Modality.IMAGE)
        if self.audio:
            out.append(Modality.AUDIO)
        if self.text or self.text_inline is not None:
            out.append(Modality.TEXT)
        return tuple(out)

    def label(self, task: str) -> str | None:
        return self.labels.get(task)

    def __hash__(self) -> int:  # dict field makes the default hash fail
        return hash(self.item_id)
