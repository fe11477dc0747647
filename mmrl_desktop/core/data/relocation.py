"""Items whose files now lie in another folder: their paths re-pointed, their answers kept.

An item stores absolute paths and ``info["source_root"]``, the folder it was imported from
(``loaders.item_file`` refuses a file outside it). When that folder has moved — the built-in
demo's files after the app was installed somewhere else (``core/data/demo.py``) — the items
under the old folder are re-pointed to the same relative paths under the new one. Only paths
change: item ids, labels, splits and the event log stay as they are, so no answer is lost, and
the store's audit trail records the move.
"""

from __future__ import annotations

import json
import os

_SLOTS = ("image", "audio", "text")


def _moved(path: str | None, old: str, new: str) -> str | None:
    if path and (path == old or path.startswith(old + os.sep)):
        return new + path[len(old) :]
    return path


class RelocationMixin:
    """``FeedbackStore.relocate_items`` (needs its ``_conn``, ``_tx`` and ``audit``)."""

    def relocate_items(self, old_root: str, new_root: str) -> int:
        """Every item whose files lie under ``old_root`` reads them from the same relative paths
        under ``new_root`` (``source_root`` too); returns how many items changed."""
        old, new = os.path.normpath(old_root), os.path.normpath(new_root)
        rows = []
        for item_id, *paths, info in self._conn.execute(
            "SELECT item_id, image, audio, text, info FROM items"
        ):
            moved = [_moved(p, old, new) for p in paths]
            meta = json.loads(info or "{}")
            root = meta.get("source_root")
            if root is not None:
                meta["source_root"] = _moved(os.path.normpath(root), old, new)
            if moved != paths or meta.get("source_root") != root:
                rows.append((*moved, json.dumps(meta), item_id))
        if rows:
            with self._tx() as c:
                c.executemany(
                    f"UPDATE items SET {', '.join(f'{s} = ?' for s in _SLOTS)}, info = ? "
                    "WHERE item_id = ?",
                    rows,
                )
            self.audit("relocate", old_root=old, new_root=new, items=len(rows))
        return len(rows)
