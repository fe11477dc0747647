"""Project: a self-contained folder with ``project.toml``, ``feedback.sqlite``, ``checkpoints/`` and
``exports/``.

``project.toml`` carries a ``schema_version``; older files are migrated on open (in memory; written
back on the next save). Tasks, labels and the model/algorithm settings live there. The settings are
kept as plain tables here and validated by the engine's config dataclasses, so this module needs no
torch.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from mmrl_desktop.core.errors import ProjectError
from mmrl_desktop.core.store import FeedbackStore

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_SCHEMA_VERSION = 1
PROJECT_FILE = "project.toml"
DB_FILE = "feedback.sqlite"
DEFAULT_TASK = "label"

_TASK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\- ]{0,63}$")


@dataclass
class Task:
    """A question asked of every item: single-label over ``labels`` (or ``multi`` for findings)."""

    name: str
    labels: list[str]
    kind: str = "single"

    def validate(self) -> None:
        if not _TASK_NAME.match(self.name):
            raise ProjectError(
                f"task name {self.name!r} must be 1–64 letters, digits, _ - or space."
            )
        if self.kind not in ("single", "multi"):
            raise ProjectError(f"task {self.name!r}: kind must be 'single' or 'multi'.")
        if len(self.labels) < 2:
            raise ProjectError(f"task {self.name!r} needs at least two labels.")
        if len(set(self.labels)) != len(self.labels):
            raise ProjectError(f"task {self.name!r} lists a label twice.")


@dataclass
class Project:
    root: Path
    name: str
    tasks: list[Task]
    model: dict = field(default_factory=dict)
    algorithm: dict = field(default_factory=dict)
    source: str = ""
    read_only: bool = False  # the built-in demo's import target is protected by the CLI

    # ------------------------------------------------------------ paths
    @property
    def toml_path(self) -> Path:
        return self.root / PROJECT_FILE

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def task(self, name: str) -> Task:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)

    def open_store(self) -> FeedbackStore:
        """A new connection for the calling thread."""
        return FeedbackStore(self.db_path)

    # ------------------------------------------------------------ create / open / save
    @classmethod
    def create(
        cls,
        root: str | Path,
        name: str | None = None,
        tasks: list[Task] | None = None,
        model: dict | None = None,
        algorithm: dict | None = None,
        source: str = "",
    ) -> Project:
        root = Path(root)
        if (root / PROJECT_FILE).exists():
            raise ProjectError(f"{root} already holds a project.")
        if root.exists() and not root.is_dir():
            raise ProjectError(f"{root} exists and is not a folder.")
        project = cls(
            root=root,
            name=name or root.name,
            tasks=list(tasks or []),
            model=dict(model or {}),
            algorithm=dict(algorithm or {}),
            source=source,
        )
        for t in project.tasks:
            t.validate()
        try:
            root.mkdir(parents=True, exist_ok=True)
            project.checkpoints_dir.mkdir(exist_ok=True)
            project.exports_dir.mkdir(exist_ok=True)
        except OSError as err:
            raise ProjectError(
                f"cannot create the project folder {root}: {err.strerror}."
            ) from None
        project.save()
        project.open_store().close()
        return project

    @classmethod
    def open(cls, root: str | Path) -> Project:
        root = Path(root)
        path = root / PROJECT_FILE
        if not path.is_file():
            raise ProjectError(f"{root} is not an mmrl-desktop project (no {PROJECT_FILE}).")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
            raise ProjectError(f"{path} cannot be read: {err}.") from None
        data = migrate_project_data(data, path)
        try:
            tasks = [
                Task(str(t["name"]), [str(x) for x in t["labels"]], str(t.get("kind", "single")))
                for t in data.get("tasks", [])
            ]
        except (KeyError, TypeError):
            raise ProjectError(f"{path}: every [[tasks]] entry needs a name and labels.") from None
        for t in tasks:
            t.validate()
        project = cls(
            root=root,
            name=str(data.get("name", root.name)),
            tasks=tasks,
            model=dict(data.get("model", {})),
            algorithm=dict(data.get("algorithm", {})),
            source=str(data.get("source", "")),
        )
        project.checkpoints_dir.mkdir(exist_ok=True)
        project.exports_dir.mkdir(exist_ok=True)
        return project

    @classmethod
    def open_or_create(cls, root: str | Path) -> Project:
        root = Path(root)
        if (root / PROJECT_FILE).exists():
            return cls.open(root)
        return cls.create(root)

    def to_dict(self) -> dict:
        return {
            "schema_version": PROJECT_SCHEMA_VERSION,
            "name": self.name,
            "source": self.source,
            "tasks": [{"name": t.name, "labels": t.labels, "kind": t.kind} for t in self.tasks],
            "model": self.model,
            "algorithm": self.algorithm,
        }

    def save(self) -> None:
        """Write project.toml atomically (temp file, fsync, replace)."""
        atomic_write_bytes(self.toml_path, tomli_w.dumps(self.to_dict()).encode("utf-8"))

    def set_tasks_from_labels(self, labels: list[str], task: str = DEFAULT_TASK) -> None:
        """Make sure ``task`` exists and knows every label in ``labels`` (import uses this)."""
        try:
            t = self.task(task)
        except KeyError:
            t = Task(task, [])
            self.tasks.append(t)
        for lab in labels:
            if lab not in t.labels:
                t.labels.append(lab)


def migrate_project_data(data: dict, path: Path) -> dict:
    """Bring a parsed project.toml up to PROJECT_SCHEMA_VERSION."""
    version = data.get("schema_version", 0)
    if not isinstance(version, int) or version > PROJECT_SCHEMA_VERSION:
        raise ProjectError(
            f"{path} has schema_version {version!r}; this mmrl-desktop reads up to "
            f"{PROJECT_SCHEMA_VERSION}."
        )
    if version == 0:  # pre-release files: a single [task] table
        if "task" in data and "tasks" not in data:
            data["tasks"] = [data.pop("task")]
        data["schema_version"] = 1
    return data


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that a crash leaves either the old or the new file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
