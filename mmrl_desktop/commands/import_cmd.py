"""``mmrl-desktop import SOURCE --project DIR [--holdout F] [--json]`` (../shared/docs/CONTRACT.md).

Reading and checking the files shows a progress bar on stderr when stderr is a terminal (never on
stdout, so ``--json`` stays one JSON object)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mmrl_desktop.core.errors import UserError

MAX_LISTED = 20


def _checked_paths(args) -> tuple[Path, Path]:
    """(project folder, SOURCE), refused in one sentence before any scanning: the demo, a file,
    the SOURCE itself, an unreadable project."""
    from mmrl_desktop.core.data.demo import DEMO_CT_NAME, DEMO_NAME, is_demo
    from mmrl_desktop.core.data.project import PROJECT_FILE, Project

    target = Path(args.project).expanduser()
    if args.project in (DEMO_NAME, DEMO_CT_NAME) or is_demo(target):
        raise UserError(
            "the built-in demo project is protected and cannot be imported into; "
            "give a folder of your own, e.g. --project my-project."
        )
    if target.exists() and not target.is_dir():
        raise UserError(f"{target} exists and is not a folder, so it cannot hold a project.")
    source = Path(args.source).expanduser()
    if source.exists() and target.exists() and source.resolve() == target.resolve():
        raise UserError("the project folder cannot be the SOURCE folder; choose another --project.")
    if (target / PROJECT_FILE).exists():
        Project.open(target)  # an unreadable project fails here, before any scanning
    return target, source


def run(args) -> int:
    from mmrl_desktop.commands.progress import Bar
    from mmrl_desktop.core.data.holdout import DEFAULT_HOLDOUT
    from mmrl_desktop.core.data.importer import scan_source, write_items
    from mmrl_desktop.core.data.project import Project
    from mmrl_desktop.core.tasks import TaskState

    target, source = _checked_paths(args)
    encoders = _checked_encoders(args)  # a refused folder: one sentence, before any scanning
    holdout = getattr(args, "holdout", None)
    holdout = DEFAULT_HOLDOUT if holdout is None else holdout
    with Bar("reading files", "files") as bar:
        scan = scan_source(source, TaskState(bar))
    if not scan.items:
        if args.json:
            print(json.dumps(_empty_json(target, scan, holdout), ensure_ascii=False))
        else:
            _print_skipped(scan.skipped)
        sys.stdout.flush()
        n = len(scan.skipped)
        sys.stderr.write(
            f"mmrl-desktop: error: nothing in {source} could be imported"
            + (
                f" ({n} file{'s' if n != 1 else ''} skipped, see above)."
                if n
                else " (it is empty)."
            )
            + "\n"
        )
        return 2

    project = Project.open_or_create(target)
    result = write_items(scan, project, holdout=holdout)
    embedded = _embed(project, encoders)
    if args.json:
        print(json.dumps({**result.to_json(), **embedded}, ensure_ascii=False))
        return 0
    classes = ", ".join(result.classes) if result.classes else "none"
    again = result.items - result.imported
    print(
        f"Imported {result.imported} new item{'s' if result.imported != 1 else ''} into "
        f"{result.project} ({result.items} found"
        + (f", {again} already there" if again else "")
        + (f", {result.unlabelled} unlabelled" if result.unlabelled else "")
        + f"; classes: {classes})."
    )
    print(holdout_sentence(result))
    for w in result.warnings:
        print(f"Note: {w}")
    _print_skipped(result.skipped)
    for m, r in embedded.get("embedding", {}).items():
        print(
            f"Encoder for {m}: {encoders[m].describe()}; {r['computed']} embeddings computed, "
            f"{r['cached']} already there."
        )
    return 0


def _checked_encoders(args) -> dict:
    """``--encoder MODALITY=PATH`` (issue 14) checked: {modality: EncoderInfo}."""
    pairs = dict(getattr(args, "encoder", None) or [])
    if not pairs:
        return {}
    from mmrl_desktop.core.learning.pretrained.settings import check_encoders

    return check_encoders(".", pairs)


def _embed(project, encoders: dict) -> dict:
    """The encoders written to project.toml [encoders] and every item embedded (a progress bar;
    interrupted, ``encoders embed`` or the app resumes it)."""
    if not encoders:
        return {}
    from mmrl_desktop.commands.progress import Bar
    from mmrl_desktop.core.learning.pretrained.settings import describe_infos, fill_project

    project.encoders = {**project.encoders, **{m: i.path for m, i in encoders.items()}}
    project.save()
    with Bar("embedding", "items") as bar:

        def report(done: int, total: int, modality: str) -> None:
            bar.update(done, total, label=f"embedding {modality}")

        results = fill_project(project, progress=report, modalities=list(encoders))
    return {
        "encoders": describe_infos(encoders),
        "embedding": {m: r.to_dict() for m, r in results.items()},
    }


def holdout_sentence(result) -> str:
    """How many of the imported items are kept out for evaluation, per class."""
    held = sum(result.holdout.values())
    if not result.holdout:
        return "Hold-out: none (the items have no labels to measure the model against)."
    if not held and result.holdout_fraction == 0:
        return "Hold-out: none (--holdout 0)."
    if not held:
        return (
            "Hold-out: none of these items (a label keeps at least 3 items to be asked about; "
            "items already in the project keep their place)."
        )
    per = ", ".join(f"{c} {n}" for c, n in result.holdout.items())
    return (
        f"Hold-out: {held} item{'s' if held != 1 else ''} kept out of the questions to measure "
        f"the model ({per})."
    )


def _empty_json(target: Path, scan, holdout: float) -> dict:
    return {
        "project": str(target.resolve()),
        "items": 0,
        "imported": 0,
        "classes": [],
        "skipped": [{"path": s.path, "reason": s.reason} for s in scan.skipped],
        "holdout": {},
        "holdout_fraction": holdout,
    }


def _print_skipped(skipped) -> None:
    if not skipped:
        return
    print(f"Skipped {len(skipped)} file{'s' if len(skipped) != 1 else ''}:")
    for s in skipped[:MAX_LISTED]:
        print(f"  {s.path}: {s.reason}")
    if len(skipped) > MAX_LISTED:
        print(f"  … and {len(skipped) - MAX_LISTED} more (--json lists them all)")
