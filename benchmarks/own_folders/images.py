"""Image folders the benchmark makes itself: coloured shapes, glyphs in many fonts, procedural
textures and scikit-learn's digits. Each writer fills ``out/<class>/<class>_<i:04d>.png`` and is
deterministic from ``seed`` (and, for glyphs, from the fonts installed)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SHAPES = ("circle", "square", "triangle")
LETTERS = ("a", "b", "c", "d", "e", "g", "h", "k", "r", "s")  # folder names; drawn upper case
TEXTURES = ("checks", "dots", "noise", "stripes", "waves")


def _save(img: Image.Image, out: Path, label: str, i: int) -> None:
    folder = out / label
    folder.mkdir(parents=True, exist_ok=True)
    img.save(folder / f"{label}_{i:04d}.png")


def _noisy_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random base colour, a linear gradient and Gaussian pixel noise (float RGB 0..255)."""
    base = rng.uniform(40, 215, 3)
    yy, xx = np.mgrid[0:size, 0:size] / size - 0.5
    angle = rng.uniform(0, 2 * math.pi)
    ramp = (np.cos(angle) * xx + np.sin(angle) * yy)[..., None] * rng.uniform(0, 80, 3)
    noise = rng.normal(0, rng.uniform(5, 25), (size, size, 3))
    return base + ramp + noise


