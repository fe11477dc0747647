"""Label new files with a project's current model (``mmrl-desktop predict``).

SOURCE may be
- a single image / DICOM / audio / text file → one item, id = the file's stem;
- a manifest (``items.csv`` / ``items.jsonl``, or a folder holding one) → the manifest's rows, with
  the import rules of ``core.data.importer`` (``label`` is reported as ``given_label`` when present);
- any other folder → every recognised file below it (sub-folders included); files in one folder
  sharing a stem form one multimodal item, id = ``<relative folder>/<stem>`` (so a folder of
  classes gets the same ids as ``import`` gives it).

Nothing is written to the project. Result (``--json`` prints it as one object)::

    {"project": "...", "model_version": 3, "step": 1200, "source": "...", "items": 2,
     "predictions": [{"id": "normal/case7", "path": "normal/case7.png",
                      "files": {"image": "normal/case7.png"}, "task": "finding",
                      "label": "normal", "confidence": 0.91,
                      "top": [["normal", 0.91], ["abnormal", 0.09]]}, ...],
     "skipped": [{"path": "broken.png", "reason": "image is truncated"}, ...]}

With a ``generate`` task the result also has ``drafts``: one greedy draft per item and generate
task, ``{"id", "path", "task", "text", "logprob", "policy_version"}``
(``core/tools/generate_deploy.py``).

One prediction per item and task; ``label`` is the greedy label (argmax of the model's class
probabilities, ``calibration.class_probs``: the same numbers the panel shows), ``confidence`` its
probability, ``top`` the best three. Paths are relative to
SOURCE, '/'-separated. Hidden files, symlinks that leave SOURCE and unrecognised or unreadable
files are listed in ``skipped`` with a reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import PROJECT_FILE, Project
from mmrl_desktop.core.errors import UserError

TOP = 3
BATCH = 256
_SLOT = {"image": "image", "dicom": "image", "audio": "audio", "text": "text"}


def _rel(path: str, root: str) -> str:
    """``path`` relative to ``root``, '/'-separated, undecodable bytes as ``\\xNN``."""
    from mmrl_desktop.core.data.scan_common import printable

    return printable(os.path.relpath(path, root).replace(os.sep, "/"))


def _check(path: str, kind: str) -> str | None:
    """None when the file reads, else the reason."""
    from mmrl_desktop.core.data.loaders import UnreadableFile, check_file

    try:
        check_file(path, kind)
    except UnreadableFile as err:
        return str(err)
    except Exception as err:  # an odd file must not stop the run
        return f"file cannot be read ({type(err).__name__})"
    return None


def scan_files(
    source: str, progress: Callable[[int, int], object] | None = None
) -> tuple[list[tuple[Item, dict, str | None]], list[dict], str]:
    """(items with their relative files and given label, skipped, base folder) of a SOURCE;
    ``progress(files checked, 0)`` while a folder is read."""
    from mmrl_desktop.core.data.importer import MANIFEST_NAMES, find_manifest, scan_manifest
    from mmrl_desktop.core.data.loaders import SOURCE_ROOT, kind_of

    path = os.path.abspath(os.path.expanduser(source))
    if not os.path.exists(path):
        raise UserError(f"{source} does not exist.")
    manifest = None
    if os.path.isfile(path) and path.lower().endswith((".csv", ".jsonl")):
        manifest = path
    elif os.path.isdir(path):
        manifest = find_manifest(path)
    if manifest is not None:
        base = os.path.dirname(os.path.abspath(manifest))
        scan = scan_manifest(manifest, _files_read(progress))
        items = [
            (
                it,
                {
                    s: _rel(getattr(it, s), base)
                    for s in ("image", "audio", "text")
                    if getattr(it, s)
                },
                lab,
            )
            for it, lab in scan.items
        ]
        return items, [{"path": s.path, "reason": s.reason} for s in scan.skipped], base
    if os.path.isfile(path):
        base = os.path.dirname(path)
        name = os.path.basename(path)
        volume = _one_volume(path)
        if volume is not None:  # a NIfTI or a grey multi-frame DICOM file (ADR 0015)
            return volume
        kind = kind_of(name, path)
        if kind is None:
            raise UserError(
                f"{source} is not a recognised image, audio or text file, folder or manifest."
            )
        reason = _check(path, kind)
        if reason:
            return [], [{"path": name, "reason": reason}], base
        slot = _SLOT[kind]
        root = os.path.dirname(os.path.realpath(path))  # the file the user named, link or not
        item = Item(os.path.splitext(name)[0], info={SOURCE_ROOT: root}, **{slot: path})
        return [(item, {slot: name}, None)], [], base
    if not os.path.isdir(path):
        raise UserError(f"{source} is neither a file nor a folder.")
    return _scan_tree(path, kind_of, MANIFEST_NAMES, progress)


def _one_volume(path: str):
    """``scan_files``' answer for one NIfTI or grey multi-frame DICOM file, else None."""
    from mmrl_desktop.core.data.volumes.scan import volumes_under

    folder = os.path.dirname(path)
    if not path.lower().endswith((".nii", ".nii.gz", ".dcm", ".dicom")):
        return None
    found, skipped, _ = volumes_under(folder, only=os.path.realpath(path))
    if not found:
        return None
    return found, skipped, folder


