"""Import a SOURCE (folder of classes, or an items.csv / items.jsonl manifest) into a project.

Two steps: ``scan_source`` discovers and validates every file (headers only, no pixel decoding)
and lists each rejected file with a sentence; ``write_items`` adds the good items to the project's
store in one transaction and teaches the project its labels. ``import_source`` does both.

Rules (../shared/docs/CONTRACT.md): files in one class folder that share a stem form one item with
id ``<label>/<stem>``; manifest ids are the ``id`` column; re-importing adds nothing twice; hidden
files, stray files at the root, symlinks that loop or leave SOURCE, absolute and ``..`` manifest
paths, missing files and duplicate ids are skipped with a reason, never a crash.
"""

from __future__ import annotations

import errno
import os
import time
from dataclasses import dataclass, field, replace

from mmrl_desktop.core.data.holdout import DEFAULT_HOLDOUT, per_label, plan_splits
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders import (
    kind_of,
    regular_file_reason,
)
from mmrl_desktop.core.data.manifest import MAX_MANIFEST_BYTES as MAX_MANIFEST_BYTES
from mmrl_desktop.core.data.manifest_scan import scan_manifest as scan_manifest
from mmrl_desktop.core.data.project import DEFAULT_TASK, PROJECT_FILE, Project
from mmrl_desktop.core.data.scan_common import (
    NOT_TEXT,
    _check_slots,
    _Checker,
    _inside,
    _slot,
    _unique,
    not_text,
    printable,
)
from mmrl_desktop.core.data.scan_common import ImportCancelled as ImportCancelled
from mmrl_desktop.core.data.scan_common import Scan as Scan
from mmrl_desktop.core.data.scan_common import Skipped as Skipped
from mmrl_desktop.core.data.scan_common import natural_key as natural_key
from mmrl_desktop.core.data.volumes import scan as volumes
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.tasks import TaskState

MANIFEST_NAMES = ("items.csv", "items.jsonl")


@dataclass
class ImportResult:
    project: str
    items: int  # valid items found in SOURCE (now all in the project)
    imported: int  # of those, how many were new
    classes: list[str]
    skipped: list[Skipped]
    unlabelled: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    files_seen: int = 0
    holdout: dict[str, int] = field(default_factory=dict)  # per class: of ``items``, held out
    holdout_fraction: float | None = DEFAULT_HOLDOUT  # None: a manifest's split column decided
    volumes: int = 0  # of ``items``, how many are volumes (a DICOM series, NIfTI, multi-frame)
    notes: list[str] = field(default_factory=list)  # volumes kept with a remark (a gap, N series)

    def to_json(self) -> dict:
        """The contract's object; ``holdout`` (per class, how many of the SOURCE's items are in
        the hold-out), ``holdout_fraction`` (null when a manifest's split column decided) and
        ``notes`` (the sentences the text output prints as notes) extend it."""
        return {
            "project": self.project,
            "items": self.items,
            "imported": self.imported,
            "classes": list(self.classes),
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "holdout": dict(self.holdout),
            "holdout_fraction": self.holdout_fraction,
            "volumes": self.volumes,
            "volume_notes": list(self.notes),
            "notes": list(self.warnings),  # what the text output prints as "Note: …"
        }


# ------------------------------------------------------------------ symlinks
def _follow_link(path: str, root: str) -> tuple[str | None, str | None]:
    """(real path, None) for a link that stays inside ``root``; (None, reason) otherwise."""
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return None, "symbolic link loops (it leads back to itself)"
        return None, "symbolic link points to a file that does not exist"
    real = os.path.realpath(path)
    if not _inside(root, real):
        return None, "symbolic link points outside SOURCE"
    if os.path.isdir(real) and _inside(real, os.path.realpath(os.path.dirname(path))):
        return None, "symbolic link loops (it leads back to a folder that contains it)"
    return real, None


