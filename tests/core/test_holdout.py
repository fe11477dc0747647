"""Hold-out at import (issue 12.1): stratified, a pool minimum per label, deterministic by item id,
stable on re-import, ``--holdout 0``, a manifest's split column; and the import reasons of issue
12.14 (an empty text file is skipped; a truncated PNG has one reason wherever it is cut)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from mmrl_desktop.cli import main
from mmrl_desktop.core.data.holdout import MIN_POOL, choose_holdout, holdout_count
from mmrl_desktop.core.data.importer import import_source
from mmrl_desktop.core.data.loaders import UnreadableFile, check_file
from mmrl_desktop.core.data.project import DEFAULT_TASK, Project
from tests.core.badcorpus import png_bytes

SIZES = {"a": 15, "b": 10, "c": 3, "d": 4, "e": 1}


def _texts(root, sizes=SIZES, start: int = 0):
    """A folder of classes of small text items (fast to check)."""
    for label, n in sizes.items():
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(start, start + n):
            (root / label / f"{label}{i}.txt").write_text(f"note {i} about {label}\n")
    return root


def _splits(project: Project) -> dict[str, str]:
    with project.open_store() as store:
        return {it.item_id: it.split for it in store.items(with_excluded=True)}


def _held_per_label(splits: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item_id, split in splits.items():
        label = item_id.split("/")[0]
        out[label] = out.get(label, 0) + (split == "holdout")
    return out


def test_holdout_count_rule():
    assert [holdout_count(n, 0.2) for n in range(0, 5)] == [0, 0, 0, 0, 1]
    assert holdout_count(5, 0.2) == 1 and holdout_count(15, 0.2) == 3
    assert holdout_count(10, 0.25) == 3  # 2.5 rounds half up
    assert holdout_count(6, 0.9) == 6 - MIN_POOL  # the pool keeps MIN_POOL items
    assert holdout_count(1000, 0.0) == 0


def test_default_import_holds_out_a_stratified_fifth(tmp_path):
    project = Project.create(tmp_path / "p")
    result = import_source(_texts(tmp_path / "src"), project)
    held = _held_per_label(_splits(project))
    assert held == {"a": 3, "b": 2, "c": 0, "d": 1, "e": 0}
    assert result.holdout == held and result.holdout_fraction == 0.2
    for label, n in SIZES.items():
        assert n - held[label] >= min(n, MIN_POOL)
    assert result.to_json()["holdout"] == held


def test_split_is_deterministic_and_stable_when_files_are_added(tmp_path):
    src = _texts(tmp_path / "src")
    one, two = Project.create(tmp_path / "one"), Project.create(tmp_path / "two")
    import_source(src, one)
    import_source(src, two)
    first = _splits(one)
    assert first == _splits(two)  # same folder, same split
    import_source(src, Project.open(one.root))
    assert _splits(one) == first  # re-import changes nothing
    _texts(src, {"a": 10, "c": 2}, start=100)  # more files later
    result = import_source(src, Project.open(one.root))
    after = _splits(one)
    assert {i: after[i] for i in first} == first  # nothing already there moved
    held = _held_per_label(after)
    assert held["a"] == holdout_count(25, 0.2) == 5  # two of the ten new ones
    assert held["c"] == holdout_count(5, 0.2) == 1  # the class grew past the pool minimum
    assert result.imported == 12 and result.holdout["a"] == 5


def test_answered_items_never_move_to_the_holdout(tmp_path):
    src = _texts(tmp_path / "src", {"a": 10, "b": 10})
    project = Project.create(tmp_path / "p")
    import_source(src, project, holdout=0.0)
    with project.open_store() as store:
        store.record_feedback("a/a1", DEFAULT_TASK, "a", 0.5, 1)
    import_source(src, Project.open(project.root), holdout=0.5)  # existing items keep theirs
    assert set(_splits(project).values()) == {"pool"}
    new = [(f"x{i}", "a") for i in range(10)]
    chosen = choose_holdout(new, fraction=0.5, answered=["x0", "x1", "x2"])
    assert len(chosen) == 5 and not chosen & {"x0", "x1", "x2"}


def test_holdout_zero_and_unlabelled_items_stay_in_the_pool(tmp_path):
    project = Project.create(tmp_path / "p")
    result = import_source(_texts(tmp_path / "src"), project, holdout=0.0)
    assert set(_splits(project).values()) == {"pool"}
    assert result.holdout == dict.fromkeys(SIZES, 0)
    m = tmp_path / "m"
    m.mkdir()
    (m / "items.csv").write_text(
        "id,text,label\n" + "".join(f"u{i},note {i},\n" for i in range(20))
    )
    result = import_source(m, Project.create(tmp_path / "q"))
    assert set(_splits(Project.open(tmp_path / "q")).values()) == {"pool"}
    assert result.unlabelled == 20 and result.holdout == {}


def test_manifest_split_column_is_respected(tmp_path):
    m = tmp_path / "m"
    m.mkdir()
    rows = [
        f"r{i},note {i},{'cat' if i % 2 else 'dog'},{'test' if i < 3 else ''}" for i in range(10)
    ]
    rows += ["u1,unlabelled note,,holdout", "w1,weird,cat,validation"]
    (m / "items.csv").write_text("id,text,label,split\n" + "\n".join(rows) + "\n")
    project = Project.create(tmp_path / "p")
    result = import_source(m, project)
    splits = _splits(project)
    assert {i for i, s in splits.items() if s == "holdout"} == {"r0", "r1", "r2"}
    assert splits["u1"] == "pool" and "no label" in " ".join(result.warnings)
    assert "w1" not in splits
    assert [s.reason for s in result.skipped] == ["split 'validation' is neither pool nor holdout"]
    assert result.holdout == {"cat": 1, "dog": 2} and result.holdout_fraction is None
    # a split column with every cell empty decides nothing: the default rule applies
    (m / "items.csv").write_text(
        "id,text,label,split\n" + "".join(f"r{i},note {i},cat,\n" for i in range(10))
    )
    result = import_source(m, Project.create(tmp_path / "q"))
    assert result.holdout == {"cat": 2}


def test_cli_import_holdout_default_zero_and_bad_values(tmp_path, capsys):
    src = _texts(tmp_path / "src", {"a": 10, "b": 5})
    assert main(["import", str(src), "--project", str(tmp_path / "p"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["holdout"] == {"a": 2, "b": 1} and data["holdout_fraction"] == 0.2
    assert main(["import", str(src), "--project", str(tmp_path / "z"), "--holdout", "0"]) == 0
    out = capsys.readouterr().out
    assert "Hold-out: none (--holdout 0)." in out
    assert set(_splits(Project.open(tmp_path / "z")).values()) == {"pool"}
    assert main(["import", str(src), "--project", str(tmp_path / "h"), "--holdout", "0.5"]) == 0
    assert "Hold-out: 7 items kept out" in capsys.readouterr().out  # a: 5, b: 5 - 3 = 2
    for bad in ("1", "-0.1", "x"):
        with pytest.raises(SystemExit) as exc:
            main(["import", str(src), "--project", str(tmp_path / "n"), "--holdout", bad])
        assert exc.value.code == 2
    with pytest.raises(SystemExit):  # bench keeps its own rule: strictly between 0 and 1
        main(["bench", "--data", "digits", "--holdout", "0"])
    assert not (tmp_path / "n").exists()


# ------------------------------------------------------------------ issue 12.14: import reasons
def test_empty_text_file_is_skipped_with_a_reason(tmp_path):
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "empty.txt").write_bytes(b"")
    (src / "a" / "blank.txt").write_text("  \n\t\n")
    (src / "a" / "bom.txt").write_bytes(b"\xef\xbb\xbf\n")
    (src / "a" / "case.png").write_bytes(png_bytes())
    (src / "a" / "case.txt").write_text("\n")
    (src / "a" / "note.txt").write_text("a real note\n")
    project = Project.create(tmp_path / "p")
    result = import_source(src, project)
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons == {
        f"a/{n}.txt": "text file is empty" for n in ("empty", "blank", "bom", "case")
    }
    with project.open_store() as store:
        items = {it.item_id: it for it in store.items()}
    assert set(items) == {"a/case", "a/note"}
    assert items["a/case"].image and items["a/case"].text is None  # the text slot is dropped
    m = tmp_path / "m"
    m.mkdir()
    (m / "empty.txt").write_text(" ")
    (m / "items.csv").write_text("id,text,label\nm1,empty.txt,a\nm2,   ,a\nm3,fine,a\n")
    result = import_source(m, Project.create(tmp_path / "q"))
    assert {(s.path, s.reason) for s in result.skipped} == {
        ("empty.txt", "text file is empty"),
        ("items.csv:3", "row has no image, audio or text"),
    }
    assert result.items == 1


def _png(size=(64, 64)) -> bytes:
    buf = io.BytesIO()
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((*size, 3)) * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("cut", [9, 20, 30, 33, 40, 45, 100, 0.5, -13, -12, -5, -1])
def test_a_truncated_png_is_truncated_wherever_it_is_cut(tmp_path, cut):
    data = _png()
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    path = tmp_path / "cut.png"
    path.write_bytes(data[:n])
    with pytest.raises(UnreadableFile, match="^image is truncated$"):
        check_file(str(path), "image")


def test_png_signature_before_garbage_is_a_broken_header_not_truncated(tmp_path):
    path = tmp_path / "junk.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(UnreadableFile, match="image header is broken"):
        check_file(str(path), "image")
    path.write_bytes(b"GIF? no, plain text")
    with pytest.raises(UnreadableFile, match="not an image file"):
        check_file(str(path), "image")


def test_demo_keeps_its_own_holdout(tmp_path):
    """The demo's 30 % (``demo.assign_holdout``) is not stacked on the import default."""
    from mmrl_desktop.core.data.demo import DEMO_HOLDOUT, DEMO_TASK, assign_holdout, create_demo
    from mmrl_desktop.paths import resources_dir

    demo = create_demo(tmp_path / "demo")
    ref = Project.create(tmp_path / "ref")
    import_source(resources_dir() / "demo" / "items.csv", ref, task=DEMO_TASK, holdout=0.0)
    assign_holdout(ref, DEMO_HOLDOUT, seed=0)
    assert _splits(demo) == _splits(ref)
    assert sum(s == "holdout" for s in _splits(demo).values()) == 60  # 6 of each digit's 21
