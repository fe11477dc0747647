"""Find the volumes of a SOURCE for import: DICOM series in folders under a class folder (any
depth), NIfTI files, multi-frame DICOM files, and a manifest's ``image`` that names a series folder.

``scan_class_volumes`` takes what the folder scan set aside (sub-folders and NIfTI files of class
folders) and returns items and, with a reason each, what it did not import; ``volume_item_info``
does one manifest path. Files of one ``SeriesInstanceUID`` form one item (``plan_series``); a
folder holding several series gives one item each, reported; a series with a single 2-D slice
stays an image item, as a lone ``.dcm`` always did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders.base import (
    SOURCE_ROOT,
    UnreadableFile,
    is_dicom_path,
    regular_file_reason,
)
from mmrl_desktop.core.data.volumes.dicom_series import (
    SeriesPlan,
    SliceHeader,
    group_series,
    plan_series,
    read_header,
)
from mmrl_desktop.core.data.volumes.items import VOLUME_KEY, volume_record
from mmrl_desktop.core.data.volumes.volume import is_nifti_name

CT_PRESETS = {
    "lung": [-600.0, 1500.0],
    "bone": [300.0, 1500.0],
    "soft tissue": [40.0, 400.0],
    "brain": [40.0, 80.0],
}


@dataclass
class VolumeScan:
    items: list[tuple[Item, str | None]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path as shown, reason)
    notes: list[str] = field(default_factory=list)  # kept, but worth saying (a gap, N series)
    files_seen: int = 0


def _rel(path: str, root: str) -> str:
    return os.path.relpath(path, root).replace(os.sep, "/")


def volume_info(record: dict, tags: dict, root: str) -> dict:
    """An item's info for a volume: the record, display tags, the window presets."""
    info: dict = {SOURCE_ROOT: root, VOLUME_KEY: record}
    info.update({k: v for k, v in tags.items() if k != "frames"})
    presets: dict = {}
    if record.get("window"):
        presets["file"] = list(record["window"])
    if tags.get("modality") == "CT":
        presets.update(CT_PRESETS)
    if presets:
        info["window_presets"] = presets
    info["frames"] = int(record["shape"][0])
    return info


