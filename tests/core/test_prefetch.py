import os
import threading

import pytest

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders import UnreadableFile
from mmrl_desktop.core.labelling.prefetch import ItemView, Prefetcher


def test_prefetch_caches_and_evicts():
    calls = []
    gate = threading.Event()

    def loader(item):
        gate.wait(5)
        calls.append(item.item_id)
        return ItemView(item.item_id, text=item.text_inline)

    p = Prefetcher(loader, capacity=2)
    items = [Item(f"i{k}", text_inline=f"t{k}") for k in range(3)]
    p.prefetch(items[:2])
    gate.set()
    assert p.get(items[0]).text == "t0"
    assert p.get(items[1]).text == "t1"
    assert calls == ["i0", "i1"]  # each decoded once
    p.prefetch([items[2]])  # evicts i0
    p.get(items[2])
    assert p.get(items[0]).text == "t0"  # decoded again on demand
    assert calls.count("i0") == 2
    p.close()


def test_loader_errors_become_sentences(tmp_path):
    from mmrl_desktop.core.labelling.prefetch import load_for_display

    bad = tmp_path / "gone.wav"
    view = load_for_display(Item("x", audio=str(bad), text_inline="hello"))
    assert view.text == "hello" and view.audio is None
    assert view.errors and view.errors[0].startswith("The sound could not be shown")


def test_on_ready_reports_decoded_items_only():
    """The GUI preloads the next item when it is decoded: ``on_ready`` names each item that was
    decoded, and never one whose decode failed."""
    ready: list[str] = []
    done = threading.Event()

    def loader(item):
        if item.item_id == "bad":
            raise OSError("unreadable")
        return ItemView(item.item_id, text=item.text_inline)

    def on_ready(item_id):
        ready.append(item_id)
        if item_id == "i1":
            done.set()

    p = Prefetcher(loader, on_ready=on_ready)
    p.prefetch([Item("i0", text_inline="a"), Item("bad"), Item("i1", text_inline="b")])
    assert done.wait(5)
    p.close()
    assert ready == ["i0", "i1"]


def _series(folder, n: int = 5):
    """A small CT series (8×8 slices, 2.5 mm apart, stored value 1000 + k in slice k)."""
    import numpy as np

    from mmrl_desktop.core.data.volumes.synthetic import write_series

    stored = np.stack([np.full((8, 8), 1000 + z, np.int16) for z in range(n)])
    write_series(folder, stored, spacing=(2.5, 0.7, 0.7), window=None)


def test_a_volume_item_is_opened_with_its_first_shown_slice_read_ahead(tmp_path):
    """A volume item's view holds its ``Volume`` (no 2-D image of its first file), and the slice
    the viewer opens at (``first_view``) is already decoded, on the prefetch thread."""
    from mmrl_desktop.core.data.volumes import read_volume
    from mmrl_desktop.core.data.volumes.items import volume_record
    from mmrl_desktop.core.labelling.prefetch import first_view, load_for_display

    _series(tmp_path)
    vol = read_volume(tmp_path)
    files = list(vol.voxels.files)
    record = volume_record("dicom-series", vol, str(tmp_path), files=files)
    item = Item("v", image=files[0], info={"source_root": str(tmp_path), "volume": record})
    view = load_for_display(item)
    assert view.errors == [] and view.image is None
    assert view.volume.shape == (5, 8, 8) and first_view(view.volume) == ("axial", 2)
    for f in files[1:]:  # the files go: only the slice read ahead can still be shown
        os.unlink(f)
    assert float(view.volume.plane_slice("axial", 2)[0, 0]) == 1000 + 2 - 1024
    with pytest.raises(UnreadableFile):
        view.volume.plane_slice("axial", 3)
    broken = Item("b", image=str(tmp_path / "gone.dcm"), info=item.info)
    bad = load_for_display(broken)
    assert bad.volume is None and bad.errors[0].startswith("The volume could not be shown")


def test_prefetch_after_close_asks_nothing():
    """A look-ahead queued before the window closed may still run: it must not raise."""
    p = Prefetcher(lambda item: ItemView(item.item_id))
    p.close()
    p.prefetch([Item("late", text_inline="x")])
    assert not p.ready("late")
