"""Load a user-supplied weights file without ever running code from it.

Two formats are accepted:
- **safetensors** (``safetensors.torch.load_file``): a JSON header and raw tensor bytes, no code;
- a **PyTorch** ``.pt``/``.pth`` file, read with ``torch.load(path, weights_only=True,
  map_location="cpu")``, torch's restricted unpickler that builds tensors and plain containers only
  and refuses any other Python object *before* constructing it.

A pickle that names a function or class (``os.system``, ``builtins.open``, a custom ``__reduce__``…)
is refused with a :class:`UserError`; nothing in it runs. Non-files, unknown bytes and files whose
content is not a mapping of names to tensors are refused with one clear sentence each.

No message ever passes on torch's own advice (``weights_only=False`` runs the file's code; its
text also carries terminal colour codes): every refusal is one sentence of ours.

A project's ``[model] weights_path`` goes through :func:`project_weights_path` first: a relative
path inside the project folder (no ``..``, no absolute path, no symbolic link out of it) to a
regular file named ``.safetensors``, ``.pt``, ``.pth`` or ``.bin``; anything else is refused before
a byte is read.

The result is a flat ``dict[str, torch.Tensor]`` on the CPU. A PyTorch file may wrap its state dict
in ``{"state_dict": ...}``, ``{"model": ...}`` or ``{"model_state_dict": ...}``; the wrapper is
removed.
"""

from __future__ import annotations

import json
import os
import pickle
import pickletools
import re
import stat
import struct
import warnings
import zipfile
from pathlib import Path

from mmrl_desktop.core.errors import UserError

_WRAPPER_KEYS = ("state_dict", "model_state_dict", "model")
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_PICKLE_PROTO = 0x80  # first byte of a protocol-2+ pickle


def _code_refused(path: Path) -> UserError:
    return UserError(
        f"{path} is not a safe weights file: it contains Python code (pickle) that "
        "mmrl-desktop will not run."
    )


def sniff(path: Path) -> str:
    """'safetensors', 'torch-zip', 'pickle' or 'unknown', from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(9)
        size = fh.seek(0, 2)
    if len(head) == 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= size - 8 and head[8:9] == b"{":
            return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "torch-zip"
    if head[:1] and head[0] == _PICKLE_PROTO:
        return "pickle"
    return "unknown"


_CODE_OPS = frozenset({"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX"})


def _pickle_bytes(path: Path, kind: str, limit: int = 64 << 20) -> bytes:
    """The pickle stream of a file: the file itself, or ``*/data.pkl`` inside a torch zip."""
    try:
        if kind == "torch-zip":
            with zipfile.ZipFile(path) as zf:
                name = next((n for n in zf.namelist() if n.endswith("data.pkl")), None)
                return zf.read(name)[:limit] if name else b""
        with open(path, "rb") as fh:
            return fh.read(limit)
    except (OSError, zipfile.BadZipFile, KeyError):
        return b""


def _pickle_with_code(data: bytes) -> bool:
    """True when ``data`` parses (statically: pickletools only reads opcodes, it never executes
    them) as a pickle that imports or calls something."""
    try:
        return any(op.name in _CODE_OPS for op, _, _ in pickletools.genops(data))
    except Exception:  # not a pickle (genops only parses; it never executes)
        return False


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return any(
                n.split("/", 1)[-1].startswith(("code/", "constants.pkl")) for n in zf.namelist()
            )
    except (zipfile.BadZipFile, OSError):
        return False


def _flatten(obj, path: Path) -> dict:
    import torch

    if isinstance(obj, dict):
        for key in _WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict) and len(obj) <= 4:
                inner = obj[key]
                if inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                    obj = inner
                    break
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
    raise UserError(
        f"{path} holds no model weights (expected a mapping of parameter names to tensors)."
    )


def load_weights(path: str | Path) -> dict:
    """A user's weights file → ``{name: tensor}`` on the CPU; never runs code from the file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path} does not exist.")
    if not path.is_file():
        raise UserError(f"{path} is not a file.")
    try:
        kind = sniff(path)
    except OSError as err:
        raise UserError(f"{path} cannot be read: {err.strerror or err}.") from None

    if kind == "safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path), device="cpu")
        except (SafetensorError, json.JSONDecodeError, ValueError, OSError) as err:
            raise UserError(f"{path} is a damaged safetensors file ({err}).") from None
        return _flatten(tensors, path)

    if kind == "unknown":
        if _pickle_with_code(_pickle_bytes(path, kind)):
            raise _code_refused(path)
        raise UserError(
            f"{path} is not a weights file mmrl-desktop can read "
            "(expected .safetensors or a PyTorch .pt/.pth state dict)."
        )
    if kind == "torch-zip" and _is_torchscript(path):
        raise UserError(
            f"{path} is a TorchScript program, not a weights file; give a state dict "
            "(.safetensors or .pt)."
        )

    import torch

    try:
        with warnings.catch_warnings():  # "pickle protocol 4 detected" and the like
            warnings.simplefilter("ignore")
            obj = torch.load(str(path), weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        # torch refused something: a global it does not allow (code) or bytes it cannot parse
        if "Unsupported global" in str(err) or _pickle_with_code(_pickle_bytes(path, kind)):
            raise _code_refused(path) from None
        raise UserError(
            f"{path} is a damaged PyTorch file (it is not a readable pickle)."
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError) as err:
        raise UserError(
            f"{path} is a damaged or unsupported PyTorch file ({_first_line(str(err))})."
        ) from None
    return _flatten(obj, path)


def _first_line(text: str) -> str:
    """The first line of a library's message, without colour codes and never torch's advice."""
    text = _ANSI.sub("", text).strip()
    line = text.splitlines()[0].strip() if text else "unreadable"
    if "weights_only" in line or "Weights only" in line:
        return "it holds more than plain tensors"
    return line[:200].rstrip(".")


def project_weights_path(root: str | Path, weights_path: str) -> Path:
    """``[model] weights_path`` as a regular weights file inside the project folder ``root``,
    else one sentence; nothing is opened."""
    text = str(weights_path).strip()
    rel = Path(text)
    where = "copy the file into the project folder (e.g. weights/) and name it relative to it"
    if rel.is_absolute() or rel.drive or text.startswith("~"):
        raise UserError(f"weights_path {text!r} is not inside the project folder; {where}.")
    if ".." in rel.parts:
        raise UserError(f"weights_path {text!r} leaves the project folder (..); {where}.")
    if rel.suffix.lower() not in WEIGHT_SUFFIXES:
        raise UserError(
            f"weights_path {text!r} is not a weights file (expected a name ending in "
            f"{', '.join(WEIGHT_SUFFIXES)})."
        )
    base = os.path.realpath(root)
    real = os.path.realpath(os.path.join(base, rel))
    if os.path.commonpath([base, real]) != base:
        raise UserError(
            f"weights_path {text!r} is a link to a file outside the project folder; {where}."
        )
    try:
        mode = os.stat(real).st_mode
    except OSError:
        raise UserError(f"weights_path {text!r}: no such file in the project folder.") from None
    if not stat.S_ISREG(mode):
        raise UserError(f"weights_path {text!r} is not a regular file.")
    return Path(real)