def _far_colour(rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """A random colour at least ~90 away (Euclidean RGB) from the background's mean colour."""
    mean = bg.reshape(-1, 3).mean(0)
    for _ in range(100):
        col = rng.uniform(0, 255, 3)
        if np.linalg.norm(col - mean) > 90:
            return col
    return 255 - mean


def shape_image(shape: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    """One filled shape: random size, position, rotation and colour on a noisy background."""
    bg = _noisy_background(rng, size)
    colour = _far_colour(rng, bg)
    ss = 4  # supersampled mask for smooth edges
    radius = rng.uniform(0.14, 0.34) * size  # circumradius
    cx = rng.uniform(radius, size - radius)
    cy = rng.uniform(radius, size - radius)
    rot = rng.uniform(0, 2 * math.pi)
    mask = Image.new("L", (size * ss, size * ss), 0)
    draw = ImageDraw.Draw(mask)
    if shape == "circle":
        r = radius * 0.85
        draw.ellipse([(cx - r) * ss, (cy - r) * ss, (cx + r) * ss, (cy + r) * ss], fill=255)
    else:
        n = 4 if shape == "square" else 3
        pts = [
            ((cx + radius * math.cos(rot + 2 * math.pi * k / n)) * ss,
             (cy + radius * math.sin(rot + 2 * math.pi * k / n)) * ss)
            for k in range(n)
        ]  # fmt: skip
        draw.polygon(pts, fill=255)
    alpha = np.asarray(mask.resize((size, size), Image.Resampling.BOX), dtype=np.float32) / 255
    shade = colour + rng.normal(0, 8, (size, size, 3))
    img = bg * (1 - alpha[..., None]) + shade * alpha[..., None]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB")


def write_shapes(
    out: Path, per_class: int = 170, seed: int = 0, size: int = 64, kinds: tuple[str, ...] = SHAPES
) -> dict:
    rng = np.random.default_rng(seed)
    for i in range(per_class):
        for shape in kinds:
            _save(shape_image(shape, rng, size), out, shape, i)
    return {"classes": len(kinds), "items": per_class * len(kinds)}


# ------------------------------------------------------------------ glyphs
def system_fonts() -> list[str]:
    """Font files fontconfig knows (TrueType/OpenType), sorted; [] without ``fc-list``."""
    try:
        res = subprocess.run(
            ["fc-list", "--format", "%{file}\n"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    files = {ln.strip() for ln in res.stdout.splitlines() if ln.strip()}
    return sorted(f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc", ".t1", ".pfb")))


def _render(font: ImageFont.FreeTypeFont, ch: str, canvas: int) -> np.ndarray:
    img = Image.new("L", (canvas, canvas), 0)
    ImageDraw.Draw(img).text((canvas // 2, canvas // 2), ch, font=font, fill=255, anchor="mm")
    return np.asarray(img)


NOT_LETTERS = ("symbol", "dingbat", "music", "math", "emoji", "ornament", "wingding", "d050000l")


def latin_fonts(files: list[str], letters=LETTERS) -> list[str]:
    """The fonts that draw every letter, and draw them differently (no missing-glyph boxes), one
    file per (family, style), without symbol fonts (which draw Greek or pictures for A-Z)."""
    good, names = [], set()
    for f in files:
        try:
            font = ImageFont.truetype(f, 40)
            name = tuple(font.getname())
            glyphs = [_render(font, ch.upper(), 64) for ch in letters]
        except (OSError, ValueError):
            continue
        if name in names or any(w in " ".join(map(str, name)).lower() for w in NOT_LETTERS):
            continue
        if any(g.sum() == 0 for g in glyphs):
            continue
        if len({g.tobytes() for g in glyphs}) == len(glyphs):
            good.append(f)
            names.add(name)
    return good


def glyph_image(ch: str, font_file: str | None, rng: np.random.Generator, size: int = 64):
    """One upper-case letter: random point size, small rotation and offset, contrast and noise
    (``font_file`` None: Pillow's built-in font)."""
    points = int(rng.integers(size * 4 // 10, size * 7 // 10))
    font = ImageFont.truetype(font_file, points) if font_file else ImageFont.load_default(points)
    big = size * 2
    mask = Image.fromarray(_render(font, ch.upper(), big))
    mask = mask.rotate(rng.uniform(-15, 15), resample=Image.Resampling.BILINEAR)
    dx, dy = rng.integers(-size // 8, size // 8 + 1, 2)
    mask = mask.crop((big // 4 - dx, big // 4 - dy, big // 4 - dx + size, big // 4 - dy + size))
    alpha = np.asarray(mask, dtype=np.float32) / 255
    bg, fg = rng.uniform(0, 255, 2)
    if abs(fg - bg) < 90:
        fg = 255 - bg if abs(255 - 2 * bg) >= 90 else (0 if bg > 127 else 255)
    img = bg * (1 - alpha) + fg * alpha + rng.normal(0, rng.uniform(3, 20), alpha.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="L")


def write_glyphs(out: Path, per_class: int = 50, seed: int = 0, size: int = 64) -> dict:
    fonts: list[str | None] = list(latin_fonts(system_fonts()))
    if not fonts:  # no fontconfig fonts: Pillow's own font alone (the set is then much easier)
        fonts = [None]
    rng = np.random.default_rng(seed)
    for i in range(per_class):
        for ch in LETTERS:
            font = fonts[int(rng.integers(len(fonts)))]
            _save(glyph_image(ch, font, rng, size), out, ch, i)
    return {
        "classes": len(LETTERS),
        "items": per_class * len(LETTERS),
        "fonts": len(fonts),
        "font_families": sorted({ImageFont.truetype(f, 12).getname()[0] for f in fonts if f}),
    }


# ------------------------------------------------------------------ textures
def _smooth_noise(rng: np.random.Generator, size: int, cell: float) -> np.ndarray:
    coarse = rng.uniform(0, 1, (max(2, int(size / cell)) + 1,) * 2)
    img = Image.fromarray((coarse * 255).astype(np.uint8)).resize(
        (size, size), Image.Resampling.BICUBIC
    )
    return np.asarray(img, dtype=np.float32) / 255


def texture_field(kind: str, rng: np.random.Generator, size: int = 64) -> np.ndarray:
    """A 0..1 pattern of ``kind`` at a random period, phase and orientation."""
    period = rng.uniform(6, 16)
    theta = rng.uniform(0, math.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    u = (xx * math.cos(theta) + yy * math.sin(theta)) * 2 * math.pi / period
    v = (-xx * math.sin(theta) + yy * math.cos(theta)) * 2 * math.pi / period
    u = u + rng.uniform(0, 2 * math.pi)
    v = v + rng.uniform(0, 2 * math.pi)
    if kind == "stripes":
        return (np.sin(u) > rng.uniform(-0.4, 0.4)).astype(np.float32)
    if kind == "waves":
        bend = rng.uniform(1.5, 3.0) * np.sin(v / rng.uniform(1.5, 3.0))
        return (np.sin(u + bend) > 0).astype(np.float32)
    if kind == "checks":
        return ((np.sin(u) * np.sin(v)) > 0).astype(np.float32)
    if kind == "dots":
        du = (u / (2 * math.pi)) % 1 - 0.5
        dv = (v / (2 * math.pi)) % 1 - 0.5
        return (np.hypot(du, dv) < rng.uniform(0.18, 0.32)).astype(np.float32)
    if kind == "noise":
        f = _smooth_noise(rng, size, rng.uniform(2, 8))
        return (f > np.median(f)).astype(np.float32)
    raise ValueError(kind)


def texture_image(kind: str, rng: np.random.Generator, size: int = 64) -> Image.Image:
    field = texture_field(kind, rng, size)[..., None]
    a = rng.uniform(0, 255, 3)
    b = rng.uniform(0, 255, 3)
    while np.linalg.norm(a - b) < 90:
        b = rng.uniform(0, 255, 3)
    img = a * (1 - field) + b * field + rng.normal(0, rng.uniform(5, 25), (size, size, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), mode="RGB")


def write_textures(
    out: Path,
    per_class: int = 100,
    seed: int = 0,
    size: int = 64,
    kinds: tuple[str, ...] = TEXTURES,
) -> dict:
    rng = np.random.default_rng(seed)
    for i in range(per_class):
        for kind in kinds:
            _save(texture_image(kind, rng, size), out, kind, i)
    return {"classes": len(kinds), "items": per_class * len(kinds)}


# ------------------------------------------------------------------ digits
def write_digits(out: Path, per_class: int | None = None, seed: int = 0, size: int = 8) -> dict:
    """scikit-learn's bundled 8×8 digits as grey PNGs (``per_class`` None: all 1,797), the
    layout of the app's ``bench --data digits``; ``size`` > 8 draws them larger (bilinear).
    ``seed`` is unused (the set is fixed)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts: dict[int, int] = {}
    n = 0
    for img, y in zip(digits.images, digits.target, strict=True):
        y = int(y)
        if per_class is not None and counts.get(y, 0) >= per_class:
            continue
        counts[y] = counts.get(y, 0) + 1
        pix = np.clip(img * (255.0 / 16.0) + 0.5, 0, 255).astype(np.uint8)
        im = Image.fromarray(pix, mode="L")
        _save(im if size == 8 else im.resize((size, size), Image.BILINEAR), out, str(y), n)
        n += 1
    return {"classes": len(counts), "items": n}
