"""The central viewer: shows whichever of image, audio and text an item has, together.

Public API
----------
``MultiView(parent=None, audio_output=None)`` — a ``QWidget``.

- ``show_item(image: ImageData | None, audio: tuple[np.ndarray, int] | None, text: str | None,
  sound: SoundDisplay | None = None)``: show one item (``sound``: the audio's plots, computed
  ahead by the prefetcher; computed here when missing). The three viewers are built once and reused; a viewer an item lacks is hidden
  (and cleared, so no stale content can flash when it reappears). Stops any playback first.
- ``toggle_play()``: play/pause the item's sound (no-op without one) — connect the window's ``P``.
- ``stop()``: stop playback (call on shutdown).
- ``modalities() -> tuple[str, ...]``: what is shown now (``"image"``, ``"audio"``, ``"text"``).
- Attributes ``image_view`` (``ImageView``), ``audio_view`` (``AudioView``), ``text_view``
  (``TextView``) for wiring their signals.
- Signal: ``itemShown(tuple modalities)`` after the viewers have new content.

Layout: the image takes the left (it is the largest thing to read); sound above text in a column
on the right. With one modality it fills the whole area. Splitter sizes the user drags are kept.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSplitter, QStackedLayout, QVBoxLayout, QWidget

from mmrl_desktop.core.loaders import ImageData
from mmrl_desktop.core.sound_display import SoundDisplay
from mmrl_desktop.gui import theme
from mmrl_desktop.gui.viewers.audio_view import AudioView
from mmrl_desktop.gui.viewers.image_view import ImageView
from mmrl_desktop.gui.viewers.text_view import TextView


class MultiView(QWidget):
    itemShown = Signal(tuple)

    def __init__(self, parent: QWidget | None = None, audio_output=None):
        super().__init__(parent)
        self.setObjectName("multiView")
        self.image_view = ImageView()
        self.audio_view = AudioView(output=audio_output)
        self.text_view = TextView()
        self.right = QSplitter(Qt.Vertical)
        self.right.setChildrenCollapsible(False)
        self.right.addWidget(self.audio_view)
        self.right.addWidget(self.text_view)
        self.right.setStretchFactor(0, 3)
        self.right.setStretchFactor(1, 2)
        self.splitter = QSplitter(Qt.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.image_view)
        self.splitter.addWidget(self.right)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.placeholder = QLabel("Nothing to show for this item.", objectName="viewerPlaceholder")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setStyleSheet(theme.VIEWER_STYLE)
        self._stack = QStackedLayout()
        self._stack.addWidget(self.splitter)
        self._stack.addWidget(self.placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._stack)
        self._shown: tuple[str, ...] = ()
        self.show_item(None, None, None)

    def show_item(
        self,
        image: ImageData | None,
        audio: tuple[np.ndarray, int] | None,
        text: str | None,
        sound: SoundDisplay | None = None,
    ) -> None:
        self.audio_view.stop()
        has_image = image is not None
        has_audio = audio is not None and audio[0] is not None and len(audio[0]) > 0
        has_text = text is not None
        # clear what goes away first, fill what is shown, then flip visibility once
        if has_image or self.image_view.image() is not None:
            self.image_view.set_image(image)
        if has_audio:
            self.audio_view.set_audio(audio[0], audio[1], sound)
        elif "audio" in self._shown:
            self.audio_view.set_audio(None)
        if has_text or "text" in self._shown:
            self.text_view.set_text(text)
        self.image_view.setVisible(has_image)
        self.audio_view.setVisible(has_audio)
        self.text_view.setVisible(has_text)
        self.right.setVisible(has_audio or has_text)
        shown = tuple(
            m for m, on in (("image", has_image), ("audio", has_audio), ("text", has_text)) if on
        )
        self._stack.setCurrentWidget(self.splitter if shown else self.placeholder)
        self._shown = shown
        self.itemShown.emit(shown)

    def modalities(self) -> tuple[str, ...]:
        return self._shown

    def toggle_play(self) -> None:
        if "audio" in self._shown:
            self.audio_view.toggle_play()

    def stop(self) -> None:
        self.audio_view.stop()
