"""The central viewer: shows whichever of image, audio and text an item has, together.

Public API
----------
``MultiView(parent=None, audio_output=None)`` — a ``QWidget``.

- ``show_item(image: ImageData | None, audio: tuple[np.ndarray, int] | None, text: str | None,
  sound: SoundDisplay | None = None, key: str | None = None)``: show one item (``sound``: the
  audio's plots, computed ahead by the prefetcher; computed here when missing; ``key``: the
  item's id, to find it preloaded; ``volume``: a ``Volume``, shown in a ``VolumeView`` in the
  image's place). Stops any playback first.
- ``preload(key, image, audio, text, sound=None, volume=None)``: fill a hidden page with the item expected
  next and paint it once off screen (idle time), so that showing it is a page flip.
- ``toggle_play()``: play/pause the item's sound (no-op without one) — connect the window's ``P``.
- ``stop()``: stop playback (call on shutdown).
- ``prepare(combinations)``: build the pages of these modality tuples ahead, in idle time.
- ``modalities() -> tuple[str, ...]``: what is shown now (``"image"`` or ``"volume"``,
  ``"audio"``, ``"text"``).
- ``current_page() -> QWidget``: the page on top (the placeholder when nothing is shown).
- Attributes ``image_view`` (``ImageView``), ``audio_view`` (``AudioView``), ``text_view``
  (``TextView``), ``volume_view`` (``VolumeView``): the viewers of the page shown now (of the last
  page that had one, otherwise).
- Signal: ``itemShown(tuple modalities)`` after the viewers have new content.

Layout: one page per combination of modalities, built the first time an item needs it and kept (a
``QStackedLayout``), and a second one per combination for ``preload``: while the expert looks at
one item, the next is already laid out and painted once into a throwaway pixmap on the hidden page,
which fills pyqtgraph's caches (axis pictures, the image's ``QImage``, the curve's path). The click
then flips pages, and the paint only replays those caches (an audio item's plots, cold and warm:
ADR 0008, docs/benchmarks.md §2b, third session). The pages are stacked, all of them shown, each
opaque (``StackAll``), and a flip raises one above the others: Qt paints only the top page and
skips what it covers. Flipping by hiding one page and showing the other (``StackOne``) cost more
per click: the show and hide events of every widget on both pages, a relayout, and the stacked
widget's updates turned off and on across all its descendants (ADR 0009). A page under another one
keeps its geometry, so a window resize lays out every page (both costs: docs/benchmarks.md §2b,
fourth session, ``benchmarks/click_parts.py``). Moving between an image-only item and one with
sound flips pages instead of hiding and showing viewers: nothing is re-laid out or resized on the
click (hiding and showing viewers resized every pyqtgraph view whenever the kind of item changed).
On a page the image takes the left (it is the largest thing to read); sound above text in a column
on the right; a single modality fills the page. Splitter sizes the user drags are kept per page. A volume (``VolumeView``) takes the image's place
and, when shown, the keyboard focus, unless a text box has it (its slice keys are not the window's).
The pages share one audio output. A page is always filled with the new item before it is shown, so
a hidden page's old content never flashes.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QSplitter,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from mmrl_desktop.core.data.loaders import ImageData
from mmrl_desktop.core.data.sound_display import SoundDisplay
from mmrl_desktop.gui import theme
from mmrl_desktop.gui.viewers.audio_view import AudioView
from mmrl_desktop.gui.viewers.image_view import ImageView
from mmrl_desktop.gui.viewers.text_view import TextView
from mmrl_desktop.gui.viewers.volume_view import VolumeView


class _Page(QWidget):
    """The viewers of one combination of modalities, laid out once."""

    def __init__(self, modalities: tuple[str, ...], audio_output):
        super().__init__()
        self.modalities = modalities
        self.key: str | None = None  # the item shown on this page (when the caller named it)
        self.image_view = ImageView() if "image" in modalities else None
        self.volume_view = VolumeView() if "volume" in modalities else None
        self.audio_view = AudioView(output=audio_output) if "audio" in modalities else None
        self.text_view = TextView() if "text" in modalities else None
        column = [v for v in (self.audio_view, self.text_view) if v is not None]
        right: QWidget | None = column[0] if len(column) == 1 else None
        if len(column) == 2:
            right = QSplitter(Qt.Vertical)
            right.setChildrenCollapsible(False)
            for v in column:
                right.addWidget(v)
            right.setStretchFactor(0, 3)
            right.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        left = self.image_view or self.volume_view  # a volume takes the image's place
        if left is not None and right is not None:
            split = QSplitter(Qt.Horizontal)
            split.setChildrenCollapsible(False)
            split.addWidget(left)
            split.addWidget(right)
            split.setStretchFactor(0, 3)
            split.setStretchFactor(1, 2)
            layout.addWidget(split)
        else:
            layout.addWidget(left or right)

    def warm(self) -> None:
        """Paint the plots once into a throwaway pixmap: fills pyqtgraph's caches (the axes'
        pictures, the image's ``QImage``, the curve's path) before the page is shown."""
        if self.image_view is not None:
            self.image_view.graphics.grab()
        if self.volume_view is not None:
            self.volume_view.graphics.grab()
        if self.audio_view is not None:
            self.audio_view.plots.grab()

    def show_item(self, image, audio, text, sound, key=None, volume=None) -> None:
        self.key = key
        if self.image_view is not None:
            self.image_view.set_image(image)
        if self.volume_view is not None:
            self.volume_view.set_volume(volume)
        if self.audio_view is not None:
            self.audio_view.set_audio(audio[0], audio[1], sound)
        if self.text_view is not None:
            self.text_view.set_text(text)


class MultiView(QWidget):
    itemShown = Signal(tuple)

    def __init__(self, parent: QWidget | None = None, audio_output=None):
        super().__init__(parent)
        self.setObjectName("multiView")
        self._audio_output = audio_output
        self._pages: dict[tuple[str, ...], list[_Page]] = {}  # one or two pages per combination
        self._page: _Page | None = None
        self.image_view: ImageView | None = None
        self.audio_view: AudioView | None = None
        self.text_view: TextView | None = None
        self.volume_view: VolumeView | None = None
        self.placeholder = QLabel("Nothing to show for this item.", objectName="viewerPlaceholder")
        self.placeholder.setAlignment(Qt.AlignCenter)
        self.placeholder.setStyleSheet(theme.VIEWER_STYLE)
        self.placeholder.setAutoFillBackground(True)  # opaque: what it covers is not painted
        self._stack = QStackedLayout()
        self._stack.setStackingMode(QStackedLayout.StackAll)  # flips raise a page, see above
        self._stack.addWidget(self.placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._stack)
        self._shown: tuple[str, ...] = ()
        self.show_item(None, None, None)

    def prepare(self, combinations) -> None:
        """Build the pages of these modality combinations ahead (two each), one per event-loop
        turn, so the first item of each kind does not pay for building its viewers (~60 ms)."""
        combos = [tuple(c) for c in combinations if tuple(c)]
        # first one page per combination, then the second one (for ``preload``)
        todo = [c for c in combos if not self._pages.get(c)] or [
            c for c in combos if len(self._pages.get(c, ())) < 2
        ]
        if todo:
            self._new_page(todo[0])
            QTimer.singleShot(0, self, lambda: self.prepare(combos))  # dropped if self is gone

    def _page_for(self, modalities: tuple[str, ...]) -> _Page:
        """The page to fill in place: the one shown now if it has these modalities."""
        pages = self._pages.get(modalities)
        if not pages:
            return self._new_page(modalities)
        return self._page if self._page in pages else pages[0]

    def _new_page(self, modalities: tuple[str, ...]) -> _Page:
        if "audio" in modalities and self._audio_output is None:
            first = next(
                (p.audio_view for ps in self._pages.values() for p in ps if p.audio_view), None
            )
            if first is not None:
                self._audio_output = first.output  # one output for every page
        page = _Page(modalities, self._audio_output)
        page.setAutoFillBackground(True)  # opaque: the pages under it are not painted
        self._pages.setdefault(modalities, []).append(page)
        self._stack.addWidget(page)  # under the page shown now
        page.show()  # now, not at the next event-loop turn (a page made on a click is raised)
        return page

    @staticmethod
    def _modalities(image, audio, text, volume=None) -> tuple[str, ...]:
        has_audio = audio is not None and audio[0] is not None and len(audio[0]) > 0
        return tuple(
            m
            for m, on in (
                ("image", image is not None and volume is None),
                ("volume", volume is not None),
                ("audio", has_audio),
                ("text", text is not None),
            )
            if on
        )

    def preload(
        self, key: str, image, audio, text, sound: SoundDisplay | None = None, volume=None
    ) -> None:
        """Fill a covered page with the item ``key`` and paint it once off screen."""
        shown = self._modalities(image, audio, text, volume)
        if not shown:
            return
        pages = self._pages.get(shown, [])
        spare = next((p for p in pages if p is not self._page), None)
        if spare is None:
            spare = self._new_page(shown)
        if spare.key == key:
            return
        spare.show_item(image, audio, text, sound, key, volume)
        # the stacked layout gives every page the shown page's size: apply the relayout the new
        # content asked for, then paint the page into a throwaway pixmap
        QCoreApplication.sendPostedEvents(None, QEvent.LayoutRequest)
        spare.warm()

    def preloaded(self, key: str) -> bool:
        return any(p.key == key and p is not self._page for ps in self._pages.values() for p in ps)

    def show_item(
        self,
        image: ImageData | None,
        audio: tuple[np.ndarray, int] | None,
        text: str | None,
        sound: SoundDisplay | None = None,
        key: str | None = None,
        volume=None,
    ) -> None:
        self.stop()
        shown = self._modalities(image, audio, text, volume)
        page = None
        if shown and key is not None:  # preloaded on a hidden page: a flip
            page = next((p for p in self._pages.get(shown, []) if p.key == key), None)
            if page is self._page:
                page = None  # shown again (an undo, a revisit): start it afresh
        if page is None and shown:
            page = self._page_for(shown)
            page.show_item(image, audio, text, sound, key, volume)
        if page is not self._page:  # a hidden page keeps its last item until it is shown again
            focus = QApplication.focusWidget()
            if focus is not None and self._page is not None and self._page.isAncestorOf(focus):
                focus.clearFocus()  # no keyboard focus left on a page that is now covered
            (page if page is not None else self.placeholder).raise_()
            self._page = page
        if page is not None:
            self.image_view = page.image_view or self.image_view
            self.audio_view = page.audio_view or self.audio_view
            self.text_view = page.text_view or self.text_view
            self.volume_view = page.volume_view or self.volume_view
            if page.volume_view is not None:
                self._focus_volume(page.volume_view)
        self._shown = shown
        self.itemShown.emit(shown)

    def _focus_volume(self, view: VolumeView) -> None:
        """A volume shown gets the keys (↑/↓, PgUp/PgDn scroll its slices) unless the expert is
        typing elsewhere: the window's answer keys still work, the viewer does not take them."""
        focus = QApplication.focusWidget()
        if focus is None or self.isAncestorOf(focus):
            view.graphics.setFocus(Qt.OtherFocusReason)

    def modalities(self) -> tuple[str, ...]:
        return self._shown

    def current_page(self) -> QWidget:
        """The page on top (the placeholder when the item has nothing to show)."""
        return self._page if self._page is not None else self.placeholder

    def toggle_play(self) -> None:
        if "audio" in self._shown and self._page is not None and self._page.audio_view is not None:
            self._page.audio_view.toggle_play()

    def stop(self) -> None:
        if self._page is not None and self._page.audio_view is not None:
            self._page.audio_view.stop()
