"""The encoder choice in the New-project wizard and Settings (issue 14): per modality the small
built-in encoder (or, for images, the torchvision presets) or a pretrained folder, which shows
what ``inspect_encoder`` finds (architecture, parameters, embedding size, dtype, where it runs)
or its refusal sentence; the choice is written to project.toml's ``[encoders]``."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image
from PySide6.QtWidgets import QMessageBox

from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.data.user_settings import UserSettings
from mmrl_desktop.core.tasks import TaskState
from mmrl_desktop.gui.dialogs.encoder_picker import (
    BUILTIN,
    PRETRAINED,
    EncoderPicker,
    EncodersBox,
    device_text,
)
from mmrl_desktop.gui.dialogs.new_project import MODEL_PRESETS, ModelPage, create_job
from mmrl_desktop.gui.dialogs.settings import SettingsDialog


@pytest.fixture(scope="module")
def vit_folder(tmp_path_factory):
    """A tiny ViT saved like a downloaded one (random weights, ~100 KB, nothing downloaded)."""
    import transformers as tf

    folder = tmp_path_factory.mktemp("models") / "tiny-vit"
    cfg = tf.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                       num_attention_heads=2, intermediate_size=37)  # fmt: skip
    tf.ViTModel(cfg).save_pretrained(folder)
    tf.ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def _pickle_only(folder):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "vit"}))
    (folder / "preprocessor_config.json").write_text("{}")
    (folder / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    return folder


def _source(folder):
    for label, shade in (("circle", 40), ("square", 200)):
        (folder / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (16, 16), shade + i).save(folder / label / f"{i}.png")
    return str(folder)


def test_a_pretrained_folder_shows_what_it_holds_and_where_it_runs(qtbot, vit_folder):
    picker = EncoderPicker("image", device=device_text("cpu"))
    qtbot.addWidget(picker)
    assert picker.combo.currentText() == BUILTIN and picker.is_complete()
    assert picker.folder_path() == "" and picker.folder_row.isHidden()
    picker.set_folder(str(vit_folder))
    assert picker.combo.currentText() == PRETRAINED and not picker.folder_row.isHidden()
    text = picker.note.text()
    for part in ("ViTModel", "parameters", "embedding size 32", "float32", "32 px", "the CPU"):
        assert part in text
    assert picker.is_complete() and picker.folder_path() == str(vit_folder.resolve())
    picker.combo.setCurrentText(BUILTIN)  # back to the built-in: nothing written, nothing shown
    assert picker.folder_path() == "" and picker.note.text() == ""


def test_a_refused_folder_shows_the_sentence_and_is_not_written(qtbot, tmp_path, vit_folder):
    box = EncodersBox()
    qtbot.addWidget(box)
    image, text = box.pickers["image"], box.pickers["text"]
    image.set_folder(str(_pickle_only(tmp_path / "pickled")))
    assert (
        "pickle (pytorch_model.bin)" in image.note.text() and "#c53030" in image.note.styleSheet()
    )
    assert not box.is_complete() and box.table() == {}
    text.set_folder(str(vit_folder))  # an image model where a text one is asked for
    assert "is a image encoder" in text.note.text() or "not a text one" in text.note.text()
    text.folder.setText("")
    assert text.problem == "Choose the model folder."
    image.set_folder(str(vit_folder))
    text.combo.setCurrentText(BUILTIN)
    assert box.is_complete() and box.table() == {"image": str(vit_folder.resolve())}


def test_the_wizard_writes_the_encoders_table(qtbot, tmp_path, vit_folder):
    page = ModelPage()
    qtbot.addWidget(page)
    combo = page.encoders.pickers["image"].combo
    assert [combo.itemText(i) for i in range(combo.count())] == [*MODEL_PRESETS, PRETRAINED]
    assert page.preset is combo  # the torchvision presets stay where they were
    page.encoders.pickers["image"].set_folder(str(vit_folder))
    assert page.isComplete() and not page.needs_weights() and page.model_table() == {}
    tasks = [Task("label", ["circle", "square"])]
    run = create_job(str(tmp_path / "p"), "p", tasks, page.model_table(), "",
                     _source(tmp_path / "src"), None, {}, page.encoders_table())  # fmt: skip
    assert run(TaskState())["imported"] == 6
    assert Project.open(tmp_path / "p").encoders == {"image": str(vit_folder.resolve())}
    page.encoders.pickers["image"].folder.setText(str(tmp_path / "nowhere"))
    assert not page.isComplete()


def test_settings_show_and_save_the_encoders(qtbot, tmp_path, vit_folder, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: None)
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    shutil.copytree(vit_folder, project.root / "models" / "vit")
    project.encoders = {"image": "models/vit", "batch_size": 8}  # relative to the project
    project.save()
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    titles = [dlg.tabs.tabText(i) for i in range(dlg.tabs.count())]
    assert "Encoders" in titles
    image = dlg.encoders.pickers["image"]
    assert image.is_pretrained() and "ViTModel" in image.note.text()
    dlg.encoders.pickers["audio"].set_folder(str(tmp_path / "missing"))
    dlg.accept()  # a refused folder: a sentence, nothing saved
    assert dlg.result() != dlg.DialogCode.Accepted and "Audio encoder" in dlg.problem.text()
    dlg.encoders.pickers["audio"].combo.setCurrentText(BUILTIN)
    dlg.accept()  # unchanged: the relative path and the other settings are kept as written
    assert dlg.result() == dlg.DialogCode.Accepted
    assert Project.open(project.root).encoders == {"image": "models/vit", "batch_size": 8}
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    dlg.encoders.pickers["image"].combo.setCurrentText(BUILTIN)
    dlg.encoders.pickers["text"].set_folder(str(vit_folder))  # an image model for text: refused
    assert not dlg.encoders.pickers["text"].is_complete()
    dlg.encoders.pickers["text"].combo.setCurrentText(BUILTIN)
    dlg.accept()
    assert Project.open(project.root).encoders == {"batch_size": 8}


def test_settings_choose_lora_adapters_and_their_rank(qtbot, tmp_path, vit_folder):
    project = Project.create(tmp_path / "p", tasks=[Task("label", ["a", "b"])])
    project.encoders = {"image": str(vit_folder)}
    project.save()
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    box = dlg.encoders
    assert box.lora.currentText() == "Automatic (on a GPU)" and box.lora_rank.value() == 8
    assert "lora" not in box.table() and "lora_rank" not in box.table()  # automatic: not written
    box.lora.setCurrentText("On")
    box.lora_rank.setValue(16)
    dlg.accept()
    assert dlg.result() == dlg.DialogCode.Accepted
    saved = Project.open(project.root).encoders
    assert saved["lora"] is True and saved["lora_rank"] == 16
    dlg = SettingsDialog(Project.open(project.root), UserSettings())
    qtbot.addWidget(dlg)
    assert dlg.encoders.lora.currentText() == "On" and dlg.encoders.lora_rank.value() == 16
    dlg.encoders.lora.setCurrentText("Off")
    dlg.accept()
    assert Project.open(project.root).encoders["lora"] is False
