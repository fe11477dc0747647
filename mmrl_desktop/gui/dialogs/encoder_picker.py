"""The encoder choice of one modality (issue 14), shared by the New-project wizard and Settings.

A combo box — "Small built-in (default)" (or the wizard's image presets: the small CNN and the
torchvision backbones from a local weights file), then "Pretrained folder…" — and, for a
pretrained folder, the folder's path with a "Choose…" button and one line saying what it holds:
architecture, parameters, embedding size, dtype, input size and where it will run; or the
refusal sentence of ``inspect_encoder`` in red. ``inspect_encoder`` reads only the folder's small
files and the safetensors headers (milliseconds, nothing run, neither torch nor transformers
imported), so it runs on the GUI thread as the path changes.

``EncodersBox`` holds one picker per modality; ``table()`` is project.toml's ``[encoders]``
(modality → folder) for the pickers set to a pretrained folder, with the table's other settings
(``batch_size``, …) and its relative paths (to the project folder) kept as they were; a last row
chooses whether LoRA adapters train on a pretrained encoder (``lora``: automatic — on a GPU —,
on, off) and their rank (``lora_rank``).
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.pretrained import ENCODER_MODALITIES, EncoderInfo, inspect_encoder
from mmrl_desktop.core.learning.pretrained.settings import resolve_folder
from mmrl_desktop.gui.sentence import sentence
from mmrl_desktop.gui.widgets import NOTE_ERROR, NOTE_INFO, show_note

BUILTIN = "Small built-in (default)"
PRETRAINED = "Pretrained folder…"
TITLES = {"image": "Image encoder", "text": "Text encoder", "audio": "Audio encoder"}
LORA_CHOICES = (("Automatic (on a GPU)", None), ("On", True), ("Off", False))


def _cuda_likely() -> bool:
    """An NVIDIA driver is installed (the check the GUI can make without importing torch)."""
    if os.path.exists("/proc/driver/nvidia/version"):
        return True
    return sys.platform == "win32" and shutil.which("nvidia-smi") is not None


def device_text(setting: str = "auto", known: str = "") -> str:
    """Where an encoder will run, in words: ``known`` (the trainer's reported device) when given,
    else what the ``device`` setting resolves to. The GUI process never imports torch, so for
    ``auto`` it looks for an NVIDIA driver or Apple silicon instead of asking CUDA."""
    name = known or setting
    if name == "auto":
        if _cuda_likely():
            name = "cuda"
        elif sys.platform == "darwin" and platform.machine() == "arm64":
            name = "mps"
        else:
            name = "cpu"
    if name.startswith("cuda"):
        return "the GPU (CUDA), in half precision"
    if name == "mps":
        return "the Apple GPU (MPS)"
    return "the CPU"


def describe(info: EncoderInfo, device: str) -> str:
    """The line under a pretrained folder: what it is and where it runs."""
    parts = [
        f"{info.architecture} ({info.model_type})",
        f"{_count(info.parameters)} parameters",
        f"embedding size {info.embedding_size}",
        info.dtype,
    ]
    if info.input_size:
        parts.append(f"{info.input_size} px input")
    if info.sample_rate:
        parts.append(f"{info.sample_rate} Hz")
    return " · ".join(parts) + f"\nRuns on {device}."


def _count(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.1f} B"
    if n >= 1e6:
        return f"{n / 1e6:.1f} M"
    return f"{n:,}"


class EncoderPicker(QWidget):
    """One modality's encoder: built-in choices, or a pretrained folder checked as it is typed."""

    changed = Signal()

    def __init__(self, modality: str, builtin=(BUILTIN,), device: str = "", parent=None):
        super().__init__(parent)
        if modality not in ENCODER_MODALITIES:
            raise ValueError(modality)
        self.modality = modality
        self.device = device or device_text()
        self.info: EncoderInfo | None = None
        self.problem = ""
        self.combo = QComboBox()
        self.combo.addItems([*builtin, PRETRAINED])
        self.combo.setObjectName(f"{modality}EncoderChoice")
        self.combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a Hugging Face model folder (config.json + .safetensors)")
        self.folder.setObjectName(f"{modality}EncoderFolder")
        self.browse = QPushButton("Choose…")
        self.browse.clicked.connect(self.choose_folder)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.note.setObjectName(f"{modality}EncoderInfo")
        self.note.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Minimum)  # never squeezed
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.folder, 1)
        row.addWidget(self.browse)
        self.folder_row = QWidget()
        self.folder_row.setLayout(row)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.combo)
        lay.addWidget(self.folder_row)
        lay.addWidget(self.note)
        self.combo.currentTextChanged.connect(self._choice_changed)
        self.combo.activated.connect(self._activated)
        self.folder.textChanged.connect(self._folder_changed)
        self._choice_changed(self.combo.currentText())

    # ------------------------------------------------------------ state
    def is_pretrained(self) -> bool:
        return self.combo.currentText() == PRETRAINED

    def folder_path(self) -> str:
        """The checked folder (absolute) when a pretrained folder is chosen and accepted, else ""."""
        return self.info.path if self.is_pretrained() and self.info is not None else ""

    def is_complete(self) -> bool:
        return not self.is_pretrained() or self.info is not None

    def set_folder(self, path: str) -> None:
        """Choose "Pretrained folder…" with ``path`` (Settings: the project's current one)."""
        self.combo.setCurrentText(PRETRAINED)
        self.folder.setText(str(path))

    def choose_folder(self) -> None:
        start = self.folder.text().strip() or str(Path.home())
        path = QFileDialog.getExistingDirectory(self, TITLES[self.modality], start)
        if path:
            self.set_folder(path)

    # ------------------------------------------------------------ reactions
    def _activated(self, _index: int) -> None:
        """The user picked "Pretrained folder…" without a folder yet: ask for one at once."""
        if self.is_pretrained() and not self.folder.text().strip():
            self.choose_folder()

    def _choice_changed(self, _text: str) -> None:
        self.folder_row.setVisible(self.is_pretrained())
        self._folder_changed(self.folder.text())

    def _folder_changed(self, text: str) -> None:
        self.info, self.problem = None, ""
        if not self.is_pretrained():
            show_note(self.note, "", NOTE_INFO)
        elif not text.strip():
            self.problem = "Choose the model folder."
            show_note(self.note, self.problem, NOTE_ERROR)
        else:
            try:
                self.info = inspect_encoder(text.strip(), self.modality)
            except UserError as err:  # "<the path> has no …": the path is in the box above
                msg = str(err)
                if msg.startswith(text.strip() + " "):
                    msg = "This folder" + msg[len(text.strip()) :]
                self.problem = sentence(msg)
                show_note(self.note, self.problem, NOTE_ERROR)
            else:
                show_note(self.note, describe(self.info, self.device), NOTE_INFO)
        self.changed.emit()