def nifti_info(path: str, root: str) -> dict:
    from mmrl_desktop.core.data.volumes.nifti import read_nifti

    vol = read_nifti(path)
    vol.voxels[vol.shape[0] // 2]  # one slice read: the data is there and readable
    return volume_info(volume_record("nifti", vol, root), vol.tags, root)


def multiframe_info(path: str, root: str) -> dict:
    from mmrl_desktop.core.data.volumes.multiframe import read_multiframe

    vol = read_multiframe(path)
    return volume_info(volume_record("dicom-multiframe", vol, root), vol.tags, root)


def series_info(plan: SeriesPlan, root: str, headers: list[SliceHeader]) -> dict:
    rescale = None
    if plan.per_slice_rescale:
        by_path = {h.path: (h.slope, h.intercept) for h in headers}
        rescale = [by_path[f] for f in plan.files]
    record = volume_record("dicom-series", plan, root, plan.files, rescale)
    return volume_info(record, plan.tags, root)


def _walk(folder: str, real_root: str, out: VolumeScan) -> tuple[list[str], list[str]]:
    """(DICOM files, NIfTI files) under ``folder``; anything else is skipped with a reason."""
    dicom, nifti = [], []
    for here, dirs, names in os.walk(folder):
        for d in list(dirs):
            if d.startswith(".") or os.path.islink(os.path.join(here, d)):
                why = "hidden folder" if d.startswith(".") else "symbolic link to a folder"
                out.skipped.append((_rel(os.path.join(here, d), real_root), f"{why} is skipped"))
                dirs.remove(d)
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(here, name)
            rel = _rel(path, real_root)
            if name.startswith("."):
                out.skipped.append((rel, "hidden file (name starts with '.') is skipped"))
                continue
            real = os.path.realpath(path)
            if os.path.islink(path) and not real.startswith(real_root.rstrip(os.sep) + os.sep):
                out.skipped.append((rel, "symbolic link points outside SOURCE"))
                continue
            reason = regular_file_reason(path)
            if reason:
                out.skipped.append((rel, reason))
            elif is_nifti_name(name):
                nifti.append(path)
            elif is_dicom_path(path):
                dicom.append(path)
            else:
                out.skipped.append(
                    (
                        rel,
                        "folders inside a class folder are read for DICOM series and NIfTI "
                        "volumes only; this file is neither",
                    )
                )
    return dicom, nifti


def _unique_id(wanted: str, taken: set[str]) -> str:
    item_id, n = wanted, 2
    while item_id in taken:
        item_id, n = f"{wanted}~{n}", n + 1
    taken.add(item_id)
    return item_id


def _add(out: VolumeScan, item_id: str, first: str, info: dict, label: str, taken: set[str]):
    out.items.append((Item(_unique_id(item_id, taken), image=first, info=info), label))


def _series_items(label, folder, headers, real_root, out, taken) -> None:
    """One item per series among ``headers`` (all under ``folder``)."""
    singles = [h for h in headers if h.frames > 1]
    groups = group_series([h for h in headers if h.frames == 1])
    by_dir: dict[str, int] = {}
    for hs in groups.values():
        d = _folder_of(hs)
        by_dir[d] = by_dir.get(d, 0) + 1
    for d, n in by_dir.items():
        if n > 1:
            out.notes.append(f"{_rel(d, real_root)} holds {n} series; each is its own item")
    for n, hs in enumerate(sorted(groups.values(), key=lambda g: min(h.path for h in g))):
        d = _folder_of(hs)
        base = f"{label}/{_rel(d, os.path.dirname(folder))}"  # the path under the class folder
        if by_dir[d] > 1:
            number = hs[0].series_number
            base += f"/series{number if number is not None else n + 1}"
        if len(hs) == 1 or hs[0].samples != 1:
            _image_items(label, hs, real_root, out, taken)
            continue
        try:
            plan = plan_series(hs)
        except UnreadableFile as err:
            out.skipped.append((_rel(d, real_root), str(err)))
            continue
        out.skipped.extend((_rel(p, real_root), r) for p, r in plan.skipped)
        out.notes.extend(f"{_rel(d, real_root)}: {note}" for note in plan.notes)
        if plan.shape[0] < 2:
            _image_items(label, [h for h in hs if h.path in plan.files], real_root, out, taken)
            continue
        _add(out, base, plan.files[0], series_info(plan, real_root, hs), label, taken)
    for h in singles:
        _one_file(label, h.path, real_root, out, taken)


def _folder_of(headers: list[SliceHeader]) -> str:
    return os.path.commonpath([os.path.dirname(h.path) for h in headers])


def _image_items(label, headers, real_root, out, taken) -> None:
    """Lone 2-D slices (or colour files): image items, as a lone ``.dcm`` always was."""
    from mmrl_desktop.core.data.loaders import check_file

    for h in headers:
        try:
            info = check_file(h.path, "dicom")
        except UnreadableFile as err:
            out.skipped.append((_rel(h.path, real_root), str(err)))
            continue
        info[SOURCE_ROOT] = real_root
        stem = os.path.splitext(_rel(h.path, real_root).split("/", 1)[-1])[0]
        out.items.append(
            (Item(_unique_id(f"{label}/{stem}", taken), image=h.path, info=info), label)
        )


def _one_file(label, path, real_root, out, taken) -> None:
    """A NIfTI or multi-frame DICOM file: one volume item."""
    rel = _rel(path, real_root)
    try:
        info = (
            nifti_info(path, real_root) if is_nifti_name(path) else multiframe_info(path, real_root)
        )
    except UnreadableFile as err:
        out.skipped.append((rel, str(err)))
        return
    except Exception as err:  # a library failing on odd input must not stop an import
        out.skipped.append((rel, f"file cannot be read ({type(err).__name__}: {err})"[:200]))
        return
    stem = rel.split("/", 1)[-1] if label else rel
    for suffix in (".nii.gz", ".nii", ".dcm", ".dicom"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    _add(out, f"{label}/{stem}" if label else stem, path, info, label, taken)


def scan_class_volumes(
    pending: list[tuple[str, str]], real_root: str, taken: set[str], should_stop=None
) -> VolumeScan:
    """Volumes from (label, path) pairs: sub-folders and NIfTI files of class folders. ``taken``:
    the item ids already used (new ids avoid them); ``should_stop()``: checked per file."""
    out = VolumeScan()
    for label, path in pending:
        if os.path.isfile(path):
            out.files_seen += 1
            _one_file(label, path, real_root, out, taken)
            continue
        walked = VolumeScan()
        dicom, nifti = _walk(path, real_root, walked)
        out.files_seen += len(dicom) + len(nifti)
        if dicom or nifti:
            out.skipped += walked.skipped
        else:  # no volume below: the folder is reported as one, as before volumes
            out.skipped.append(
                (
                    _rel(path, real_root),
                    "folders inside a class folder are not imported (SOURCE/<label>/<files>) "
                    "unless they hold DICOM series or NIfTI volumes",
                )
            )
            continue
        headers = []
        for f in dicom:
            if should_stop is not None:
                should_stop()
            try:
                headers.append(read_header(f))
            except UnreadableFile as err:
                out.skipped.append((_rel(f, real_root), str(err)))
        _series_items(label, path, headers, real_root, out, taken)
        for f in nifti:
            _one_file(label, f, real_root, out, taken)
    return out


def manifest_volume(path: str, root: str) -> tuple[str, dict, list[tuple[str, str]], list[str]]:
    """A manifest's ``image`` naming a series folder, a NIfTI or a multi-frame file: (the item's
    image path, its info, the files set aside with a reason, notes). ``UnreadableFile`` with a
    reason when there is no volume to make."""
    if os.path.isdir(path):
        from mmrl_desktop.core.data.volumes.dicom_series import dicom_files_under

        headers, skipped = [], []
        for f in dicom_files_under(path):
            try:
                headers.append(read_header(f))
            except UnreadableFile as err:
                skipped.append((_rel(f, root), str(err)))
        groups = group_series(headers)
        if not groups:
            raise UnreadableFile("the folder holds no DICOM series")
        if len(groups) > 1:
            raise UnreadableFile(
                f"the folder holds {len(groups)} series; name one series folder per row"
            )
        plan = plan_series(headers)
        skipped += [(_rel(p, root), r) for p, r in plan.skipped]
        notes = [f"{_rel(path, root)}: {n}" for n in plan.notes]
        return plan.files[0], series_info(plan, root, headers), skipped, notes
    if is_nifti_name(path):
        return path, nifti_info(path, root), [], []
    return path, multiframe_info(path, root), [], []


def promote_multiframe(items: list[tuple[Item, str | None]]) -> None:
    """Grey multi-frame DICOM image items (``info["frames"] > 1``) become volume items, in place."""
    for n, (item, label) in enumerate(items):
        info = item.info or {}
        if not item.image or int(info.get("frames", 1) or 1) < 2 or VOLUME_KEY in info:
            continue
        try:
            if read_header(item.image).samples != 1:
                continue  # colour cine: frames in time, not a volume
            vol_info = multiframe_info(item.image, info.get(SOURCE_ROOT) or "")
        except Exception:
            continue  # it stays the image item it was
        new = Item(
            item.item_id,
            item.image,
            item.audio,
            item.text,
            item.text_inline,
            labels=item.labels,
            split=item.split,
            info=vol_info,
        )
        items[n] = (new, label)


def volumes_under(
    root: str, only: str | None = None
) -> tuple[list[tuple[Item, dict, None]], list[dict], set[str]]:
    """For ``predict``: the volumes anywhere under ``root`` (series of two slices or more, grey
    multi-frame files, NIfTI), as (item, {"image": relative path}, None); what was set aside;
    and the real paths they use (a walk of single files leaves those out). ``only``: look at
    that one file of ``root`` instead of walking it."""
    real_root = os.path.realpath(root)
    out = VolumeScan()
    dicom: list[str] = []
    nifti: list[str] = []
    walk = [(os.path.dirname(only), [], [os.path.basename(only)])] if only else os.walk(real_root)
    for here, dirs, names in walk:
        dirs[:] = sorted(
            d for d in dirs if not d.startswith(".") and not os.path.islink(os.path.join(here, d))
        )
        for name in sorted(names):
            path = os.path.join(here, name)
            if name.startswith(".") or os.path.islink(path) or regular_file_reason(path):
                continue
            if is_nifti_name(name):
                nifti.append(path)
            elif is_dicom_path(path):
                dicom.append(path)
    headers = []
    for f in dicom:
        try:
            headers.append(read_header(f))
        except UnreadableFile:
            continue  # the file walk reports it
    consumed: set[str] = set()
    taken: set[str] = set()
    multi = [h for h in headers if h.frames > 1 and h.samples == 1]
    for hs in group_series([h for h in headers if h.frames == 1 and h.samples == 1]).values():
        if len(hs) < 2:
            continue
        folder = _folder_of(hs)
        rel = _rel(folder, real_root)
        name = os.path.basename(real_root) if rel == "." else rel
        try:
            plan = plan_series(hs)
        except UnreadableFile as err:
            out.skipped.append((rel, str(err)))
            consumed.update(h.path for h in hs)
            continue
        out.skipped.extend((_rel(p, real_root), r) for p, r in plan.skipped)
        consumed.update(h.path for h in hs)
        item_id = _unique_id(name, taken)
        out.items.append(
            (Item(item_id, image=plan.files[0], info=series_info(plan, real_root, hs)), None)
        )
    for f in [h.path for h in multi] + nifti:
        consumed.add(f)
        _one_file("", f, real_root, out, taken)
    found = [(it, {"image": _rel(it.image, real_root)}, None) for it, _ in out.items]
    skipped = [{"path": p, "reason": r} for p, r in out.skipped]
    return found, skipped, consumed