# ------------------------------------------------------------------ folder of classes
def _class_folders(real_root: str, scan: Scan) -> list[tuple[str, str]]:
    """The class folders at the top of SOURCE, (label, real folder); anything else is skipped."""
    classes: list[tuple[str, str]] = []
    for entry in _entries(real_root, "", scan):
        name = entry.name
        if not_text(name):
            scan.skip(printable(name), NOT_TEXT)
            continue
        if name.startswith("."):
            scan.skip(name, "hidden file or folder (name starts with '.') is skipped")
            continue
        path = entry.path
        if entry.is_symlink():
            path, reason = _follow_link(entry.path, real_root)
            if reason:
                scan.skip(name, reason)
                continue
        if os.path.isdir(path):
            if os.path.exists(os.path.join(path, PROJECT_FILE)):
                scan.skip(name, "this folder is an mmrl-desktop project, not a class")
            else:
                classes.append((name, path))
        elif os.path.isfile(path):
            scan.skip(name, "file at the top of SOURCE is not in a class folder (SOURCE/<label>/)")
        else:
            scan.skip(name, "not a regular file or folder")
    return classes


def scan_folder(root: str, state: TaskState | None = None) -> Scan:
    scan = Scan(source=root, layout="folder")
    real_root = os.path.realpath(root)
    classes = _class_folders(real_root, scan)
    groups: list[tuple[str, str, dict[str, tuple[str, str, str]]]] = []  # (label, stem, slots)
    pending: list[tuple[str, str]] = []  # sub-folders and NIfTI files: volumes (``volumes.scan``)
    for label, folder in classes:
        by_stem: dict[str, dict[str, list[tuple[str, str, str]]]] = {}
        for entry in _entries(folder, label, scan):
            rel = f"{label}/{entry.name}"
            if not_text(entry.name):
                scan.skip(printable(rel), NOT_TEXT)
                continue
            if entry.name.startswith("."):
                scan.skip(rel, "hidden file (name starts with '.') is skipped")
                continue
            path = os.path.join(folder, entry.name)
            if entry.is_symlink():
                path, reason = _follow_link(entry.path, real_root)
                if reason:
                    scan.skip(rel, reason)
                    continue
                is_dir = os.path.isdir(path)
            else:
                is_dir = entry.is_dir(follow_symlinks=False)
            if is_dir or volumes.is_nifti_name(entry.name):
                pending.append((label, path))
                continue
            not_regular = regular_file_reason(path)  # never open a FIFO, socket or device
            if not_regular:
                scan.skip(rel, not_regular)
                continue
            kind = kind_of(entry.name, path)
            if kind is None:
                suffix = os.path.splitext(entry.name)[1] or "no extension"
                scan.skip(rel, f"not a recognised image, audio or text file ({suffix})")
                continue
            stem = os.path.splitext(entry.name)[0]
            by_stem.setdefault(stem, {}).setdefault(_slot(kind), []).append(
                (path, kind, entry.name)
            )
        groups.extend(
            (label, stem, slots)
            for stem, slots in sorted(by_stem.items(), key=lambda kv: natural_key(kv[0]))
        )
    scan.files_seen = sum(len(c) for _, _, s in groups for c in s.values())
    check = _Checker(state, _unique(dict(enumerate(c)) for _, _, s in groups for c in s.values()))
    for label, stem, candidates in groups:
        slots = _one_per_slot(check, candidates, scan, f"{label}/", f"{label}/{stem}")
        files, info = _check_slots(check, slots, scan, real_root, f"{label}/")
        if files:
            scan.items.append((Item(f"{label}/{stem}", info=info, **files), label))
    volumes.promote_multiframe(scan.items)
    taken = {it.item_id for it, _ in scan.items}
    vols = volumes.scan_class_volumes(pending, real_root, taken, check.stop)
    scan.items += vols.items
    scan.skipped += [Skipped(p, r) for p, r in vols.skipped]
    scan.notes += vols.notes
    scan.files_seen += vols.files_seen
    return scan