class EncodersBox(QWidget):
    """A picker per modality (image, text, audio) in a form; ``table()`` → ``[encoders]``.

    ``current``: the project's ``[encoders]`` table; ``root``: the project folder its relative
    paths are relative to (None in the wizard: there is no project yet)."""

    changed = Signal()

    def __init__(self, current: dict | None = None, device: str = "", image_builtin=(BUILTIN,),
                 root=None, parent=None):  # fmt: skip
        super().__init__(parent)
        self.current = dict(current or {})
        self.root = root
        self.pickers: dict[str, EncoderPicker] = {}
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.ExpandingFieldsGrow)
        for modality in ENCODER_MODALITIES:
            builtin = image_builtin if modality == "image" else (BUILTIN,)
            picker = EncoderPicker(modality, builtin, device)
            path = self.current.get(modality)
            if isinstance(path, str) and path.strip():
                picker.set_folder(str(self._resolve(path)))
            picker.changed.connect(self.changed)
            self.pickers[modality] = picker
            form.addRow(TITLES[modality], picker)
        form.addRow("Adapters (LoRA)", self._lora_row())

    def _lora_row(self) -> QWidget:
        """Automatic / On / Off and the rank: train LoRA adapters on a pretrained image or text
        encoder (on a CPU each update runs the encoder forward and backward: seconds)."""
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        self.lora = QComboBox()
        for text, _value in LORA_CHOICES:
            self.lora.addItem(text)
        values = [value for _text, value in LORA_CHOICES]
        current = self.current.get("lora")
        self.lora.setCurrentIndex(values.index(current) if isinstance(current, bool) else 0)
        self.lora.setToolTip(
            "Train LoRA adapters on a pretrained image or text encoder together with the heads. "
            "Automatic: for a new model on a GPU. On a CPU an update takes seconds."
        )
        self.lora_rank = QSpinBox()
        self.lora_rank.setRange(1, 256)
        rank = self.current.get("lora_rank", 8)
        self.lora_rank.setValue(rank if isinstance(rank, int) and 1 <= rank <= 256 else 8)
        self.lora_rank.setPrefix("rank ")
        layout.addWidget(self.lora)
        layout.addWidget(self.lora_rank)
        layout.addStretch(1)
        return row

    def _resolve(self, path: str) -> Path:
        return resolve_folder(self.root, path.strip()) if self.root else Path(path).expanduser()

    def table(self) -> dict:
        """``[encoders]``: the chosen folders (a folder left unchanged keeps its spelling, e.g.
        relative to the project) and the current table's other settings."""
        out = {k: v for k, v in self.current.items() if k not in ENCODER_MODALITIES}
        for modality, picker in self.pickers.items():
            folder = picker.folder_path()
            if not folder:
                continue
            before = self.current.get(modality)
            same = isinstance(before, str) and self._resolve(before).resolve() == Path(folder)
            out[modality] = before if same else folder
        lora = LORA_CHOICES[self.lora.currentIndex()][1]
        if lora is None:
            out.pop("lora", None)
        else:
            out["lora"] = lora
        if self.lora_rank.value() != 8 or "lora_rank" in out:
            out["lora_rank"] = self.lora_rank.value()
        return out

    def problems(self) -> list[str]:
        """One sentence per picker set to a pretrained folder that is refused or missing."""
        return [f"{TITLES[m]}: {p.problem}" for m, p in self.pickers.items() if not p.is_complete()]

    def is_complete(self) -> bool:
        return not self.problems()
