"""``mmrl-desktop relocate``: a project whose files moved to another folder follows them, its
answers kept; a folder that does not hold them is refused with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.loaders import SOURCE_ROOT
from mmrl_desktop.core.data.project import Project
from tests.core.enginefixtures import answer, make_pngs


def _imported(tmp_path, *extra: str) -> tuple[Path, Path]:
    src = make_pngs(tmp_path / "cases", per_class=4)
    root = tmp_path / "project"
    assert main(["import", str(src), "--project", str(root), *extra]) == 0
    return src, root


def _state(root: Path):
    project = Project.open(root)
    with project.open_store() as store:
        items = store.items(with_excluded=True)
        events = [(e.event_id, e.item_id) for e in store.all_events()]
        log = store.audit_log()
    return project, items, events, log


def test_a_moved_folder_is_followed_and_the_answers_kept(tmp_path, capsys):
    src, root = _imported(tmp_path)
    answer(Project.open(root), 3)
    _, before, events, _ = _state(root)
    moved = tmp_path / "other disk" / "cases"
    moved.parent.mkdir()
    shutil.move(str(src), str(moved))
    assert not any(Path(it.image).is_file() for it in before)
    capsys.readouterr()

    assert main(["relocate", "--project", str(root), "--to", str(moved), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["from"] == str(src.resolve()) and out["to"] == str(moved.resolve())
    assert out["items"] == len(before) == 8 and out["missing_files"] == 0

    project, after, events_after, log = _state(root)
    assert [it.item_id for it in after] == [it.item_id for it in before]
    assert [it.labels for it in after] == [it.labels for it in before]
    assert all(Path(it.image).is_file() for it in after)
    assert all(it.info[SOURCE_ROOT] == str(moved.resolve()) for it in after)
    assert events_after == events and len(events) == 3
    assert log[-1][1] == "relocate"
    assert str(moved.resolve()) in str(project.source)


def test_a_folder_without_the_files_is_refused_and_nothing_changes(tmp_path, capsys):
    src, root = _imported(tmp_path)
    shutil.move(str(src), str(tmp_path / "elsewhere"))
    (tmp_path / "empty").mkdir()
    _, before, _, log = _state(root)
    capsys.readouterr()
    assert main(["relocate", "--project", str(root), "--to", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "holds none of this project's files" in err and "Traceback" not in err
    _, after, _, log_after = _state(root)
    assert [it.image for it in after] == [it.image for it in before] and log_after == log
    assert main(["relocate", "--project", str(root), "--to", str(tmp_path / "nowhere")]) == 2
    assert "there is no folder at" in capsys.readouterr().err


def test_while_the_old_folder_is_there_it_has_to_be_named(tmp_path, capsys):
    src, root = _imported(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(src, copy)
    capsys.readouterr()
    assert main(["relocate", "--project", str(root), "--to", str(copy)]) == 2
    assert "still there" in capsys.readouterr().err
    assert (
        main(["relocate", "--project", str(root), "--to", str(copy), "--from", str(tmp_path)]) == 2
    )
    assert "no item of this project was imported from" in capsys.readouterr().err
    args = ["relocate", "--project", str(root), "--to", str(copy), "--from", str(src)]
    assert main(args) == 0
    assert "8 items now read their files from" in capsys.readouterr().out
    _, after, _, _ = _state(root)
    assert all(str(copy.resolve()) in it.image for it in after)


def test_train_simulate_and_evaluate_say_how_to_follow_a_moved_folder(tmp_path, capsys):
    src, root = _imported(tmp_path, "--holdout", "0.25")
    moved = tmp_path / "moved"
    shutil.move(str(src), str(moved))
    capsys.readouterr()
    for command in ("evaluate", "simulate", "train"):
        args = [command, "--project", str(root)] + (["--steps", "1"] if command == "train" else [])
        main(args)  # every file is gone: nothing to do, one sentence (exit 2) or a warning
        err = capsys.readouterr().err
        assert f"{src.resolve()}, a folder this project's files were imported from, is gone" in err
        assert f"mmrl-desktop relocate --project {root} --to NEW_FOLDER" in err
        assert "Traceback" not in err
    assert main(["relocate", "--project", str(root), "--to", str(moved)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--project", str(root)]) == 0
    assert "warning" not in capsys.readouterr().err
