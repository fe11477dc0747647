"""Light checks of the packaging files (the real bundle is built and run by .ci/run)."""

from __future__ import annotations

import ast
import configparser
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "mmrl-desktop.spec"
DESKTOP = ROOT / "resources" / "mmrl-desktop.desktop"
ISS = ROOT / "packaging" / "windows" / "mmrl-desktop.iss"


def _spec_strings() -> set[str]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_spec_parses_and_builds_onedir_from_main():
    text = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(text)
    calls = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= calls
    assert "exclude_binaries=True" in text  # onedir, not onefile
    strings = _spec_strings()
    assert "__main__.py" in strings and "mmrl_desktop" in strings


def test_spec_excludes_unused_qt_and_heavy_packages():
    strings = _spec_strings()
    qt = {"QtWebEngineCore", "QtQml", "QtQuick", "Qt3DCore", "QtPdf", "QtCharts", "QtMultimedia"}
    qt |= {"QtDataVisualization", "QtBluetooth", "QtNfc", "QtPositioning", "QtSensors"}
    qt |= {"QtSerialPort", "QtTest", "QtDesigner"}
    assert qt <= strings
    assert {"tensorboard", "triton", "matplotlib", "tkinter"} <= strings
    # the Qt modules the app does use are never excluded
    for used in ("QtCore", "QtGui", "QtWidgets", "QtSvg"):
        assert used not in strings


def _spec_list(name: str) -> list[str]:
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == name:
            return [n.value for n in ast.walk(node.value) if isinstance(n, ast.Constant)]
    raise AssertionError(f"{name} not in the spec")


def test_spec_bundles_what_every_offered_export_needs():
    """The bundle writes every format the Export dialog offers (issue 12, point 10)."""
    from mmrl_desktop.core.tools.export_formats import NEEDS

    needed = {m for modules in NEEDS.values() for m in modules}
    assert needed and not needed & set(_spec_list("PY_EXCLUDES"))
    assert needed <= _spec_strings()  # named as hidden imports: export_formats imports by name


def test_spec_collects_what_is_found_at_run_time():
    strings = _spec_strings()
    # pylibjpeg discovers its codecs through entry points: the plugins' metadata must be copied
    assert {"pylibjpeg-openjpeg", "pylibjpeg-rle", "openjpeg", "rle"} <= strings
    assert "digits.csv.gz" in " ".join(strings)  # bench --data digits
    text = SPEC.read_text(encoding="utf-8")
    assert 'collect_submodules("mmrl_desktop")' in text  # cli.py imports commands by name
    # resources/ must land where paths.resources_dir() looks inside a bundle
    assert '(os.path.join(ROOT, "resources"), os.path.join("mmrl_desktop", "resources"))' in text


def test_resources_dir_in_a_bundle(monkeypatch, tmp_path):
    from mmrl_desktop import paths

    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resources_dir() == tmp_path / "mmrl_desktop" / "resources"


def test_build_script_is_executable_and_uses_the_spec():
    script = ROOT / "packaging" / "build.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text(encoding="utf-8")
    assert "mmrl-desktop.spec" in text and "nice -n 19" in text
    assert '--distpath "$here/dist"' in text and '--workpath "$here/build"' in text
    for folder in ("/packaging/build/", "/packaging/dist/"):
        assert folder in (ROOT / ".gitignore").read_text(encoding="utf-8")


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_has_the_required_keys():
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Name"] and entry["Comment"]
    assert entry["Exec"].split()[0] == "mmrl-desktop"
    assert entry["Terminal"] == "false"
    assert entry["Icon"] == "mmrl-desktop"
    assert (ROOT / "resources" / "icons" / "mmrl-desktop-256.png").is_file()
    cats = entry["Categories"]
    assert cats.endswith(";") and {"Science", "MedicalSoftware"} <= set(cats.split(";"))
    for key in entry:
        assert re.fullmatch(r"[A-Za-z0-9-]+(\[[A-Za-z_@.]+\])?", key), key


