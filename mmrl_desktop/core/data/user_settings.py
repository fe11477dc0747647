"""The user's own settings (not a project's): annotator name, recent projects, last project.

Layered: packaged defaults → the user's ``settings.json`` in the platformdirs config folder.
The file carries a ``schema_version``; unknown keys are kept, bad values fall back to defaults, a
corrupt file is set aside (renamed ``settings.json.bad``) rather than crashing the app.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmrl_desktop.core.data.project import atomic_write_bytes
from mmrl_desktop.paths import user_config_dir

SETTINGS_SCHEMA_VERSION = 1
MAX_RECENT = 10


@dataclass
class UserSettings:
    annotator: str = ""  # empty: the OS user name
    recent_projects: list[str] = field(default_factory=list)
    last_project: str = ""
    theme: str = "dark"

    @staticmethod
    def path() -> Path:
        return user_config_dir() / "settings.json"

    @classmethod
    def load(cls) -> UserSettings:
        path = cls.path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            try:
                path.replace(path.with_suffix(".json.bad"))
            except OSError:
                pass
            return cls()
        out = cls()
        if isinstance(data.get("annotator"), str):
            out.annotator = data["annotator"].strip()[:100]
        if isinstance(data.get("recent_projects"), list):
            out.recent_projects = [str(p) for p in data["recent_projects"] if isinstance(p, str)][
                :MAX_RECENT
            ]
        if isinstance(data.get("last_project"), str):
            out.last_project = data["last_project"]
        if data.get("theme") in ("dark", "light"):
            out.theme = data["theme"]
        return out

    def save(self) -> None:
        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"schema_version": SETTINGS_SCHEMA_VERSION, **asdict(self)}
        atomic_write_bytes(path, json.dumps(payload, indent=2).encode("utf-8"))

    def remember_project(self, project_dir: str | Path) -> None:
        p = str(project_dir)
        self.recent_projects = [p] + [q for q in self.recent_projects if q != p]
        self.recent_projects = self.recent_projects[:MAX_RECENT]
        self.last_project = p