def _one_per_slot(check, candidates: dict, scan: Scan, prefix: str, item_id: str) -> dict:
    """One file per slot (image, audio, text) of an item whose stem several files share
    (``case7.png`` and ``case7.jpg``): the first readable one, in name order; the others are
    skipped — an unreadable one with its own reason, so a corrupt ``1.jpg`` never pushes out a
    good ``1.png``."""
    slots = {}
    for slot, files in candidates.items():
        for path, kind, name in files:
            if slot in slots:
                first = slots[slot][2]
                scan.skip(
                    f"{prefix}{name}",
                    f"another {slot} file with the same name ({first}) is used for item {item_id}",
                )
            elif len(files) == 1 or not isinstance(check(path, kind), str):
                slots[slot] = (path, kind, name)
            else:
                scan.skip(f"{prefix}{name}", check(path, kind))
    return slots


def _entries(folder: str, rel: str, scan: Scan) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as it:
            return sorted(it, key=lambda e: natural_key(e.name))
    except OSError as err:
        scan.skip(rel or ".", f"folder cannot be read ({err.strerror or err})")
        return []


# ------------------------------------------------------------------ entry points
def find_manifest(folder: str) -> str | None:
    for name in MANIFEST_NAMES:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def scan_source(source: str | os.PathLike, state: TaskState | None = None) -> Scan:
    """Discover and validate a SOURCE. ``state`` (``core/tasks.py``) hears the progress (files
    checked of files to check); its ``cancel()`` stops the scan with :class:`ImportCancelled`."""
    path = os.path.abspath(os.path.expanduser(os.fspath(source)))
    if not_text(path):
        raise UserError(f"the path {printable(path)} is not valid text (UTF-8); rename it first.")
    if not os.path.exists(path):
        raise UserError(f"{source} does not exist.")
    if os.path.isfile(path):
        if not path.lower().endswith((".csv", ".jsonl")):
            raise UserError(
                f"{source} is a file; give a folder of classes or an items.csv / items.jsonl manifest."
            )
        return scan_manifest(path, state)
    if not os.path.isdir(path):
        raise UserError(f"{source} is neither a folder nor a manifest file.")
    manifest = find_manifest(path)
    if manifest is not None:
        scan = scan_manifest(manifest, state)
        others = [n for n in MANIFEST_NAMES if n != os.path.basename(manifest)]
        for other in others:
            if os.path.isfile(os.path.join(path, other)):
                scan.skip(other, f"a second manifest; {os.path.basename(manifest)} was used")
        return scan
    return scan_folder(path, state)


def write_items(
    scan: Scan, project: Project, task: str = DEFAULT_TASK, holdout: float = DEFAULT_HOLDOUT
) -> ImportResult:
    """Add the scanned items to ``project`` (one transaction) and teach it the labels. New
    labelled items go to the hold-out by the rule of ``core.data.holdout`` (``holdout``: the fraction;
    a manifest's ``split`` column instead when it has one); items already there keep theirs."""
    if project.read_only:
        raise UserError(
            "the built-in demo project is protected; import into a project of your own."
        )
    classes = scan.classes
    if not project.source:
        project.source = scan.source
    # labels first, under the project lock: a crash before the items commit leaves a label with
    # no items (harmless); the other order left items whose label the model could not show
    warnings = project.add_labels(classes, task)
    with project.open_store() as store:
        found = scan.items
        if scan.layout == "folder":  # a manifest's ids are the user's own
            found, clash_notes = ids_for_other_files(store, found)
            warnings += clash_notes
        ids_labels = [(it.item_id, label) for it, label in found]
        splits, notes = plan_splits(store, ids_labels, task, holdout, scan.splits)
        warnings += notes + scan.notes  # volume notes (a gap, N series) shown as notes too
        items = [
            Item(
                it.item_id,
                it.image,
                it.audio,
                it.text,
                it.text_inline,
                labels={task: label} if label else {},
                split=splits[it.item_id],
                info=it.info,
            )
            for it, label in found
        ]
        added = store.add_items(items) if items else 0
        store.audit(
            "import",
            source=scan.source,
            items=len(items),
            imported=added,
            skipped=len(scan.skipped),
        )
    return ImportResult(
        project=str(project.root.resolve()),
        items=len(items),
        imported=added,
        classes=classes,
        skipped=list(scan.skipped),
        unlabelled=sum(1 for _, label in found if not label),
        warnings=warnings,
        files_seen=scan.files_seen,
        holdout=per_label(ids_labels, {i for i, s in splits.items() if s == "holdout"}),
        holdout_fraction=holdout if scan.splits is None else None,
        volumes=sum(1 for it in items if volumes.VOLUME_KEY in (it.info or {})),
        notes=list(scan.notes),
    )


