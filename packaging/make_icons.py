"""Render resources/icons/mmrl-desktop.svg into the Windows .ico and the macOS .icns.

    QT_QPA_PLATFORM=offscreen python packaging/make_icons.py

Writes packaging/windows/mmrl-desktop.ico (16-256 px) and packaging/macos/mmrl-desktop.icns
(16-1024 px). Both are committed, so a build does not need this step; run it after the SVG changes.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "icons" / "mmrl-desktop.svg"


def render(size: int):
    from PIL import Image
    from PySide6.QtCore import QBuffer, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    image = QImage(size, size, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    QSvgRenderer(str(SVG)).render(painter)
    painter.end()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buf, "PNG")
    return Image.open(io.BytesIO(bytes(buf.data()))).convert("RGBA")


def main() -> int:
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication(sys.argv[:1] + ["-platform", "offscreen"])
    big = render(1024)
    ico = ROOT / "packaging" / "windows" / "mmrl-desktop.ico"
    sizes = [16, 24, 32, 48, 64, 128, 256]
    render(256).save(ico, sizes=[(s, s) for s in sizes])
    icns = ROOT / "packaging" / "macos" / "mmrl-desktop.icns"
    big.save(icns)
    print(f"wrote {ico} and {icns}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
