"""Display data for items, decoded ahead of time on a worker thread.

The GUI must paint the next item within one frame of a click, but decoding a DICOM slice or a
long WAV can take longer than that. The prefetcher decodes the next few queued items in a
background thread and keeps a small LRU cache, so a click only swaps arrays that are ready.
A volume item (a DICOM series, a NIfTI file) is opened lazily: its record and the one slice the
viewer shows first (``first_view``), nothing more. Qt-free; results are plain numpy/str
(``ItemView``)."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders import ImageData
from mmrl_desktop.core.data.sound_display import SoundDisplay, sound_display
from mmrl_desktop.core.data.volumes import Volume


@dataclass
class ItemView:
    """What the viewers show for one item. ``errors``: sentences for parts that failed to load."""

    item_id: str
    image: ImageData | None = None
    audio: tuple[np.ndarray, int] | None = None
    sound: SoundDisplay | None = None  # the audio's waveform envelope and spectrogram, ready
    text: str | None = None
    errors: list[str] = field(default_factory=list)
    volume: Volume | None = None  # a volume item's volume (then ``image`` is None)


def first_view(volume: Volume) -> tuple[str, int]:
    """Where the viewer opens a volume: the middle axial slice."""
    return "axial", volume.n_slices("axial") // 2


def _open_volume(item: Item) -> Volume:
    """The item's volume with the slice shown first already decoded (a series' LRU keeps it)."""
    from mmrl_desktop.core.data.volumes.items import volume_of_item

    volume = volume_of_item(item)
    volume.plane_slice(*first_view(volume))
    return volume


def load_for_display(item: Item) -> ItemView:
    """Decode every modality of ``item`` for display (audio at its native rate, no torch). Every
    file goes through ``loaders.item_file`` (a regular file, still inside its source folder); a
    sound is read up to ``audio.MAX_AUDIO_SAMPLES``."""
    from mmrl_desktop.core.data import loaders
    from mmrl_desktop.core.data.loaders.audio import read_audio
    from mmrl_desktop.core.data.volumes.items import is_volume

    view = ItemView(item.item_id)
    if is_volume(item):
        try:
            view.volume = _open_volume(item)
        except Exception as err:  # a slice changed or vanished since import
            view.errors.append(f"The volume could not be shown: {_reason(err)}")
    elif item.image:
        try:
            view.image = loaders.load_image(loaders.item_file(item, "image"))
        except Exception as err:  # a file changed or vanished since import
            view.errors.append(f"The image could not be shown: {_reason(err)}")
    if item.audio:
        try:
            view.audio = read_audio(loaders.item_file(item, "audio"))
            if len(view.audio[0]):
                view.sound = sound_display(*view.audio)
        except Exception as err:
            view.errors.append(f"The sound could not be shown: {_reason(err)}")
    if item.text_inline is not None:
        view.text = item.text_inline
    elif item.text:
        try:
            view.text = loaders.load_text(path=loaders.item_file(item, "text"))
        except Exception as err:
            view.errors.append(f"The text could not be shown: {_reason(err)}")
    root = (item.info or {}).get(loaders.SOURCE_ROOT)
    if view.errors and root and not os.path.isdir(root):  # the cause first, the path last
        view.errors.insert(
            0, f"Its folder is gone: if it moved, File ▸ Find moved files… follows it ({root})."
        )
    return view


def _reason(err: Exception) -> str:
    text = str(err).strip() or type(err).__name__
    return text[0].lower() + text[1:] if text else text


class Prefetcher:
    """Decode items ahead on one background thread; an LRU cache of ``capacity`` views."""

    def __init__(
        self,
        loader: Callable[[Item], ItemView] = load_for_display,
        capacity: int = 16,
        on_ready: Callable[[str], None] | None = None,
    ):
        """``on_ready(item_id)`` is called on the worker thread when an item has been decoded
        (not when it failed or was cancelled): a GUI turns it into a queued signal."""
        self._loader = loader
        self._capacity = capacity
        self._on_ready = on_ready
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._lock = threading.Lock()
        self._futures: OrderedDict[str, Future] = OrderedDict()
        self._closed = False

    def prefetch(self, items: Iterable[Item]) -> None:
        """Decode ``items`` ahead; nothing once closed (a look-ahead queued before the window
        closed may still ask)."""
        with self._lock:
            if self._closed:
                return
            for item in items:
                if item.item_id in self._futures:
                    self._futures.move_to_end(item.item_id)
                    continue
                fut = self._futures[item.item_id] = self._pool.submit(self._loader, item)
                if self._on_ready is not None:
                    fut.add_done_callback(lambda f, i=item.item_id: self._ready(f, i))
            while len(self._futures) > self._capacity:
                _, fut = self._futures.popitem(last=False)
                fut.cancel()

    def _ready(self, fut: Future, item_id: str) -> None:
        if not fut.cancelled() and fut.exception() is None:
            self._on_ready(item_id)

    def ready(self, item_id: str) -> bool:
        with self._lock:
            fut = self._futures.get(item_id)
        return fut is not None and fut.done()

    def get(self, item: Item, timeout: float | None = None) -> ItemView:
        """The item's view: from the cache, waiting for a running decode, or decoded now."""
        with self._lock:
            fut = self._futures.get(item.item_id)
        if fut is not None and not fut.cancelled():
            try:
                return fut.result(timeout=timeout)
            except Exception:
                pass
        view = self._loader(item)
        with self._lock:
            done: Future = Future()
            done.set_result(view)
            self._futures[item.item_id] = done
        return view

    def forget(self, item_id: str) -> None:
        with self._lock:
            self._futures.pop(item_id, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for fut in self._futures.values():
                fut.cancel()
            self._futures.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
