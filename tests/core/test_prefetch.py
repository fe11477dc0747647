import threading

from mmrl_desktop.core.data.items import Item
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
