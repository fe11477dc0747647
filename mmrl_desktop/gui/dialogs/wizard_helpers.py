"""The New-project wizard's Qt-free helpers: the labels a source suggests, the project folder's
name, and the Tasks page's rows as validated tasks (moved out of ``new_project``, which
re-exports them)."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from mmrl_desktop.core.data.project import Task
from mmrl_desktop.core.errors import UserError


def guess_labels(source: str | Path, limit: int = 10000) -> list[str]:
    """Labels a source suggests: the class folder names, or the manifest's ``label`` values."""
    path = Path(source).expanduser()
    try:
        if path.is_dir():
            for name in ("items.csv", "items.jsonl"):
                if (path / name).is_file() and not _class_dirs(path):
                    return guess_labels(path / name, limit)
            return _class_dirs(path)
        labels: list[str] = []
        if not path.is_file():  # a FIFO or device named *.csv would block the GUI thread
            return []
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as fh:
                for k, row in enumerate(csv.DictReader(fh)):
                    if k >= limit:
                        break
                    labels.append((row.get("label") or "").strip())
        elif path.suffix.lower() == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for k, line in enumerate(fh):
                    if k >= limit:
                        break
                    try:
                        obj = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(obj, dict) and obj.get("label") is not None:
                        labels.append(str(obj["label"]).strip())
        return sorted({lab for lab in labels if lab})
    except (OSError, UnicodeDecodeError, csv.Error):
        return []


def _class_dirs(path: Path) -> list[str]:
    return sorted(
        p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))
    )


def slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_\-]+", "-", name.strip()).strip("-")
    return s or "project"


def parse_tasks(rows: list[tuple[str, str]]) -> list[Task]:
    """(task name, comma-separated labels) rows → validated tasks (UserError with a sentence)."""
    tasks = []
    for name, labels in rows:
        name = name.strip()
        labs = [x.strip() for x in labels.split(",") if x.strip()]
        if not name and not labs:
            continue
        task = Task(name, labs)
        task.validate()
        tasks.append(task)
    if not tasks:
        raise UserError("add at least one task with two labels or more.")
    if len({t.name for t in tasks}) != len(tasks):
        raise UserError("two tasks have the same name.")
    return tasks
