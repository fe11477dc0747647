"""What scanning a SOURCE yields (``Scan``, ``Skipped``) and the per-file checks that folder and
manifest scanning share (``core.data.importer``, ``core.data.manifest_scan``)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders import SOURCE_ROOT, UnreadableFile, check_file
from mmrl_desktop.core.data.volumes import scan as volumes
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tasks import TaskState


class ImportCancelled(UserError):
    """The user cancelled an import; nothing was written."""


@dataclass(frozen=True)
class Skipped:
    path: str  # relative to SOURCE (for a manifest: to the manifest's folder), '/' separated
    reason: str


@dataclass
class Scan:
    """What a SOURCE holds: valid items with their label (None = unlabelled; written under the
    project's task by ``write_items``) and the files that were refused."""

    source: str
    layout: str  # "folder" | "manifest"
    items: list[tuple[Item, str | None]] = field(default_factory=list)  # (item, label)
    skipped: list[Skipped] = field(default_factory=list)
    files_seen: int = 0
    splits: dict[str, str] | None = None  # a manifest's split column: {item id: pool|holdout}
    notes: list[str] = field(default_factory=list)  # kept but reported (a volume's spacing gap)

    def skip(self, path: str, reason: str) -> None:
        self.skipped.append(Skipped(path, reason))

    @property
    def classes(self) -> list[str]:
        return sorted({lab for _, lab in self.items if lab}, key=natural_key)


def natural_key(text: str) -> list:
    """'2' before '10'; case-insensitive otherwise."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower()) for t in re.split(r"(\d+)", text)]


# ------------------------------------------------------------------ per-file checks
NOT_TEXT = (
    "its name is not valid text (bytes that are not UTF-8, as in old archives); "
    "rename it to import it"
)


def not_text(name: str) -> bool:
    """A file name the OS gave as bytes that are not UTF-8 (``os.fsdecode``'s lone surrogates):
    SQLite, JSON and the terminal cannot hold it as it is."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def printable(name: str) -> str:
    """``name`` with its undecodable bytes written as ``\\xNN``: safe to print and to store."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _slot(kind: str) -> str:
    return "image" if kind == "dicom" else kind


class _Checker:
    """Runs ``check_file`` once per path, with progress and cancellation (``state``)."""

    def __init__(self, state: TaskState | None, total: int):
        self.state = state if state is not None else TaskState()
        self.total, self.done = total, 0
        self.cache: dict[tuple[str, str], dict | str] = {}
        self.root = ""  # a manifest's folder: a volume's files are recorded relative to it

    def __call__(self, path: str, kind: str) -> dict | str:
        """Info dict when the file is good, else the reason (a sentence)."""
        key = (path, kind)
        if key not in self.cache:
            try:
                if kind == "volume":  # (image path, info, files set aside, notes)
                    self.cache[key] = volumes.manifest_volume(path, self.root)  # type: ignore[assignment]
                else:
                    self.cache[key] = check_file(path, kind)
            except UnreadableFile as err:
                self.cache[key] = str(err)
            except MemoryError:
                self.cache[key] = "file is too large to check"
            except Exception as err:  # a library failing on odd input must not stop an import
                self.cache[key] = f"file cannot be read ({type(err).__name__}: {err})"[:200]
            self.done += 1
            self.state.progress(self.done, self.total)
            self.stop()
        return self.cache[key]

    def stop(self) -> None:
        if self.state.should_stop():
            raise ImportCancelled("the import was cancelled; nothing was imported.")


def _unique(slot_maps) -> int:
    """How many distinct (path, kind) checks the slots need (the progress total)."""
    return len({(path, kind) for slots in slot_maps for path, kind, _ in slots.values()})


def _inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_slots(check, slots: dict, scan: Scan, root: str, prefix: str = ""):
    """An item's files that pass ``check`` (slot → path) and its info (the source root, a
    DICOM's tags); a file that fails is skipped as ``prefix`` + its name as written."""
    files: dict[str, str] = {}
    info: dict = {SOURCE_ROOT: root}
    for slot, (path, kind, name) in slots.items():
        result = check(path, kind)
        if isinstance(result, str):
            scan.skip(f"{prefix}{name}", result)
            continue
        files[slot] = path
        if kind == "volume":  # a manifest's series folder, NIfTI or multi-frame file
            files[slot], vinfo, dropped, notes = result  # type: ignore[misc]
            info = {**vinfo, **info}
            scan.skipped += [Skipped(p, r) for p, r in dropped]
            scan.notes += notes
        elif kind == "dicom":
            info.update(result)
    return files, info
