"""Project: a self-contained folder with ``project.toml``, ``feedback.sqlite``, ``checkpoints/`` and
``exports/``.

``project.toml`` carries a ``schema_version``; older files are migrated on open (in memory; written
back on the next save). Tasks, labels and the model/algorithm settings live there. The settings are
kept as plain tables here and validated by the engine's config dataclasses, so this module needs no
torch.

Writers of ``project.toml`` hold the project lock (``project_lock.py``) and re-read the file under
it: labels only ever grow, as a union in the order they were first written, so two concurrent
imports keep each other's labels. An import writes its labels before its items; opening a project
adds to ``project.toml`` any label that stored items use but the file lacks (an import killed
between the two writes, or an older version), removes temp files a killed writer left, and refuses
a damaged ``feedback.sqlite`` with one sentence.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from mmrl_desktop.core.data.generate_task import GenerateTask, generate_tasks_of, is_generate
from mmrl_desktop.core.data.project_lock import (
    project_lock,
    read_only_error,
    remove_stale_temp_files,
)
from mmrl_desktop.core.data.store import FeedbackStore
from mmrl_desktop.core.errors import ProjectError, fault_sentence

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_SCHEMA_VERSION = 1
PROJECT_FILE = "project.toml"
DB_FILE = "feedback.sqlite"
DEFAULT_TASK = "label"

log = logging.getLogger(__name__)

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
    # tasks whose answer is a drafted text (kind = "generate"), kept apart from the label tasks
    generate_tasks: list[GenerateTask] = field(default_factory=list)
    # project.toml ``[encoders]``: modality → a pretrained model folder, plus options such as
    # ``lora`` (core/learning/pretrained, docs/adr/0014-pretrained-encoders.md)
    encoders: dict = field(default_factory=dict)

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

    def generate_task(self, name: str | None = None) -> GenerateTask:
        """The generate task ``name`` (the first one when None); KeyError when there is none."""
        for t in self.generate_tasks:
            if name is None or t.name == name:
                return t
        raise KeyError(name)

    def add_generate_task(self, task: GenerateTask) -> None:
        """Add (or replace, by name) a generate task and write project.toml under the lock."""
        task.validate()
        if task.name in {t.name for t in self.tasks}:
            raise ProjectError(f"the project already has a label task named {task.name!r}.")
        with project_lock(self.root):
            self._merge_from_disk()
            self.generate_tasks = [t for t in self.generate_tasks if t.name != task.name]
            self.generate_tasks.append(task)
            self._write()

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
        generate_tasks: list[GenerateTask] | None = None,
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
            generate_tasks=list(generate_tasks or []),
        )
        for t in [*project.tasks, *project.generate_tasks]:
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
        data = _read_toml(path)
        project = cls(
            root=root,
            name=str(data.get("name", root.name)),
            tasks=_tasks_of(data, path),
            model=dict(data.get("model", {})),
            algorithm=dict(data.get("algorithm", {})),
            source=str(data.get("source", "")),
            generate_tasks=generate_tasks_of(data, path),
            encoders=dict(data.get("encoders", {})),
        )
        project._check_writable()
        for folder in (project.checkpoints_dir, project.exports_dir):
            try:
                folder.mkdir(exist_ok=True)
            except OSError as err:  # e.g. a file where the folder should be
                raise ProjectError(
                    f"{folder} cannot be the project's {folder.name} folder ({err.strerror})."
                ) from None
        project._settle()
        return project

    def _check_writable(self) -> None:
        for path in (self.root, self.db_path):
            if path.exists() and not os.access(path, os.W_OK):
                raise read_only_error(self.root)

    def _settle(self) -> None:
        """After a crash or an older version: remove temp files, check the database, and add the
        labels stored items use to project.toml (see the module docstring)."""
        toml_temps = any(self.root.glob(f".{PROJECT_FILE}.*.tmp"))  # its writers hold the lock
        with project_lock(self.root) if toml_temps else contextlib.nullcontext():
            remove_stale_temp_files(
                self.root, [self.checkpoints_dir, self.exports_dir], PROJECT_FILE
            )
        if not self.db_path.exists():
            return
        stored = self._stored_labels(check=True)
        if self._lacks(stored):
            with project_lock(self.root):
                before = {t.name: list(t.labels) for t in self.tasks}
                self._merge_from_disk()
                self._merge_labels(self._stored_labels())
                added = {
                    t.name: [lab for lab in t.labels if lab not in before.get(t.name, [])]
                    for t in self.tasks
                }
                added = {k: v for k, v in added.items() if v}
                if added:
                    self._write()
                    log.warning(
                        "%s: added labels that stored items use but project.toml lacked: %s",
                        self.toml_path,
                        "; ".join(f"{k}: {', '.join(v)}" for k, v in added.items()),
                    )

    def _lacks(self, stored: dict[str, list[str]]) -> bool:
        """Whether ``_merge_labels(stored)`` would add a label."""
        known = {t.name: t.labels for t in self.tasks}
        return any(
            (t in known and any(lab not in known[t] for lab in labs))
            or (t not in known and len(labs) >= 2)
            for t, labs in stored.items()
        )

    def _stored_labels(self, check: bool = False) -> dict[str, list[str]]:
        """{task: labels} that stored items carry, in first-stored order (``check``: run SQLite's
        quick_check first and refuse a damaged file with one sentence)."""
        conn = None
        try:
            conn = sqlite3.connect(str(self.db_path), timeout=30.0)
            if check:
                problems = [r[0] for r in conn.execute("PRAGMA quick_check(1)")]
                if problems != ["ok"]:
                    raise damaged_error(self.db_path, problems[0] if problems else "no answer")
            if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'items'").fetchone():
                return {}
            rows = conn.execute("SELECT labels FROM items GROUP BY labels ORDER BY MIN(rowid)")
            return _labels_in(r[0] for r in rows)
        except sqlite3.OperationalError as err:  # a full disk, a lock: the file may be fine
            text = fault_sentence(err, str(self.root))
            raise ProjectError(text or f"{self.db_path} cannot be opened ({err}).") from None
        except sqlite3.DatabaseError as err:
            raise damaged_error(self.db_path, str(err)) from None
        finally:
            if conn is not None:
                conn.close()

    def _merge_labels(self, labels: dict[str, list[str]]) -> None:
        """Add ``labels`` to the tasks (a task is created once it would have two labels)."""
        for task, labs in labels.items():
            if task in {t.name for t in self.tasks} or len(labs) >= 2:
                self.set_tasks_from_labels(labs, task)

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
            "tasks": [{"name": t.name, "labels": t.labels, "kind": t.kind} for t in self.tasks]
            + [t.to_dict() for t in self.generate_tasks],
            "model": self.model,
            "algorithm": self.algorithm,
            **({"encoders": self.encoders} if self.encoders else {}),
        }

    def save(self) -> None:
        """Write project.toml atomically under the project lock, keeping the labels another
        process added since this one read the file (labels only grow)."""
        with project_lock(self.root):
            self._merge_from_disk()
            self._write()

    def no_task_sentence(self) -> str:
        """Why there is no single-label task to learn or ask about, in one sentence: items of
        one label only (a task needs two), or no labelled items at all."""
        stored = self._stored_labels() if self.db_path.exists() else {}
        one = next((labs[0] for labs in stored.values() if len(labs) == 1), None)
        if one is not None:
            return (
                f"the project's items have one label so far ({one!r}): a task needs two; "
                "import items of another label."
            )
        return "the project has no single-label task to learn; import data first."

    def add_labels(self, labels: list[str], task: str = DEFAULT_TASK) -> list[str]:
        """Teach ``task`` the ``labels`` (with those stored items already use) and write
        project.toml, all under the lock. Returns warnings (a one-label task is not written)."""
        with project_lock(self.root):
            self._merge_from_disk()
            stored = self._stored_labels().get(task, []) if self.db_path.exists() else []
            known = task in {t.name for t in self.tasks}
            self.set_tasks_from_labels([*stored, *labels], task)
            t = self.task(task)
            warnings: list[str] = []
            if not known and len(t.labels) < 2:  # a project with a one-label task would not open
                self.tasks.remove(t)
                if t.labels:
                    warnings.append(
                        f"only one label ({t.labels[0]!r}) so far: the task {task!r} is created "
                        "once a second label is imported."
                    )
            self._write()
        return warnings

    def _merge_from_disk(self) -> None:
        """Union this project's tasks and labels with those in project.toml now (disk order
        first: labels another process wrote keep their place)."""
        try:
            data = _read_toml(self.toml_path)
            disk, generate = _tasks_of(data, self.toml_path), generate_tasks_of(data, "")
        except (ProjectError, OSError):
            return  # no readable file yet: this one is the first
        mine = {t.name for t in self.generate_tasks}
        self.generate_tasks += [g for g in generate if g.name not in mine]
        for d in disk:
            try:
                mine = self.task(d.name)
            except KeyError:
                self.tasks.append(d)
                continue
            mine.labels[:] = d.labels + [lab for lab in mine.labels if lab not in d.labels]

    def _write(self) -> None:
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


def _read_toml(path: Path) -> dict:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ProjectError(f"{path} cannot be read: {err}.") from None
    return migrate_project_data(data, path)


def _tasks_of(data: dict, path: Path) -> list[Task]:
    try:
        tasks = [
            Task(str(t["name"]), [str(x) for x in t["labels"]], str(t.get("kind", "single")))
            for t in data.get("tasks", [])
            if not is_generate(t)
        ]
    except (KeyError, TypeError, AttributeError):
        raise ProjectError(f"{path}: every [[tasks]] entry needs a name and labels.") from None
    for t in tasks:
        t.validate()
    return tasks


def _labels_in(rows) -> dict[str, list[str]]:
    """{task: labels in first-seen order} from items' ``labels`` JSON objects."""
    out: dict[str, list[str]] = {}
    for text in rows:
        try:
            labels = json.loads(text)
        except (TypeError, ValueError):
            continue
        if not isinstance(labels, dict):
            continue
        for task, value in labels.items():
            for lab in value if isinstance(value, list) else [value]:
                if isinstance(lab, str) and lab and lab not in out.setdefault(str(task), []):
                    out[str(task)].append(lab)
    return out


