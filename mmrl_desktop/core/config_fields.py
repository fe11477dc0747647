"""The settings' dataclass plumbing (``core/config.py``, ``core/generate_config.py``): a help
sentence on every field, values from project.toml or JSON coerced to the field's type, and one
sentence (``UserError``) for an unknown key or a bad value. Torch-free."""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from typing import Any

from mmrl_desktop.core.errors import UserError


def one_of(names: tuple[str, ...]) -> str:
    """``"a, b or c"``."""
    return f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else names[0]


def help_text(text: str, **extra) -> dict:
    return {"help": text, **extra}


# the project.toml section each settings class is read from: errors name it, not the class
SECTION = {
    "TrainConfig": "[algorithm]",
    "ModelConfig": "[model]",
    "GenerateConfig": "generate task",
}
KIND_WORDS = {"int": "a whole number", "float": "a number", "bool": "true or false",
              "str": "text", "dict": "a table"}  # fmt: skip


def _where(cls_name: str) -> str:
    return SECTION.get(cls_name, cls_name)


def coerce(cls_name: str, f: dataclasses.Field, value: Any) -> Any:
    """Convert a TOML/JSON value to the field's declared type, or raise UserError."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "bool":
            if not isinstance(value, bool):
                raise ValueError
            return value
        if kind == "str":
            if isinstance(value, bool) and "from_bool" in f.metadata:
                return f.metadata["from_bool"][value]  # a setting that was a bool before
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind.startswith("dict"):
            if not isinstance(value, dict):
                raise ValueError
            return dict(value)
    except (TypeError, ValueError):
        kind = kind.split("[")[0]
        raise UserError(
            f"{_where(cls_name)} {f.name} must be {KIND_WORDS.get(kind, kind)}, not {value!r}."
        ) from None
    return value


def build(cls, data: dict | None):
    data = dict(data or {})
    names = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise UserError(
            f"unknown {_where(cls.__name__)} setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(names))}."
        )
    kwargs = {k: coerce(cls.__name__, names[k], v) for k, v in data.items()}
    obj = cls(**kwargs)
    obj.validate()  # its sentences name the field; callers say the file ("project.toml [model]: …")
    return obj


def check(cond: bool, message: str) -> None:
    if not cond:
        raise UserError(message)


def help_table(cls) -> list[tuple[str, Any, str]]:
    """(name, default, help) for every field: for ``--help`` texts and the settings dialog."""
    out = []
    for f in fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append((f.name, default, f.metadata.get("help", "")))
    return out