def _files_read(progress):
    """A ``TaskState`` that passes the files read on as ``progress(files, 0)``, or None."""
    from mmrl_desktop.core.tasks import TaskState

    return None if progress is None else TaskState(lambda done, _total: progress(done, 0))


def _folder_skip_reason(name: str, full: str) -> str | None:
    """Why a folder under SOURCE is not walked (None: it is)."""
    from mmrl_desktop.core.data.scan_common import NOT_TEXT, not_text

    if not_text(name):
        return NOT_TEXT
    if name.startswith("."):
        return "hidden folder is skipped"
    if os.path.islink(full):
        return "symbolic links to folders are not followed"
    if os.path.exists(os.path.join(full, PROJECT_FILE)):
        return "this folder is an mmrl-desktop project"
    return None


def _hidden_or_outside(name: str, full: str, real_root: str) -> str | None:
    """Why a file under SOURCE is skipped before anything else: hidden, or a link that leaves
    SOURCE (or points at no file), or a name that is not text."""
    from mmrl_desktop.core.data.scan_common import NOT_TEXT, not_text

    if not_text(name):
        return NOT_TEXT
    if name.startswith("."):
        return "hidden file is skipped"
    if os.path.islink(full):
        real = os.path.realpath(full)
        if not (real + os.sep).startswith(real_root + os.sep) or not os.path.isfile(real):
            return "symbolic link points outside SOURCE"
    return None


def _file_skip(name: str, full: str, real_root: str, manifest_names, kind_of) -> tuple:
    """(kind, None) for a file to check, (None, reason) for a skipped one, (None, None) for a
    manifest (read as such, not listed)."""
    from mmrl_desktop.core.data.loaders import regular_file_reason

    reason = _hidden_or_outside(name, full, real_root)
    if reason:
        return None, reason
    if name in manifest_names:
        return None, None
    not_regular = regular_file_reason(full)  # never open a FIFO, socket or device
    if not_regular:
        return None, not_regular
    kind = kind_of(name, full)
    if kind is None:
        suffix = os.path.splitext(name)[1] or "no extension"
        return None, f"not a recognised image, audio or text file ({suffix})"
    return kind, None


def _scan_tree(root: str, kind_of, manifest_names, progress=None) -> tuple[list, list[dict], str]:
    """``progress(files checked, 0)`` after each file read (the total is not known yet)."""
    from mmrl_desktop.core.data.loaders import SOURCE_ROOT
    from mmrl_desktop.core.data.volumes.scan import volumes_under

    real_root = os.path.realpath(root)
    volumes, skipped, consumed = volumes_under(root)  # series, NIfTI, multi-frame (ADR 0015)
    groups: dict[tuple[str, str], dict[str, str]] = {}
    checked = 0
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = _rel(folder, root)
        keep_dirs = []
        for d in sorted(dirs):
            full = os.path.join(folder, d)
            reason = _folder_skip_reason(d, full)
            if reason:
                skipped.append({"path": _rel(full, root), "reason": reason})
            else:
                keep_dirs.append(d)
        dirs[:] = keep_dirs
        for name in sorted(files):
            full = os.path.join(folder, name)
            rel = _rel(full, root)
            if os.path.realpath(full) in consumed:
                continue
            kind, reason = _file_skip(name, full, real_root, manifest_names, kind_of)
            if kind is None:
                if reason:
                    skipped.append({"path": rel, "reason": reason})
                continue
            slots = groups.setdefault((rel_folder, os.path.splitext(name)[0]), {})
            slot = _SLOT[kind]
            if slot in slots:
                skipped.append(
                    {"path": rel, "reason": f"another {slot} file with the same name is used"}
                )
                continue
            reason = _check(full, kind)
            checked += 1
            if progress is not None:
                progress(checked, 0)
            if reason:
                skipped.append({"path": rel, "reason": reason})
                continue
            slots[slot] = full
    items = list(volumes)
    for (rel_folder, stem), slots in groups.items():
        if not slots:
            continue
        item_id = stem if rel_folder == "." else f"{rel_folder}/{stem}"
        item = Item(item_id, info={SOURCE_ROOT: real_root}, **slots)
        items.append((item, {s: _rel(p, root) for s, p in slots.items()}, None))
    return items, skipped, root


