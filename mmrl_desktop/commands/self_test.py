"""``mmrl-desktop self-test [--json]``: a headless health check of this installation.

Runs the Qt-free checks of ``mmrl_desktop.core.tools.selftest`` (torch and the device, the default model's
forward/backward pass, a temporary SQLite project, the loaders on the demo samples, the DICOM
codecs), then the two that need libraries the core must not import: audio output (sounddevice;
missing output is a warning) and Qt (PySide6 on the offscreen platform, SVG icons). One line per
check; exit 0 when nothing failed, else 1. The packaged build's CI runs it from the bundle.
"""

from __future__ import annotations

import json
import sys

from mmrl_desktop.core.tools.selftest import (
    FAIL,
    WARN,
    Warn,
    core_checks,
    healthy,
    resources_dir,
    run_checks,
)


def check_audio() -> str | Warn:
    """Playback is optional: no PortAudio or no output device is a warning."""
    try:
        import sounddevice
    except (ImportError, OSError) as err:
        return Warn(f"no playback: sounddevice cannot load PortAudio ({err})")
    try:
        device = sounddevice.query_devices(kind="output")
    except Exception as err:  # PortAudioError when there is no output device
        return Warn(f"no playback: no audio output device ({err})")
    name = device.get("name", "?") if isinstance(device, dict) else str(device)
    return f"sounddevice {sounddevice.__version__}, output: {name}"


def check_qt() -> str:
    """PySide6 imports, a QApplication starts on the offscreen platform, a widget renders and the
    SVG app icon loads (the SVG image plugin is easy to lose in a bundle)."""
    import PySide6
    from PySide6.QtCore import qVersion
    from PySide6.QtGui import QIcon, QImageReader
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication.instance()
    if app is None:
        app = QApplication(["mmrl-desktop", "-platform", "offscreen"])
    platform = app.platformName()
    label = QLabel("self-test")
    label.resize(120, 30)
    if label.grab().isNull():
        raise RuntimeError(f"a widget could not be rendered on the {platform} platform")
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    if "svg" not in formats:
        raise RuntimeError("Qt cannot read SVG images (the imageformats/svg plugin is missing)")
    icon = QIcon(str(resources_dir() / "icons" / "mmrl-desktop.svg"))
    if icon.pixmap(64, 64).isNull():
        raise RuntimeError("the SVG app icon could not be rendered")
    label.deleteLater()
    version = getattr(PySide6, "__version__", "?")
    return f"PySide6 {version}, Qt {qVersion()} (platform {platform}, widgets and SVG icons render)"


def run(args) -> int:
    results = run_checks([*core_checks(), ("audio", check_audio), ("qt", check_qt)])
    ok = healthy(results)
    failed = [r.name for r in results if r.status == FAIL]
    warned = [r.name for r in results if r.status == WARN]
    if getattr(args, "json", False):
        print(json.dumps({"healthy": ok, "checks": [r.to_dict() for r in results]}))
    else:
        for r in results:
            print(r.line())
        if ok:
            extra = f", {len(warned)} warning(s): {', '.join(warned)}" if warned else ""
            print(f"self-test: healthy ({len(results)} checks{extra})")
        else:
            print(f"self-test: {len(failed)} of {len(results)} checks failed: {', '.join(failed)}")
    sys.stdout.flush()
    return 0 if ok else 1
