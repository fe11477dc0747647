"""The core never imports Qt, pyqtgraph or sounddevice — checked two ways."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mmrl_desktop

CORE = Path(mmrl_desktop.__file__).parent / "core"
FORBIDDEN = ("PySide6", "pyqtgraph", "sounddevice", "mmrl_desktop.gui")


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_core_sources_import_no_qt():
    offenders = [
        f"{path.relative_to(CORE.parent)} imports {name}"
        for path in sorted(CORE.rglob("*.py"))
        for name in _imports(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert offenders == []


def test_importing_the_core_loads_no_qt():
    """Import every core module in a fresh interpreter and check no Qt module got loaded."""
    modules = sorted(
        "mmrl_desktop." + ".".join(p.relative_to(CORE.parent).with_suffix("").parts)
        for p in CORE.rglob("*.py")
        if p.name != "__init__.py"
    )
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN[:3]!r}]\n"
        "print(bad); sys.exit(1 if bad else 0)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


LINT_IMPORTS = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
    "lint-imports"
)


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed")
def test_import_linter_contract():
    root = CORE.parent.parent
    run = subprocess.run([LINT_IMPORTS], cwd=root, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
