"""Make the benchmark's pretrained image encoder: a small ViT trained with labels on upper-case
glyphs of 16 letters rendered from the system's fonts, saved as a local Hugging Face folder
(``config.json``, ``model.safetensors``, ``preprocessor_config.json``) — the kind of folder an
institution keeps on disk, made here because nothing can be downloaded.

The letters are disjoint from the own-folder glyph set's (``images.LETTERS``) and the digits,
so the encoder is used downstream on a data set it never saw. Half the training images are
degraded to 8–24 px and scaled back up (the digits are 8×8, upscaled by the processor).

    nice -n 10 python -m benchmarks.pretrained_encoder.pretrain
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

from benchmarks.own_folders import images

PRETRAIN_LETTERS = tuple("fijlmnopqtuvwxyz")  # none of images.LETTERS (a b c d e g h k r s)
SIZE = 64  # the processor's input side
STEPS = 1500  # batches of 64: ~5 minutes on one idle CPU thread
VERSION = 1  # bump when the recipe changes, so the cached folder is remade
ARCH = dict(  # ~0.6 M parameters: ~300 images/s training on one CPU thread
    image_size=SIZE,
    patch_size=8,
    hidden_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=256,
    num_channels=3,
)


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "mmrl-pretrained-encoder"


def render(letters, per_class: int, seed: int, fonts: list) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` glyphs of each letter (uint8 N×SIZE×SIZE) and their class indices."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for i in range(per_class * len(letters)):
        k = i % len(letters)
        font = fonts[int(rng.integers(len(fonts)))]
        xs.append(np.asarray(images.glyph_image(letters[k], font, rng, SIZE)))
        ys.append(k)
    return np.stack(xs), np.asarray(ys)


def to_pixels(batch: np.ndarray, rng: np.random.Generator | None = None):
    """uint8 grey N×H×W → the processor's float N×3×H×W (x/255 - .5) / .5; with ``rng``, half the
    images are first shrunk to 8–24 px (area) and scaled back (bilinear), like the digits."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(batch).float().div_(255).unsqueeze(1)
    if rng is not None:
        for j in np.flatnonzero(rng.random(len(x)) < 0.5):
            side = int(rng.choice([8, 12, 16, 24]))
            small = F.interpolate(x[j : j + 1], size=(side, side), mode="area")
            x[j : j + 1] = F.interpolate(small, size=(SIZE, SIZE), mode="bilinear")
    return ((x - 0.5) / 0.5).expand(-1, 3, -1, -1).contiguous()


def _accuracy(model, head, xs, ys) -> float:
    import torch

    model.eval()
    right = 0
    with torch.no_grad():
        for i in range(0, len(xs), 256):
            out = model(pixel_values=to_pixels(xs[i : i + 256])).last_hidden_state[:, 0]
            right += int((head(out).argmax(1).numpy() == ys[i : i + 256]).sum())
    model.train()
    return right / len(xs)


def train(
    steps: int,
    seed: int = 0,
    per_class: int = 1500,
    batch: int = 64,
    val_per_class: int = 40,
    fonts: list | None = None,
):
    """The trained ViTModel and a report. The head reads the (layer-normed) CLS token, the
    embedding the app takes from a ViT; the pooler is saved as initialised (unused)."""
    import torch
    from transformers import ViTConfig, ViTModel

    torch.manual_seed(seed)
    if fonts is None:  # the system's fonts that draw every letter ([None]: Pillow's own)
        fonts = images.latin_fonts(images.system_fonts(), letters=PRETRAIN_LETTERS) or [None]
    t0 = time.perf_counter()
    xs, ys = render(PRETRAIN_LETTERS, per_class, seed, fonts)
    val_x, val_y = render(PRETRAIN_LETTERS, val_per_class, seed + 1000, fonts)
    render_s = time.perf_counter() - t0
    model = ViTModel(ViTConfig(**ARCH), add_pooling_layer=True)
    head = torch.nn.Linear(ARCH["hidden_size"], len(PRETRAIN_LETTERS))
    params = list(model.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.05)
    rng = np.random.default_rng(seed)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=steps, pct_start=0.1)
    for step in range(steps):
        idx = rng.integers(0, len(xs), batch)
        out = model(pixel_values=to_pixels(xs[idx], rng)).last_hidden_state[:, 0]
        loss = torch.nn.functional.cross_entropy(head(out), torch.from_numpy(ys[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"step {step}/{steps} loss {loss.item():.3f}", file=sys.stderr, flush=True)
    report = {
        "letters": "".join(PRETRAIN_LETTERS).upper(),
        "fonts": len(fonts),
        "train_images": int(len(xs)),
        "render_seconds": round(render_s, 1),
        "train_seconds": round(time.perf_counter() - t0 - render_s, 1),
        "steps": steps,
        "images_seen": steps * batch,
        "last_loss": round(loss.item(), 4),
        "val_accuracy": round(_accuracy(model, head, val_x, val_y), 4),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "architecture": ARCH,
        "seed": seed,
        "version": VERSION,
    }
    return model, report


def save(model, folder: Path) -> None:
    """The model (safetensors) and the image processor that declares its input."""
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

    folder = (cache or default_cache()) / f"glyph-vit-s{seed}-v{VERSION}"
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
    ap.add_argument("--steps", type=int, default=STEPS, help="batches of 64 (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=None)
    args = ap.parse_args(argv)
    folder, report = ensure_encoder(args.cache, args.steps, args.seed)
    print(folder)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
