"""A small user folder of classes: circle / square / triangle PNG shapes (for screenshots).

    python benchmarks/shapes_folder.py OUT_DIR [--per-class 15] [--size 64] [--seed 0]
        [--screenshots DIR --clicks 32 --window 1280x800]

Writes ``OUT_DIR/<shape>/<shape><i>.png``: one filled shape of a random colour, size and position
on a light grey background — the layout ``mmrl-desktop import`` expects (a folder per label).
With ``--screenshots``: imports it into ``OUT_DIR.project`` (default hold-out) and renders the
main window after ``--clicks`` simulated answers and the evaluation view
(``gui/snapshot.py``), the screenshots of a user-folder project in ``docs/screenshots/``.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle")


def draw_shape(shape: str, size: int, rng: random.Random) -> Image.Image:
    img = Image.new("RGB", (size, size), (220, 220, 220))
    draw = ImageDraw.Draw(img)
    colour = tuple(rng.randrange(20, 200) for _ in range(3))
    side = rng.randint(size // 3, size * 3 // 4)
    x0, y0 = rng.randint(0, size - side), rng.randint(0, size - side)
    box = (x0, y0, x0 + side - 1, y0 + side - 1)
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon(
            [(x0 + side // 2, y0), (x0, y0 + side - 1), (x0 + side - 1, y0 + side - 1)], fill=colour
        )
    return img


def make_folder(out: Path, per_class: int = 15, size: int = 64, seed: int = 0) -> Path:
    rng = random.Random(seed)
    for shape in SHAPES:
        folder = out / shape
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw_shape(shape, size, rng).save(folder / f"{shape}{i}.png")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--per-class", type=int, default=15)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--screenshots", type=Path, help="render the app on it into this folder")
    ap.add_argument("--clicks", type=int, default=32)
    ap.add_argument("--window", default="1280x800")
    args = ap.parse_args()
    print(make_folder(args.out, args.per_class, args.size, args.seed))
    if args.screenshots:
        import shutil
        import subprocess
        import sys

        from mmrl_desktop.gui.snapshot import take_snapshots

        project = args.out.with_name(args.out.name + ".project")
        shutil.rmtree(project, ignore_errors=True)
        cmd = [sys.executable, "-m", "mmrl_desktop", "import", str(args.out), "--project"]
        subprocess.run([*cmd, str(project)], check=True)
        size = tuple(int(v) for v in args.window.split("x"))
        for path in take_snapshots(project, args.screenshots, clicks=args.clicks, size=size):
            print(path)


if __name__ == "__main__":
    main()
