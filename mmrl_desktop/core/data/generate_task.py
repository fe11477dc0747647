"""A ``generate`` task in project.toml: a ``[[tasks]]`` entry with ``kind = "generate"`` beside
the label tasks, whose answer is text a local language model drafts (issue 16, ADR 0017). The
settings are ``config.GenerateConfig``; ``Project.generate_tasks`` holds these tasks apart from the
label tasks (``Project.tasks``), so the code that walks the labels is unchanged."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mmrl_desktop.core.config import GENERATE_KIND, GenerateConfig
from mmrl_desktop.core.errors import ProjectError, UserError

_TASK_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\- ]{0,63}$")  # as a label task's name


@dataclass
class GenerateTask:
    """A question whose answer is text a local language model drafts (``kind = "generate"``
    in ``[[tasks]]``, beside the label tasks); its settings are ``config.GenerateConfig``."""

    name: str
    settings: GenerateConfig

    kind = GENERATE_KIND

    def validate(self) -> None:
        if not _TASK_NAME.match(self.name):
            raise ProjectError(
                f"task name {self.name!r} must be 1–64 letters, digits, _ - or space."
            )
        self.settings.validate()

    def model_folder(self, root: Path) -> Path:
        """The model folder (a relative path is relative to the project folder)."""
        folder = Path(self.settings.model).expanduser()
        return folder if folder.is_absolute() else Path(root) / folder

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": GENERATE_KIND, **self.settings.to_dict()}

    @classmethod
    def from_dict(cls, data: dict, path: Path | str = "project.toml") -> GenerateTask:
        data = dict(data)
        name = str(data.pop("name", ""))
        data.pop("kind", None)
        data.pop("labels", None)
        try:
            task = cls(name, GenerateConfig.from_dict(data))
            task.validate()
        except UserError as err:
            raise ProjectError(f"{path}: generate task {name!r}: {err}") from None
        return task


def is_generate(entry) -> bool:
    """Whether a ``[[tasks]]`` entry is a generate task."""
    return isinstance(entry, dict) and entry.get("kind") == GENERATE_KIND


def generate_tasks_of(data: dict, path: Path | str) -> list[GenerateTask]:
    """The generate tasks of a parsed project.toml (a bad one: ``ProjectError``)."""
    return [GenerateTask.from_dict(t, path) for t in data.get("tasks", []) if is_generate(t)]