@pytest.mark.skipif(not shutil.which("desktop-file-validate"), reason="desktop-file-utils absent")
def test_desktop_entry_validates():
    out = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert out.returncode == 0 and not errors, out.stdout


def test_inno_setup_script_packages_the_onedir_folder():
    text = ISS.read_text(encoding="utf-8")
    for section in ("[Setup]", "[Files]", "[Icons]", "[Run]"):
        assert section in text
    assert r'#define BundleDir "..\dist\mmrl-desktop"' in text
    assert "{autoprograms}" in text  # Start-menu shortcut
    assert "UninstallDisplayIcon" in text
    assert (ISS.parent / "mmrl-desktop.ico").is_file()


def test_ci_builds_and_runs_the_bundle_after_the_tests():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    tests_at = ci.index("python -m pytest")
    bundle_at = ci.index("packaging/build.sh")
    assert tests_at < ci.index("lint-imports") < bundle_at
    assert "bundle=packaging/dist/mmrl-desktop/mmrl-desktop" in ci
    assert '"$bundle" self-test' in ci[bundle_at:]
    assert '"$bundle" --project demo --quit-after-paint' in ci[bundle_at:]


@pytest.mark.slow
def test_self_test_command_json():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run(
        [sys.executable, "-m", "mmrl_desktop", "self-test", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    report = json.loads(out.stdout)
    names = [c["name"] for c in report["checks"]]
    assert {"torch", "model", "project", "loaders", "audio", "qt"} <= set(names)
    assert report["healthy"] is (out.returncode == 0), out.stdout
    assert out.returncode == 0, out.stdout + out.stderr


# ------------------------------------------------------------- metadata (issue 13, 7 and 8)


def _pyproject() -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ (]", requirement, maxsplit=1)[0].strip().lower()


def test_console_script_for_the_command_line_and_gui_script_for_the_window():
    """A pip install on Windows: `mmrl-desktop import …` prints (a console program), and
    `mmrl-desktop-gui` starts the window with no console behind it, as the bundle's two
    launchers do (mmrl-desktop-cli.exe and mmrl-desktop.exe)."""
    project = _pyproject()["project"]
    scripts, gui = project["scripts"], project["gui-scripts"]
    entry = "mmrl_desktop.__main__:main"
    assert scripts == {"mmrl-desktop": entry, "mmrl-desktop-cli": entry}
    assert gui == {"mmrl-desktop-gui": entry}
    assert "mmrl-desktop-cli" in _spec_strings()  # the bundle's console launcher has that name


def test_every_package_is_listed_for_a_wheel():
    """``[tool.setuptools] packages`` names each package by hand: one left out is missing from a
    wheel or a plain ``pip install .`` while the editable install and the bundle still find it
    (``core.data.volumes`` was, which ``core/labelling/prefetch.py`` imports)."""
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for p in (ROOT / "mmrl_desktop").rglob("__init__.py")
    }
    assert found - listed == set()
    assert listed - found == {"mmrl_desktop.resources"}  # resources/, mapped by package-dir


def test_dependencies_declare_what_the_code_needs():
    deps = {_name(d): d for d in _pyproject()["project"]["dependencies"]}
    assert re.search(r"pydicom>=3", deps["pydicom"])  # pydicom.pixels, pixel_array_options
    assert "scipy" in deps  # algorithms/default.py: scipy.sparse
    assert "python-gdcm" in deps  # JPEG Lossless and JPEG-LS DICOM
    extras = re.search(r"\[(.*)\]", deps["pylibjpeg"]).group(1).replace(" ", "").split(",")
    assert "pylibjpeg-libjpeg" not in deps and "libjpeg" not in extras  # GPL-3


def _installed_closure() -> dict[str, object]:
    """The installed distributions that mmrl-desktop's dependencies pull in, with the extras
    it asks for (pylibjpeg[openjpeg,rle])."""
    from importlib import metadata

    from packaging.requirements import Requirement

    seen: dict[str, object] = {}
    todo = [Requirement("mmrl-desktop")]
    while todo:
        req = todo.pop()
        key = re.sub(r"[-_.]+", "-", req.name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # an environment marker that does not apply here (tomli on 3.11)
        seen[key] = dist
        for text in dist.requires or []:
            sub = Requirement(text)
            env = [{"extra": e} for e in (req.extras or {""})]
            if sub.marker is None or any(sub.marker.evaluate(e) for e in env):
                todo.append(sub)
    return seen


def _copyleft(dist) -> bool:
    """GPL (not LGPL) with no permissive or LGPL alternative."""
    md = dist.metadata
    expression = md.get("License-Expression")
    if expression:
        choices = re.split(r"\s+OR\s+", expression.strip("() "))
        return all("GPL" in c.upper() and "LGPL" not in c.upper() for c in choices)
    classifiers = [c for c in md.get_all("Classifier") or [] if c.startswith("License ::")]
    return bool(classifiers) and all(
        "GNU General Public License" in c or "GNU Affero" in c for c in classifiers
    )


def test_no_gpl_package_in_the_default_install():
    closure = _installed_closure()
    assert {"pydicom", "python-gdcm", "pylibjpeg-openjpeg", "pylibjpeg-rle"} <= set(closure)
    assert not [name for name, dist in closure.items() if _copyleft(dist)]
    assert "pylibjpeg-libjpeg" not in closure


def test_the_linters_ci_runs_are_pinned_in_one_place():
    test_extra = {_name(d): d for d in _pyproject()["project"]["optional-dependencies"]["test"]}
    assert re.fullmatch(r"ruff==[\d.]+", test_extra["ruff"])
    assert re.fullmatch(r"import-linter==[\d.]+", test_extra["import-linter"])
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    lint = ci[ci.index('echo "== lint"') : ci.index("ruff check")]
    assert 'grep -o \'"ruff==[^"]*"\' pyproject.toml' in lint and "ruff>=" not in lint
    pinned = subprocess.run(
        ["bash", "-c", "grep -o '\"ruff==[^\"]*\"' pyproject.toml | tr -d '\"'"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert pinned == test_extra["ruff"]


def test_the_version_is_written_once():
    from importlib.metadata import version

    import mmrl_desktop

    written = _pyproject()["project"]["version"]
    assert mmrl_desktop.__version__ == version("mmrl-desktop") == written
    quoted = re.compile(r"[\"']" + re.escape(written) + r"[\"']")
    files = [*(ROOT / "mmrl_desktop").rglob("*.py"), SPEC, ISS, *(ROOT / "packaging").rglob("*.sh")]
    assert not [str(p) for p in files if quoted.search(p.read_text(encoding="utf-8"))]
    assert 'APP_VERSION = version("mmrl-desktop")' in SPEC.read_text(encoding="utf-8")
    # read without importlib.metadata, whose imports cost 30-90 ms before the first paint
    probe = "import sys, mmrl_desktop; print(mmrl_desktop.__version__, 'importlib.metadata' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.split() == [written, "False"], out.stderr
    assert "mmrl-desktop-version.txt" in ISS.read_text(encoding="utf-8")


def test_spec_bundles_the_gdcm_decoder():
    strings = _spec_strings()
    assert {"pydicom.pixels.decoders.gdcm", "gdcm", "_gdcm", "_gdcm.gdcmswig"} <= strings
    assert "triton" in strings and "gdcm" not in _spec_list("PY_EXCLUDES")


def test_ci_checks_the_bundles_log_version_and_dicom_codecs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    after = ci[ci.index("packaging/build.sh") :]
    assert 'XDG_STATE_HOME="$bundle_home/state"' in after  # the logs stay in the scratch home
    assert '"$bundle" --version' in after and "self-test: exit 0" in after
    assert "MR_small_jpeg_ls_lossless.dcm" in after and "SC_rgb_jpeg_gdcm.dcm" in after
    assert "r['imported'] == 2 and not r['skipped']" in after
