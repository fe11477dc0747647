"""Items whose files now lie in another folder: their paths re-pointed, their answers kept.

An item stores absolute paths and ``info["source_root"]``, the folder it was imported from
(``loaders.item_file`` refuses a file outside it). When that folder has moved — the built-in
demo's files after the app was installed somewhere else (``core/data/demo.py``) — the items
under the old folder are re-pointed to the same relative paths under the new one. Only paths
change: item ids, labels, splits and the event log stay as they are, so no answer is lost, and
the store's audit trail records the move.

``relocate(project, to, old)`` is what ``mmrl-desktop relocate`` and File ▸ Find moved files…
run for a user's own project (ADR 0046): the folder that is gone (``gone_folders``), checked
against the new one (which must hold some of the files), then ``relocate_items`` under the
project's lock.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mmrl_desktop.core.errors import UserError

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


def recorded_roots(project, items) -> set[str]:
    """The folders the project's items were imported from; where some item records none
    (imported before ``source_root`` was kept), also the folder of the project's import source:
    a manifest's folder, or the folder imported."""
    from mmrl_desktop.core.data.loaders import SOURCE_ROOT

    roots = {os.path.normpath(r) for it in items if (r := (it.info or {}).get(SOURCE_ROOT))}
    if project.source and any(SOURCE_ROOT not in (it.info or {}) for it in items):
        source = Path(project.source)
        manifest = source.suffix.lower() in (".csv", ".jsonl", ".json")
        roots.add(os.path.normpath(str(source.parent if manifest else source)))
    return roots


def gone_folders(project) -> list[str]:
    """The recorded folders (``recorded_roots``) that are no longer there."""
    with project.open_store() as store:
        roots = recorded_roots(project, store.items(with_excluded=True))
    return sorted(r for r in roots if not os.path.isdir(r))


def _old_root(roots: set[str], given: str | None) -> str:
    if given:
        old = os.path.realpath(os.path.expanduser(given))  # as ``source_root`` is recorded
        if old not in roots:
            raise UserError(
                f"no item of this project was imported from {old}; it reads from "
                + ", ".join(sorted(roots))
                + "."
            )
        return old
    gone = sorted(r for r in roots if not os.path.isdir(r))
    if not gone:
        raise UserError(
            "every folder this project reads from is still there ("
            + ", ".join(sorted(roots))
            + "); name the one to move away from with --from."
        )
    if len(gone) > 1:
        raise UserError(
            "more than one folder this project reads from is gone ("
            + ", ".join(gone)
            + "); name the one that moved to the new folder with --from."
        )
    return gone[0]


def _files_under(items, old: str) -> list[str]:
    """The relative paths of the items' files under ``old``."""
    out = []
    for it in items:
        for p in (it.image, it.audio, it.text):
            if p and os.path.normpath(p).startswith(old + os.sep):
                out.append(os.path.relpath(os.path.normpath(p), old))
    return out


def relocate(project, to: str, given_from: str | None = None) -> dict:
    """Re-point the items under the old folder to ``to``; the result ``--json`` prints."""
    from mmrl_desktop.core.data.project_lock import project_lock

    new_path = Path(to).expanduser()
    if not new_path.is_dir():
        raise UserError(f"there is no folder at {new_path}.")
    new = os.path.normpath(str(new_path.resolve()))
    with project_lock(project.root):
        with project.open_store() as store:
            items = store.items(with_excluded=True)
            roots = recorded_roots(project, items)
            if not roots:
                raise UserError("this project records no folder its items were imported from.")
            old = _old_root(roots, given_from)
            if old == new:
                raise UserError(f"the project already reads its files from {new}.")
            files = _files_under(items, old)
            found = sum(os.path.isfile(os.path.join(new, f)) for f in files)
            if files and not found:
                raise UserError(
                    f"{new} holds none of this project's files (for example "
                    f"{files[0]} is not there); nothing was changed."
                )
            moved = store.relocate_items(old, new)
        source = project.source and os.path.normpath(str(project.source))
        if source and _moved(source, old, new) != source:
            project.source = _moved(source, old, new)
            project.save()
    return {
        "project": str(project.root),
        "from": old,
        "to": new,
        "items": moved,
        "files": len(files),
        "missing_files": len(files) - found,
    }
