"""The demo reads its own copy of the demo files, and a demo whose files have gone (made by an
installation since moved, upgraded or removed) is re-pointed to a fresh copy, its answers kept
(``core/data/demo.py``, ``core/data/relocation.py``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mmrl_desktop.core.data import demo
from mmrl_desktop.core.data.importer import import_source
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.loaders.base import item_file
from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.data.store import FeedbackStore
from mmrl_desktop.paths import resources_dir


def _files(project: Project) -> list[str]:
    with project.open_store() as store:
        items = store.items(with_excluded=True)
    return [p for it in items for p in (it.image, it.audio, it.text) if p]


def _state(project: Project):
    """Everything a repair must keep: ids, labels and splits, and the event log."""
    with project.open_store() as store:
        items = sorted((it.item_id, it.labels, it.split) for it in store.items(with_excluded=True))
        events = [(e.item_id, e.shown_label, e.reward) for e in store.all_events()]
    return items, events


def _old_style_demo(tmp_path: Path) -> Path:
    """A demo as installations made it before it had its own copy: its items point into the
    installation's resources (here a copy of them, at ``tmp_path / "old"``), with two answers."""
    old = tmp_path / "old" / "resources" / "demo"
    shutil.copytree(resources_dir() / "demo", old)
    project = Project.create(demo.demo_dir(), name="old demo")
    import_source(old / "items.csv", project, task=demo.DEMO_TASK, holdout=0.0)
    demo.assign_holdout(project, demo.DEMO_HOLDOUT, seed=0)
    with project.open_store() as store:
        store.record_feedback("digit3_01", demo.DEMO_TASK, "3", 0.5, 1)
        store.record_feedback("spoken2_1", demo.DEMO_TASK, "5", 0.5, -1, corrected_label="2")
    assert all(p.startswith(str(old)) for p in _files(project))
    return old


def test_a_new_demo_reads_its_own_copy_of_the_demo_files(tmp_path):
    project = demo.create_demo(tmp_path / "demo")
    data = tmp_path / "demo-data"
    files = _files(project)
    assert len(files) > 150 and all(p.startswith(str(data) + os.sep) for p in files)
    assert all(os.path.isfile(p) for p in files)
    assert project.source == str(data / "items.csv")
    assert not (data / "dicom").exists() and not (data / "make_demo.py").exists()
    assert demo.repair_demo(project) == 0  # nothing gone: nothing changes


def test_a_demo_whose_files_have_gone_is_repointed_with_its_answers_kept(tmp_path):
    old = _old_style_demo(tmp_path)
    before = _state(Project.open(demo.demo_dir()))
    shutil.rmtree(tmp_path / "old")  # the installation that made it is gone

    project = demo.resolve_project("demo")
    data = demo.demo_data_dir()
    files = _files(project)
    assert files and all(p.startswith(str(data) + os.sep) for p in files)
    assert all(os.path.isfile(p) for p in files)
    assert _state(project) == before  # the same items, splits and answers
    assert Project.open(demo.demo_dir()).source == str(data / "items.csv")
    with project.open_store() as store:
        item = store.item("digit3_01")
        (entry,) = [d for _, action, d in store.audit_log() if action == "relocate"]
    assert item_file(item, "image").startswith(str(data))  # inside its recorded folder
    assert entry["old_root"] == os.path.realpath(old) and entry["items"] == len(before[0])
    assert demo.repair_demo(project) == 0  # once is enough


def test_the_demo_opened_as_the_last_project_is_repaired_too(tmp_path):
    _old_style_demo(tmp_path)
    shutil.rmtree(tmp_path / "old")

    class Settings:
        last_project = str(demo.demo_dir())

    project = demo.resolve_project(None, Settings())
    assert all(os.path.isfile(p) for p in _files(project))


def test_relocating_moves_only_the_items_under_the_old_folder(tmp_path):
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    a, ab, other = tmp_path / "a", tmp_path / "ab", tmp_path / "other"
    store.add_items([
        Item("in", image=str(a / "x.png"), audio=str(a / "s" / "x.wav"),
             info={"source_root": str(a)}),
        Item("prefix", image=str(ab / "y.png"), info={"source_root": str(ab)}),
        Item("elsewhere", text=str(other / "t.txt"), text_inline=None),
        Item("inline", text_inline="some words"),
    ])  # fmt: skip
    assert store.relocate_items(str(a), str(tmp_path / "b")) == 1
    moved = store.item("in")
    assert moved.image == str(tmp_path / "b" / "x.png")
    assert moved.audio == str(tmp_path / "b" / "s" / "x.wav")
    assert moved.info["source_root"] == str(tmp_path / "b")
    assert store.item("prefix").image == str(ab / "y.png")  # "ab" is not inside "a"
    assert store.item("elsewhere").text == str(other / "t.txt")
    assert store.item("inline").text_inline == "some words"
    assert store.relocate_items(str(a), str(tmp_path / "b")) == 0
    store.close()
