"""The own-folder benchmark suite (benchmarks/own_folders): the generators write the layout a user
brings, the anchors see the app's own order and split, the anchor code runs, the report's goal
checks say yes/NO correctly. Tiny sizes: the whole file runs in seconds."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.own_folders import anchors, datasets, images, protocol, report, run, sound, texts

IMAGE_SETS = ("shapes", "glyphs", "textures")


def _classes(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", [*IMAGE_SETS, "texts", "words"])
def test_generator_writes_class_folders_of_readable_files(tmp_path, name):
    if name == "words" and shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: the spoken-word set is skipped by design")
    ds = datasets.SETS[name]
    info = ds.writer(tmp_path, 2, 0)
    classes = _classes(tmp_path)
    assert len(classes) == info["classes"] >= 3
    assert info["items"] == 2 * len(classes)
    for cls in classes:
        files = sorted(cls.iterdir())
        assert len(files) == 2
        assert all(f.name.startswith(cls.name + "_") for f in files)
        for f in files:
            if ds.modality == "image":
                with Image.open(f) as img:
                    assert img.size == (64, 64)
                    assert np.asarray(img).std() > 5  # not a blank image
            elif ds.modality == "text":
                assert len(f.read_text().split()) >= 3
            else:
                import soundfile as sf

                wav, sr = sf.read(f)
                assert sr == 16000 and wav.ndim == 1 and len(wav) == 16000
                assert np.abs(wav).max() > 0.05


def test_generators_are_deterministic_from_the_seed(tmp_path):
    for seed, sub in ((0, "a"), (0, "b"), (1, "c")):
        images.write_shapes(tmp_path / sub, 1, seed)
    a, b, c = (np.asarray(Image.open(tmp_path / s / "circle/circle_0000.png")) for s in "abc")
    assert (a == b).all() and not (a == c).all()


@pytest.mark.parametrize(
    ("name", "full"),
    [("shapes2", images.SHAPES), ("textures2", images.TEXTURES),
     ("words4", sound.WORDS), ("words2", sound.WORDS)],
)  # fmt: skip
def test_few_label_sets_write_the_first_classes_of_their_set(tmp_path, name, full):
    if name.startswith("words") and shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed: the spoken-word sets are skipped by design")
    k = int(name[-1])
    info = datasets.SETS[name].writer(tmp_path, 2, 0)
    assert {key: info[key] for key in ("classes", "items")} == {"classes": k, "items": 2 * k}
    assert [p.name for p in _classes(tmp_path)] == sorted(full[:k])
    assert all(len(list(p.iterdir())) == 2 for p in _classes(tmp_path))
    assert datasets.SETS[name].per_class * k * 0.7 >= 300  # 300 answers beside a 30 % hold-out


def test_glyphs_use_only_fonts_that_draw_distinct_letters():
    fonts = images.system_fonts()
    if not fonts:
        pytest.skip("fontconfig lists no fonts here (the glyph set then uses Pillow's own font)")
    good = images.latin_fonts(fonts)
    assert good
    assert set(good) <= set(fonts)
    symbol = [f for f in fonts if "Music" in f or "Symbol" in f or "Dingbat" in f]
    assert not set(symbol) & set(good)


def test_glyphs_without_system_fonts_use_pillows_font(tmp_path):
    img = images.glyph_image("a", None, np.random.default_rng(0))
    assert img.size == (64, 64) and np.asarray(img).std() > 5


def test_digits_match_the_bench_digits_layout(tmp_path):
    info = images.write_digits(tmp_path, per_class=3)
    assert info == {"classes": 10, "items": 30}
    with Image.open(tmp_path / "0" / "0_0000.png") as img:
        assert img.size == (8, 8) and img.mode == "L"


def test_item_order_and_split_are_the_apps(tmp_path):
    """The anchors must see the app's items in the app's order and split, or they would train on
    other items than the app's bench answers."""
    from mmrl_desktop.core.data.importer import scan_folder
    from mmrl_desktop.core.tools import bench

    texts.write_texts(tmp_path, 12, 0)
    # names natural order and plain sorting disagree about
    for i, cls in enumerate(_classes(tmp_path)):
        (cls / f"{cls.name}_{i}x.txt").write_text("extra words here\n")
        (cls / f"{cls.name}_{i}x10.txt").write_text("more words here\n")
    ours = protocol.folder_items(tmp_path, "text")
    theirs = scan_folder(str(tmp_path)).items
    assert [e.item_id for e in ours] == [it.item_id for it, _ in theirs]
    assert [e.label for e in ours] == [lab for _, lab in theirs]
    labels = [e.label for e in ours]
    for seed in (0, 3):
        assert protocol.stratified_split(labels, 0.3, seed) == bench.stratified_split(
            labels, 0.3, seed
        )


def test_answered_items_cycle_like_the_bench_stream():
    assert protocol.answered([5, 2, 9], 2) == [5, 2]
    assert protocol.answered([5, 2, 9], 7) == [5, 2, 9]


