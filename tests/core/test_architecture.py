"""The core never imports Qt, pyqtgraph or sounddevice — checked two ways; no module of the
package takes part in an import cycle; the import-linter contracts (layers, ADR 0012) hold."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
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


def _cycles(graph) -> list[str]:
    """Every import that closes a cycle, as ``a -> b -> … -> a``. An import inside a function or
    under ``TYPE_CHECKING`` counts like any other: a lazy import hides a cycle, it does not
    break it."""
    found = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back:
                found.add(" -> ".join((module, *back)))
    return sorted(found)


def test_no_import_cycles():
    """No two modules of mmrl_desktop import each other, directly or through others (a package's
    ``__init__`` counts as a module of its own: it may import its submodules, not be imported by
    them). ADR 0012."""
    cycles = _cycles(grimp.build_graph("mmrl_desktop", cache_dir=None))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_check_sees_lazy_and_type_checking_imports(tmp_path, monkeypatch):
    """The check itself: a cycle closed only by an import inside a function, or only under
    ``TYPE_CHECKING``, is found."""
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("def f():\n    from cyclepkg import c\n")
    (pkg / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cyclepkg import a\n"
    )
    (pkg / "d.py").write_text("from cyclepkg import a\n")  # imports into the cycle: not in it
    monkeypatch.syspath_prepend(str(tmp_path))
    cycles = _cycles(grimp.build_graph("cyclepkg", cache_dir=None))
    assert cycles == [
        "cyclepkg.a -> cyclepkg.b -> cyclepkg.c -> cyclepkg.a",
        "cyclepkg.b -> cyclepkg.c -> cyclepkg.a -> cyclepkg.b",
        "cyclepkg.c -> cyclepkg.a -> cyclepkg.b -> cyclepkg.c",
    ]


def test_the_layers_contracts_are_declared():
    """ADR 0012: the layers the contracts keep (``test_import_linter_contract`` checks they hold)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    config = tomllib.loads((CORE.parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    layers = {tuple(c["containers"]): c for c in contracts if c["type"] == "layers"}
    core = layers[("mmrl_desktop.core",)]
    assert core["exhaustive"] is True
    assert core["layers"] == ["tools", "evaluation", "learning | labelling", "data"]
    assert layers[("mmrl_desktop.gui",)]["layers"][2:4] == ["main_window", "app"]
    [roots] = [c for c in contracts if "mmrl_desktop.core.config" in c.get("source_modules", ())]
    assert set(roots["forbidden_modules"]) == {
        f"mmrl_desktop.core.{layer}"
        for layer in ("data", "labelling", "learning", "evaluation", "tools")
    }