def damaged_error(db_path: Path, detail: str) -> ProjectError:
    detail = " ".join(detail.replace("*** in database main ***", "").split())[:200]
    return ProjectError(
        f"{db_path} is damaged ({detail}); restore it from a backup, or move it away to keep "
        "the project's settings and start its answers afresh."
    )


def migrate_project_data(data: dict, path: Path) -> dict:
    """Bring a parsed project.toml up to PROJECT_SCHEMA_VERSION."""
    version = data.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ProjectError(
            f"{path} has an invalid schema_version ({version!r}); it must be a whole number "
            f"from 0 to {PROJECT_SCHEMA_VERSION}."
        )
    if version > PROJECT_SCHEMA_VERSION:
        raise ProjectError(
            f"{path} has schema_version {version!r}; this mmrl-desktop reads up to "
            f"{PROJECT_SCHEMA_VERSION}."
        )
    if version == 0:  # pre-release files: a single [task] table
        if "task" in data and "tasks" not in data:
            data["tasks"] = [data.pop("task")]
        data["schema_version"] = 1
    return data


def atomic_write_bytes(path: Path, payload: bytes, *, durable: bool = True) -> None:
    """Write ``payload`` to ``path`` so that a crash leaves either the old or the new file.
    ``durable=False`` skips the fsyncs: readers still see one whole file or the other, but a
    power cut may lose it (a heartbeat, rewritten every few seconds)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
        if durable:
            _fsync_dir(path.parent)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError) and err.filename is None:
            err.filename = str(path)  # "disk full while writing <path>", not just "disk full"
        raise


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