@pytest.mark.parametrize("modality", ["image", "text", "audio"])
def test_anchors_train_and_score_on_a_tiny_set(tmp_path, modality):
    name = {"image": "shapes", "text": "texts", "audio": "words"}[modality]
    if modality == "audio" and shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed")
    per_class = 3 if modality == "audio" else 8
    datasets.SETS[name].writer(tmp_path, per_class, 0)
    entries = protocol.folder_items(tmp_path, modality)
    stream, test = protocol.stratified_split([e.label for e in entries], 0.3, 0)
    found = anchors.anchors_for(modality, orientation_free=True, cnn_size=16, steps=3)
    assert len(found) == 2
    for learner, (loader, fit) in found.items():
        r = anchors.run_anchor(learner, loader, fit, entries, stream, test, [6, len(stream)], 0)
        assert [row["feedback"] for row in r["curve"]] == [6, len(stream)]
        assert r["curve"][1]["trained_on"] == len(stream)
        assert all(0 <= row["accuracy"] <= 1 for row in r["curve"])


def test_image_augmentation_turns_only_orientation_free_sets():
    import torch

    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).reshape(2, 3, 8, 8)
    gen = torch.Generator().manual_seed(0)
    assert anchors.augment_image(x, gen, orientation_free=False).shape == x.shape
    # without translation room (pad 1 reflect), an upright image keeps its row order mostly:
    # a turned one has columns where rows were. Check over many draws that turns happen only
    # when allowed.
    row_major = []
    for free in (False, True):
        gen = torch.Generator().manual_seed(1)
        ys = [anchors.augment_image(x, gen, free) for _ in range(20)]
        row_major.append(all((y[:, :, 1:, :] - y[:, :, :-1, :]).mean() > 0 for y in ys))
    assert row_major == [True, False]


def _runs(sup, thumbs, anchor):
    pts = (60, 300)
    return [
        {"set": "s", "learner": lr, "seed": 0, "seconds": 1.0,
         "curve": [{"feedback": p, "accuracy": a} for p, a in zip(pts, accs, strict=True)]}
        for lr, accs in ((report.APP_SUPERVISED, sup), (report.APP_DEFAULT, thumbs), ("cnn", anchor))
    ]  # fmt: skip


def test_goal_checks_say_no_where_the_app_falls_short():
    good = report.goals(report.curves(_runs((0.9, 0.95), (0.8, 0.9), (0.85, 0.95)))["s"], [60, 300])
    assert all(line.endswith("yes") for line in good) and len(good) == 3
    bad = report.goals(report.curves(_runs((0.8, 0.95), (0.5, 0.5), (0.85, 0.9)))["s"], [60, 300])
    assert bad[0].endswith("NO (below at 60)")
    assert bad[1].endswith("NO") and bad[2].endswith("NO")
    md = report.table({"runs": _runs((0.8, 0.95), (0.5, 0.5), (0.85, 0.9)), "sets": {}})
    assert "| cnn (the anchor) | 0.85 ± 0.00 | 0.90 ± 0.00 |" in md


def test_seeds_parse_ranges_and_lists():
    assert run.parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert run.parse_seeds("0,2-3") == [0, 2, 3]


def test_merged_results_keep_one_run_per_set_learner_seed():
    a = {"runs": _runs((0.8, 0.9), (0.5, 0.5), (0.7, 0.8)), "sets": {}, "set_order": ["s"]}
    b = {"runs": _runs((0.1, 0.1), (0.1, 0.1), (0.1, 0.1)), "sets": {"t": {"classes": 2}},
         "set_order": ["t"], "commit": "abc"}  # fmt: skip
    b["runs"].append({**b["runs"][0], "seed": 1})
    b["runs"].append({"set": "s", "learner": "cnn", "seed": 2, "error": "boom", "curve": []})
    merged = run.merge(a, b)
    assert len(merged["runs"]) == 4  # three of a, b's seed-1 run; b's duplicates and error dropped
    assert merged["runs"][0]["curve"][0]["accuracy"] == 0.8
    assert merged["set_order"] == ["s", "t"] and merged["commits_merged"] == ["abc"]


SCRIPTS = {"benchmarks.own_folders.stream_vs_fresh"}  # a script: it runs its experiment on import


def _benchmark_modules() -> list[str]:
    import pkgutil

    import benchmarks

    out = []
    for info in pkgutil.walk_packages(benchmarks.__path__, "benchmarks."):
        if not info.ispkg and info.name not in SCRIPTS:
            out.append(info.name)
    return out


@pytest.mark.parametrize("module", _benchmark_modules())
def test_every_benchmark_module_imports(module):
    """A benchmark no test runs still imports: the app's code it reads did not move away
    (thumbs_diag read graph_views' paired z after it moved to graph_answers.py)."""
    import importlib

    importlib.import_module(module)