def predict_source(
    project: Project,
    source: str | os.PathLike,
    *,
    device: str = "cpu",
    progress: Callable[[int, int], object] | None = None,
) -> dict:
    """Predictions of the project's current model for the items in ``source``, on ``device``
    (``auto``, ``cpu``, ``cuda``, ``mps``: ``core.learning.device.choose_device``).
    ``progress(done, total)``: files checked with total 0 while a folder is read, then items
    predicted of the items the model can read."""
    from mmrl_desktop.core.evaluation.evaluate import open_trainer
    from mmrl_desktop.core.evaluation.model_info import summary as model_summary

    t0 = time.perf_counter()
    found, skipped, _ = scan_files(os.fspath(source), progress)
    if not project.tasks and project.generate_tasks:  # drafts only: no label model
        from mmrl_desktop.core.tools.generate_deploy import drafts_only

        result = drafts_only(project, found, skipped, source, device)
        return {**result, "seconds": round(time.perf_counter() - t0, 3)}
    trainer = open_trainer(project, device)
    try:
        usable = _usable(found, set(trainer.model_config.modality_list()), skipped)
        predictions, labelled = _predict(trainer, usable, progress, skipped)
        result = {
            "project": str(project.root),
            "model_version": trainer.model_version,
            "step": trainer.updates,
            "model": model_summary(trainer),  # version, step, written (evaluation/model_info.py)
            "source": str(Path(source)),
            "items": labelled,
            "predictions": predictions,
            "skipped": skipped,
            "seconds": round(time.perf_counter() - t0, 3),
        }
    finally:
        trainer.close(checkpoint=False)
    if project.generate_tasks:  # a generate task's drafts (core/tools/generate_deploy.py)
        from mmrl_desktop.core.tools.generate_deploy import draft_files

        result["drafts"] = draft_files(project, found, device=device)
        result["seconds"] = round(time.perf_counter() - t0, 3)
    return result


def _usable(found: list, mods: set[str], skipped: list[dict]) -> list:
    """The items the model reads a modality of; the others are added to ``skipped``."""
    usable = []
    for it, files, given in found:
        if not mods.intersection(m.value for m in it.modalities):
            have = ", ".join(m.value for m in it.modalities) or "nothing"
            skipped.append(
                {
                    "path": next(iter(files.values()), it.item_id),
                    "reason": f"the model reads {', '.join(sorted(mods))}; this item has {have}",
                }
            )
            continue
        usable.append((it, files, given))
    return usable


def _predict(trainer, usable: list, progress, skipped: list[dict]) -> tuple[list[dict], int]:
    """One prediction per item and task, in batches of ``BATCH``, and how many items had one.
    An item none of whose files decodes (a DICOM whose pixel data cannot be read: the import
    checks headers only) is added to ``skipped`` with the reason ``train`` and ``evaluate`` give,
    not labelled from an empty input."""
    from mmrl_desktop.core.learning.calibration import class_probs

    predictions, labelled = [], 0
    fz = trainer.featurizer
    if progress is not None:
        progress(0, len(usable))
    for start in range(0, len(usable), BATCH):
        chunk = usable[start : start + BATCH]
        readable = {it.item_id for it in fz.readable([c[0] for c in chunk])}
        for it, files, _ in chunk:
            if it.item_id not in readable:
                path = next(iter(files.values()), it.item_id)
                skipped.append({"path": path, "reason": fz.unreadable[it.item_id]})
        done = start + len(chunk)
        chunk = [c for c in chunk if c[0].item_id in readable]
        labelled += len(chunk)
        if not chunk:
            if progress is not None:
                progress(done, len(usable))
            continue
        inputs = fz.batch([c[0] for c in chunk])
        probs = class_probs(trainer.algorithm, inputs, trainer.calibrator.temperatures)
        for row, (it, files, given) in enumerate(chunk):
            for task, labels in trainer.labels.items():
                p = probs[task][row].tolist()
                order = sorted(range(len(labels)), key=lambda k: -p[k])
                entry = {
                    "id": it.item_id,
                    "path": next(iter(files.values()), None),
                    "files": files,
                    "task": task,
                    "label": labels[order[0]],
                    "confidence": float(p[order[0]]),
                    "top": [[labels[k], float(p[k])] for k in order[:TOP]],
                }
                if given is not None:
                    entry["given_label"] = given
                predictions.append(entry)
        if progress is not None:
            progress(done, len(usable))
    return predictions, labelled


def format_predictions(result: dict) -> str:
    lines = [
        f"{result['items']} item(s) from {result['source']} — model v{result['model_version']} "
        f"(step {result['step']}) of {result['project']}"
    ]
    rows = [("id", "task", "label", "confidence", "top")]
    for p in result["predictions"]:
        top = ", ".join(f"{lab} {prob:.2f}" for lab, prob in p["top"])
        rows.append((p["id"], p["task"], p["label"], f"{p['confidence']:.3f}", top))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for d in result.get("drafts", []):
        lines.append(f"{d['id']}  {d['task']}: {d['text']}")
    if result["skipped"]:
        lines.append(f"skipped {len(result['skipped'])}:")
        lines += [f"  {s['path']}: {s['reason']}" for s in result["skipped"]]
    return "\n".join(lines)
