"""The built-in demo project and the rule for which project a command opens.

``--project demo`` names the demo wherever a project is taken: it is created on first use in the
user data folder (platformdirs) by importing ``resources/demo/items.csv``, with 30 % of the
labelled items kept out as a hold-out set so the held-out accuracy chart has something to show.

Items keep absolute paths, so the demo reads its own copy of the installation's demo files
(``<demo-project>-data``), not the installation's folder: an app installed somewhere else, a new
bundle or a new virtual environment, would leave a demo that points into it with no files. A
demo made before it had its copy, or whose files have gone, is repaired when it is opened
(``repair_demo``): its items are re-pointed to a fresh copy and its answers kept.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

from mmrl_desktop.core.data.project import PROJECT_FILE, Project
from mmrl_desktop.core.data.project_lock import project_lock
from mmrl_desktop.core.data.relocation import recorded_roots
from mmrl_desktop.core.errors import ProjectError, UserError
from mmrl_desktop.paths import resources_dir, user_data_dir

DEMO_NAME = "demo"
DEMO_HOLDOUT = 0.3
DEMO_TASK = "digit"
# The CT demo (issue 15): chest-CT phantoms with or without a lung nodule, as DICOM series and
# NIfTI volumes (``core.data.volumes.demo_data``); ``--project demo-ct``.
DEMO_CT_NAME = "demo-ct"
DEMO_CT_TASK = "finding"


def demo_dir() -> Path:
    return user_data_dir() / "demo-project"


def demo_ct_dir() -> Path:
    return user_data_dir() / "demo-ct-project"


def demo_data_dir(root: str | Path | None = None) -> Path:
    """Where the demo at ``root`` keeps its files (``<root>-data``): the digits demo its copy of
    the installation's, the CT demo the volumes it writes."""
    root = Path(root or demo_dir())
    return root.with_name(root.name + "-data")


def copy_demo_files(data: Path) -> Path:
    """A fresh copy of the installation's demo files at ``data`` (what was there is replaced);
    returns its ``items.csv``. The DICOM samples and the script that made the files stay out."""
    source = resources_dir() / "demo"
    if not (source / "items.csv").is_file():
        raise ProjectError(
            f"the demo data is missing from this installation ({source / 'items.csv'})."
        )
    tmp = data.with_name(data.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("dicom", "*.py", "__pycache__"))
    shutil.rmtree(data, ignore_errors=True)
    tmp.rename(data)
    return data / "items.csv"


def _files_gone(project: Project) -> bool:
    with project.open_store() as store:
        items = store.items(with_excluded=True)
    return not all(os.path.isfile(p) for it in items for p in (it.image, it.audio, it.text) if p)


def repair_demo(project: Project) -> int:
    """If any of the demo's files is gone, re-point its items to a fresh copy of the demo files
    (``copy_demo_files``), answers, splits and checkpoints kept; returns the items re-pointed.
    Under the project's lock, so two windows opening a broken demo repair it once."""
    if not _files_gone(project):
        return 0
    with project_lock(project.root):
        if not _files_gone(project):  # another process has just repaired it
            return 0
        data = demo_data_dir(project.root)
        copy_demo_files(data)
        with project.open_store() as store:
            roots = recorded_roots(project, store.items(with_excluded=True))
            moved = sum(store.relocate_items(r, str(data)) for r in roots if Path(r) != data)
        project.source = str(data / "items.csv")
        project.save()
    return moved


def is_demo(path: str | Path) -> bool:
    try:
        return Path(path).resolve() in (demo_dir().resolve(), demo_ct_dir().resolve())
    except OSError:
        return False


def assign_holdout(project: Project, fraction: float, seed: int = 0) -> int:
    """Keep ``fraction`` of each label's items out of feedback (split 'holdout'), stratified."""
    with project.open_store() as store:
        by_label: dict[str, list[str]] = {}
        for it in store.items(split="pool"):
            lab = next(iter(it.labels.values()), None) if it.labels else None
            if lab:
                by_label.setdefault(lab, []).append(it.item_id)
        rng = random.Random(seed)
        chosen: list[str] = []
        for ids in by_label.values():
            rng.shuffle(ids)
            chosen.extend(ids[: int(round(len(ids) * fraction))])
        store.set_split(chosen, "holdout")
    return len(chosen)


def create_demo(root: Path | None = None) -> Project:
    """Build the demo project (idempotent: a half-made one is rebuilt)."""
    from mmrl_desktop.core.data.importer import import_source

    root = Path(root or demo_dir())
    if root.exists() and not (root / PROJECT_FILE).exists():
        shutil.rmtree(root)
    source = copy_demo_files(demo_data_dir(root))
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    project = Project.create(
        tmp,
        name="Demo: digits you can see, hear and read",
        # the held-out chart should move within the first minute of a demo
        algorithm={"eval_every": 40},
    )
    import_source(source, project, task=DEMO_TASK, holdout=0.0)  # the demo's own hold-out:
    assign_holdout(project, DEMO_HOLDOUT, seed=0)
    tmp.rename(root)  # a crash above leaves only the .partial folder
    return Project.open(root)


def create_ct_demo(root: Path | None = None) -> Project:
    """Build the CT demo project (idempotent: a half-made one is rebuilt). Its volumes are
    written next to it (``<root>-data``: the items keep absolute paths, so not inside the
    project folder, which is renamed into place)."""
    from mmrl_desktop.core.data.importer import import_source
    from mmrl_desktop.core.data.volumes.demo_data import write_ct_demo_source

    root = Path(root or demo_ct_dir())
    if root.exists() and not (root / PROJECT_FILE).exists():
        shutil.rmtree(root)
    source = write_ct_demo_source(
        demo_data_dir(root), resources_dir() / "demo" / "dicom" / "ct_demo.dcm"
    )
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    project = Project.create(
        tmp,
        name="Demo: chest CT phantoms, is there a lung nodule?",
        algorithm={"eval_every": 20},
    )
    import_source(source, project, task=DEMO_CT_TASK, holdout=0.0)
    assign_holdout(project, DEMO_HOLDOUT, seed=0)
    tmp.rename(root)
    return Project.open(root)


def resolve_project(arg: str | None, settings=None) -> Project:
    """The project a command opens: ``demo`` → the demo; a folder → that project; nothing → the
    last project (when it still opens), else the demo; ``demo-ct`` → the CT demo."""
    if arg == DEMO_CT_NAME:
        if (demo_ct_dir() / PROJECT_FILE).exists():
            return Project.open(demo_ct_dir())
        return create_ct_demo()
    if arg == DEMO_NAME or (arg is None and not _last_project(settings)):
        if (demo_dir() / PROJECT_FILE).exists():
            return open_project(demo_dir())
        return create_demo()
    if arg is None:
        return open_project(_last_project(settings))
    path = Path(arg).expanduser()
    if not path.exists():
        raise UserError(f"there is no project folder at {path}.")
    return open_project(path)


def open_project(path: str | Path) -> Project:
    """``Project.open``; the demo, however it is reached (``demo``, its folder, the last project
    opened), is repaired first if its files have gone (``repair_demo``)."""
    project = Project.open(path)
    try:
        is_the_demo = project.root.resolve() == demo_dir().resolve()
    except OSError:
        is_the_demo = False
    if is_the_demo:
        repair_demo(project)
    return project


def _last_project(settings) -> str:
    if settings is None:
        return ""
    last = settings.last_project
    if last and (Path(last) / PROJECT_FILE).is_file():
        return last
    return ""