def _files(item: Item) -> tuple:
    return (item.image, item.audio, item.text, item.text_inline)


def ids_for_other_files(store, found: list) -> tuple[list, list[str]]:
    """A folder's items (``found``: (item, label) pairs) with ids for files the project does not
    hold yet: an item already there with the same files keeps its id (a re-import adds nothing
    twice), and a file whose ``<label>/<stem>`` an item of *other* files holds — a second batch
    of cases whose scanner numbered them afresh (``a/IMG_0001``) — becomes ``<label>/<stem>~2``
    (~3, …), not silently dropped as "already there". An item whose files are all gone keeps its
    id and the new files are not added: that is a moved folder (``relocate``), said in a note."""
    existing = store.items(with_excluded=True)
    if not existing:
        return found, []
    by_files = {_files(it): it.item_id for it in existing}
    holder = {it.item_id: it for it in existing}
    taken = set(holder) | {it.item_id for it, _ in found}
    out, renamed, gone = [], [], 0
    for item, label in found:
        same = by_files.get(_files(item))
        old = holder.get(item.item_id)
        if same is not None or old is None:
            out.append((replace(item, item_id=same) if same else item, label))
            continue
        if not any(p and os.path.exists(p) for p in _files(old)[:3]) and not old.text_inline:
            gone += 1
            out.append((item, label))  # kept as it was (store.add_items): a moved folder
            continue
        n = 2
        while f"{item.item_id}~{n}" in taken:
            n += 1
        new_id = f"{item.item_id}~{n}"
        taken.add(new_id)
        renamed.append(new_id)
        out.append((replace(item, item_id=new_id), label))
    notes = []
    if renamed:
        shown = ", ".join(renamed[:3]) + (", …" if len(renamed) > 3 else "")
        notes.append(
            f"{len(renamed)} file{'s' if len(renamed) != 1 else ''} had the name of an item "
            f"already in the project that holds other files; "
            f"{'they are' if len(renamed) != 1 else 'it is'} new items named with ~2, ~3 ({shown})."
        )
    if gone:
        notes.append(
            f"{gone} item{'s' if gone != 1 else ''} of the same names whose files are gone "
            "kept their old paths: if their folder moved, `mmrl-desktop relocate` (in the app: "
            "File ▸ Find moved files…) follows it."
        )
    return out, notes


def import_source(
    source: str | os.PathLike,
    project: Project,
    task: str = DEFAULT_TASK,
    holdout: float = DEFAULT_HOLDOUT,
    state: TaskState | None = None,
) -> ImportResult:
    """Scan ``source`` and add its valid items to ``project``. Raises ``UserError`` for a SOURCE
    that does not exist or a manifest that cannot be read; bad files are listed, not raised.
    ``holdout``: the fraction of new labelled items kept for evaluation (``write_items``);
    ``state``: progress and cancel (``scan_source``) — a cancel writes nothing."""
    start = time.perf_counter()
    if project.read_only:
        raise UserError(
            "the built-in demo project is protected; import into a project of your own."
        )
    scan = scan_source(source, state)
    result = write_items(scan, project, task, holdout)
    result.seconds = time.perf_counter() - start
    return result
