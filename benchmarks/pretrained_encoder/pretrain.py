"""Make the benchmark's pretrained image encoder: a small convolutional network (transformers'
``ResNetModel``, basic blocks, widths 32–256, 1.2 M parameters) trained with labels on glyphs of
76 characters rendered from the system's fonts, saved as a local Hugging Face folder
(``config.json``, ``model.safetensors``, ``preprocessor_config.json``) — the kind of folder an
institution keeps on disk, made here because nothing can be downloaded.

The characters are disjoint from the own-folder glyph set's letters (``images.LETTERS``, drawn
upper case: A B C D E G H K R S), from their lower-case forms and from their look-alikes in
other scripts (Greek Α Β Ε Η Κ, Cyrillic А В Е К Н Р С …), and there are no digits: the
encoder is used downstream on data it never saw. The images are augmented on the fly (affine
warps, stroke width, blur, noise), and half of them degraded to 8–24 px and scaled back up (the
digits are 8×8, upscaled by the processor). The embedding the app reads is the network's pooled
output (global average of the last stage).

    OMP_NUM_THREADS=1 nice -n 10 python -m benchmarks.pretrained_encoder.pretrain
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageFont

from benchmarks.own_folders import images

UPPER = tuple("FIJLMNOPQTUVWXYZ")  # the Latin capitals not in images.LETTERS
LOWER = tuple("fijmnpqtuy")  # lower case of those, where it differs from the capital's shape
GREEK = tuple("ΓΔΘΛΞΠΣΦΨΩ") + tuple("αγδζηθλμξπσφψω")  # no look-alike of A B E H K
CYRILLIC = tuple("ДЖИЦЧШЩЪЫЭЮЯ")  # no look-alike of A B C E H K P
SYMBOLS = tuple("?!&@#%+=<>*¶£¥")  # no $ § € (S, C, E look-alikes), no digits
PRETRAIN_CHARS = UPPER + LOWER + GREEK + CYRILLIC + SYMBOLS
PRETRAIN_LETTERS = PRETRAIN_CHARS  # the name before version 2
SIZE = 64  # the processor's input side
STEPS = 3000  # batches of 96: ~14 CPU-minutes on one idle thread (21 min wall at load 5-8)
BATCH = 96
VERSION = 2  # bump when the recipe changes, so the cached folder is remade
ARCH = dict(  # 1.2 M parameters: ~350 images/s training on one idle CPU thread at 64 px
    num_channels=3,
    embedding_size=32,
    hidden_sizes=[32, 64, 128, 256],
    depths=[1, 1, 1, 1],
    layer_type="basic",
    hidden_act="relu",
)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "mmrl-pretrained-encoder"


def _draws(font: ImageFont.FreeTypeFont, ch: str, missing: np.ndarray) -> bool:
    g = images._render(font, ch, 64)
    return bool(g.sum() > 0) and not np.array_equal(g, missing)


def fonts_per_char(chars, files: list[str] | None = None) -> dict[str, list]:
    """char → the font files that draw it (not as the missing-glyph box), among the fonts
    ``images.latin_fonts`` keeps; ``[None]`` (Pillow's own font) when none does."""
    files = images.latin_fonts(images.system_fonts() if files is None else files)
    out: dict[str, list] = {ch: [] for ch in chars}
    for f in files:
        font = ImageFont.truetype(f, 40)
        missing = images._render(font, "\ue000", 64)  # private use: the .notdef box
        for ch in chars:
            if _draws(font, ch, missing):
                out[ch].append(f)
    return {ch: fs or [None] for ch, fs in out.items()}


def glyph(ch: str, font_file: str | None, rng: np.random.Generator, size: int = SIZE):
    """One glyph as ``images.glyph_image`` draws a letter (random size, rotation, offset,
    contrast, noise), without changing its case, with a random stroke width and blur."""
    points = int(rng.integers(size * 35 // 100, size * 75 // 100))
    font = ImageFont.truetype(font_file, points) if font_file else ImageFont.load_default(points)
    big = size * 2
    mask = Image.fromarray(images._render(font, ch, big))
    k = int(rng.choice([0, 0, 3, 5]))
    if k:
        mask = mask.filter(
            ImageFilter.MaxFilter(k) if rng.random() < 0.6 else ImageFilter.MinFilter(3)
        )
    mask = mask.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR)
    dx, dy = rng.integers(-size // 8, size // 8 + 1, 2)
    mask = mask.crop((big // 4 - dx, big // 4 - dy, big // 4 - dx + size, big // 4 - dy + size))
    if rng.random() < 0.3:
        mask = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
    alpha = np.asarray(mask, dtype=np.float32) / 255
    bg, fg = rng.uniform(0, 255, 2)
    if abs(fg - bg) < 90:
        fg = 255 - bg if abs(255 - 2 * bg) >= 90 else (0 if bg > 127 else 255)
    img = bg * (1 - alpha) + fg * alpha + rng.normal(0, rng.uniform(3, 20), alpha.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def render(chars, per_class: int, seed: int, fonts) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` glyphs of each char (uint8 N×SIZE×SIZE) and their class indices; ``fonts``
    a list for every char or a dict char → list."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(per_class * len(chars)):
        k = i % len(chars)
        pool = fonts[chars[k]] if isinstance(fonts, dict) else fonts
        xs.append(glyph(chars[k], pool[int(rng.integers(len(pool)))], rng))
        ys.append(k)
    return np.stack(xs), np.asarray(ys)


def to_pixels(batch: np.ndarray, rng: np.random.Generator | None = None):
    """uint8 grey N×H×W → the processor's float N×3×H×W (x/255 - .5) / .5; with ``rng``, a random
    affine warp (scale, shear) and half the images shrunk to 8–24 px (area) and scaled back
    (bilinear), like the digits."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(batch).float().div_(255).unsqueeze(1)
    if rng is not None:
        n = len(x)
        theta = np.zeros((n, 2, 3), dtype=np.float32)
        scale = rng.uniform(0.85, 1.2, (n, 2))
        theta[:, 0, 0], theta[:, 1, 1] = scale[:, 0], scale[:, 1]
        theta[:, 0, 1], theta[:, 1, 0] = rng.uniform(-0.2, 0.2, (2, n))
        grid = F.affine_grid(torch.from_numpy(theta), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        for j in np.flatnonzero(rng.random(n) < 0.5):
            side = int(rng.choice([8, 12, 16, 24]))
            small = F.interpolate(x[j : j + 1], size=(side, side), mode="area")
            x[j : j + 1] = F.interpolate(small, size=(SIZE, SIZE), mode="bilinear")
    return ((x - 0.5) / 0.5).expand(-1, 3, -1, -1).contiguous()


def embed(model, pixels):
    """The embedding the app takes: the pooled output, flattened (``[B, C]``)."""
    return model(pixel_values=pixels).pooler_output.flatten(1)


def _accuracy(model, head, xs, ys) -> float:
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(xs), 256):
            out = head(embed(model, to_pixels(xs[i : i + 256])))
            right += int((out.argmax(1).numpy() == ys[i : i + 256]).sum())
    model.train()
    return right / len(xs)


def _fit(model, head, xs, ys, steps: int, batch: int, seed: int, log=None) -> float:
    """AdamW, one-cycle learning rate, label smoothing; the last batch's loss."""
    import torch

    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=3e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=steps, pct_start=0.15)
    rng = np.random.default_rng(seed)
    loss = torch.zeros(())
    for step in range(steps):
        idx = rng.integers(0, len(xs), batch)
        out = head(embed(model, to_pixels(xs[idx], rng)))
        loss = torch.nn.functional.cross_entropy(
            out, torch.from_numpy(ys[idx]), label_smoothing=0.1
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f}", file=sys.stderr, flush=True)
            if log is not None and step % 500 == 0:
                log(step)
    return float(loss.item())


def train(
    steps: int,
    seed: int = 0,
    per_class: int = 400,
    batch: int = BATCH,
    val_per_class: int = 20,
    fonts=None,
    chars=PRETRAIN_CHARS,
):
    """The trained ResNetModel and a report. The head (a linear layer) reads the pooled output,
    the embedding the app takes from this network."""
    import torch
    from transformers import ResNetConfig, ResNetModel

    torch.manual_seed(seed)
    if fonts is None:
        fonts = fonts_per_char(chars)
    t0 = time.perf_counter()
    xs, ys = render(chars, per_class, seed, fonts)
    val_x, val_y = render(chars, val_per_class, seed + 1000, fonts)
    render_s = time.perf_counter() - t0
    model = ResNetModel(ResNetConfig(**ARCH))
    head = torch.nn.Linear(ARCH["hidden_sizes"][-1], len(chars))

    def log(step):
        acc = _accuracy(model, head, val_x, val_y)
        print(f"step {step} val accuracy {acc:.3f}", file=sys.stderr, flush=True)

    last = _fit(model, head, xs, ys, steps, batch, seed, log)
    counts = [len(v) for v in fonts.values()] if isinstance(fonts, dict) else [len(fonts)]
    report = {
        "letters": "".join(chars),
        "classes": len(chars),
        "fonts": max(counts),
        "train_images": int(len(xs)),
        "render_seconds": round(render_s, 1),
        "train_seconds": round(time.perf_counter() - t0 - render_s, 1),
        "steps": steps,
        "images_seen": steps * batch,
        "last_loss": round(last, 4),
        "val_accuracy": round(_accuracy(model, head, val_x, val_y), 4),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "architecture": {"model": "ResNetModel", **ARCH},
        "seed": seed,
        "version": VERSION,
    }
    return model.eval(), report


def save(model, folder: Path) -> None:
    """The model (safetensors) and the image processor that declares its input (a plain resize
    to SIZE × SIZE and x/255 scaled to [-1, 1], as in training)."""
    from transformers import ViTImageProcessor

    model.save_pretrained(folder, safe_serialization=True)
    ViTImageProcessor(
        do_resize=True,
        size={"height": SIZE, "width": SIZE},
        do_rescale=True,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    ).save_pretrained(folder)


def ensure_encoder(cache: Path | None = None, steps: int = STEPS, seed: int = 0):
    """The pretrained folder (trained now unless cached) and its training report."""
    import torch

    folder = (cache or default_cache()) / f"glyph-resnet-s{seed}-v{VERSION}-n{steps}"
    stamp = folder / "pretraining.json"
    if stamp.is_file():
        return folder, json.loads(stamp.read_text())
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model, report = train(steps, seed)
    tmp = folder.with_name(f"{folder.name}.part{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    save(model, tmp)
    (tmp / "pretraining.json").write_text(json.dumps(report, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder, report


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--steps", type=int, default=STEPS, help=f"batches of {BATCH} (default: %(default)s)"
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    folder, report = ensure_encoder(args.cache, args.steps, args.seed)
    print(folder)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
