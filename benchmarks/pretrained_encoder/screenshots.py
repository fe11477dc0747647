"""Screenshots of the encoder choice (issue 14), offscreen: the New-project wizard's Model page
and the Settings dialog's Encoders tab, with an image encoder folder accepted and a text folder
refused (weights only in a pickle).

    QT_QPA_PLATFORM=offscreen python -m benchmarks.pretrained_encoder.screenshots \
        --image-encoder ~/.cache/mmrl-pretrained-encoder/vit-base-random --out docs/screenshots
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path


def _pickled(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "vocab.txt").write_text("[PAD]\n[UNK]\n")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04")
    return folder


def _settle(app) -> None:
    """Let the layouts settle (word-wrapped labels take their height a few passes later)."""
    from PySide6.QtCore import QEventLoop, QTimer

    for _ in range(5):
        app.processEvents()
        loop = QEventLoop()
        QTimer.singleShot(50, loop.quit)
        loop.exec()


def main(argv=None) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-encoder", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from mmrl_desktop.core.data.project import Project, Task
    from mmrl_desktop.core.data.user_settings import UserSettings
    from mmrl_desktop.gui.dialogs.new_project import NewProjectWizard
    from mmrl_desktop.gui.dialogs.settings import SettingsDialog

    app = QApplication.instance() or QApplication([])
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        bert = _pickled(Path(tmp) / "clinical-bert")
        wiz = NewProjectWizard()
        page = wiz.model_page
        wiz.setStartId(wiz.pageIds()[3])  # the Model page, as after Next, Next, Next
        wiz.restart()
        page.encoders.pickers["image"].set_folder(str(args.image_encoder))
        page.encoders.pickers["text"].set_folder(str(bert))
        wiz.show()
        _settle(app)
        wiz.grab().save(str(args.out / "wizard_encoders.png"))
        project = Project.create(Path(tmp) / "p", tasks=[Task("label", ["normal", "tumour"])])
        project.encoders = {"image": str(args.image_encoder)}
        dlg = SettingsDialog(project, UserSettings())
        dlg.encoders.pickers["text"].set_folder(str(bert))
        dlg.tabs.setCurrentIndex(dlg.tabs.count() - 1)
        dlg.show()
        _settle(app)
        dlg.grab().save(str(args.out / "settings_encoders.png"))
    print(args.out / "wizard_encoders.png", args.out / "settings_encoders.png")


if __name__ == "__main__":
    main()
