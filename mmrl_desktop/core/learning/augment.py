"""Augmentation of replayed training batches, per modality (the trainer's side only).

    aug = Augmenter.from_config(train_config)        # None when augmentation is off
    inputs = aug(batch.inputs, generator)              # new tensors; the input dict is not changed

``ReplayBuffer.sample`` applies it to every training minibatch; predictions, evaluations and the
pool embeddings never see it (they read ``Featurizer.batch`` directly). Every draw comes from the
``torch.Generator`` passed in, so a seeded trainer stays deterministic.

- image (float [B, C, S, S] in [0, 1]): a random translation of up to S/8 pixels, S/16 where the
  images are also flipped and turned (``TrainConfig.image_shift``; edges replicated), contrast,
  brightness and, for colour images, per-channel gain jitter. None of these for tiny images
  (≤ 16 px, such as 8×8 digits, where a pixel is a stroke and the model is the one tuned on
  digits: their training is exactly as before). Flips and 90° turns only with
  ``orientation_free`` (the project says the label does not depend on orientation: a photo of a
  shape, a cell, a texture — not a chest radiograph's left and right, not a digit 6 and 9).
- audio (float [B, T] waveform): a circular time shift of up to 10 % of the clip, a gain of
  ±6 dB, and SpecAugment-style masks on the wave: one time stretch zeroed (≤ 10 %) and one
  frequency band removed (≤ 10 % of the spectrum, through an FFT).
- text (long [B, L] hashed ids, 0 = padding): token dropout, each id dropped with probability
  0.1 (a text keeps at least one).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

# The largest shift, a fraction of the side (``TrainConfig.image_shift`` −1): 1/8 (the anchor's
# CNN's, and CIFAR's pad-4-of-32); 1/16 where ``orientation_free`` already shows each image in
# eight orientations — on the own-folder shapes and textures 1/8 cost `supervised` .02–.04 at
# 150–300 answers, on the glyphs (letters: no flips or turns) thumbs only gained +.09 at 300 over
# three unseen seeds (docs/benchmarks.md §5zo).
SHIFT, SHIFT_FREE = 1.0 / 8, 1.0 / 16


@dataclass(frozen=True)
class Augmenter:
    orientation_free: bool = False
    shift: float = SHIFT_FREE  # image translation, fraction of the side (``from_config``: the rule)
    tiny: int = 16  # images up to this side get no shift or jitter (flips and turns still)
    contrast: float = 0.2  # contrast factor in [1 − c, 1 + c]
    brightness: float = 0.1  # added to every pixel, in [−b, b]
    colour: float = 0.1  # per-channel gain in [1 − c, 1 + c] (colour images)
    audio_shift: float = 0.1
    gain_db: float = 6.0
    time_mask: float = 0.1
    freq_mask: float = 0.1
    token_drop: float = 0.1

    @classmethod
    def from_config(cls, config) -> Augmenter | None:
        """From a ``TrainConfig`` (``augment``, ``orientation_free``, ``image_shift``); None when
        ``augment`` is off."""
        if not getattr(config, "augment", True):
            return None
        free = bool(getattr(config, "orientation_free", False))
        shift = float(getattr(config, "image_shift", -1.0))
        if shift < 0:  # from the project (docs/benchmarks.md §5zo)
            shift = SHIFT_FREE if free else SHIFT
        return cls(orientation_free=free, shift=shift)

    def __call__(
        self, inputs: dict[str, torch.Tensor], generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        out = dict(inputs)
        if "image" in out:
            out["image"] = self.image(out["image"], generator)
        if "audio" in out:
            out["audio"] = self.audio(out["audio"], generator)
        if "text" in out:
            out["text"] = self.text(out["text"], generator)
        return out

    # ------------------------------------------------------------------ image
    def image(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        n = x.shape[0]
        if n == 0:
            return x
        if self.orientation_free:
            x = dihedral(x, g)
        if x.shape[-1] <= self.tiny:
            return x
        x = translate(x, int(x.shape[-1] * self.shift), g)
        contrast = 1 + self.contrast * (2 * _rand(g, n, 1, 1, 1) - 1)
        bright = self.brightness * (2 * _rand(g, n, 1, 1, 1) - 1)
        mean = x.mean((1, 2, 3), keepdim=True)
        x = (x - mean) * contrast + mean + bright
        if x.shape[1] > 1:
            x = x * (1 + self.colour * (2 * _rand(g, n, x.shape[1], 1, 1) - 1))
        return x.clamp(0.0, 1.0)

    # ------------------------------------------------------------------ audio
    def audio(self, wave: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        n, length = wave.shape
        if n == 0 or length < 16:
            return wave
        out = torch.empty_like(wave)
        most = max(1, int(length * self.audio_shift))
        shifts = torch.randint(-most, most + 1, (n,), generator=g).tolist()
        for i, s in enumerate(shifts):
            out[i] = torch.roll(wave[i], s)
        gain = 10 ** (self.gain_db * (2 * _rand(g, n, 1) - 1) / 20)
        out = out * gain
        out = _mask_band(out, self.time_mask, g)
        spec = torch.fft.rfft(out, dim=1)
        spec = _mask_band(spec, self.freq_mask, g)
        return torch.fft.irfft(spec, n=length, dim=1).to(wave.dtype)

    # ------------------------------------------------------------------ text
    def text(self, ids: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        if ids.numel() == 0:
            return ids
        drop = (_rand(g, *ids.shape) < self.token_drop) & (ids != 0)
        kept = ids.masked_fill(drop, 0)
        emptied = (kept != 0).sum(1) == 0
        return torch.where(emptied[:, None], ids, kept)


def _rand(g: torch.Generator | None, *shape: int) -> torch.Tensor:
    return torch.rand(shape, generator=g)


def translate(x: torch.Tensor, most: int, g: torch.Generator | None = None) -> torch.Tensor:
    """Each image shifted by up to ``most`` pixels each way, edges replicated."""
    if most <= 0:
        return x
    n, _, h, w = x.shape
    padded = torch.nn.functional.pad(x, (most, most, most, most), mode="replicate")
    offs = torch.randint(0, 2 * most + 1, (n, 2), generator=g).tolist()
    return torch.stack([padded[i, :, dy : dy + h, dx : dx + w] for i, (dy, dx) in enumerate(offs)])


def dihedral(x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
    """Each (square) image turned by a random multiple of 90° and flipped with probability ½."""
    n = x.shape[0]
    turns = torch.randint(0, 4, (n,), generator=g)
    flips = torch.randint(0, 2, (n,), generator=g)
    out = x.clone()
    for k in range(4):
        for f in range(2):
            rows = ((turns == k) & (flips == f)).nonzero().squeeze(1)
            if rows.numel() == 0 or (k == 0 and f == 0):
                continue
            part = x.index_select(0, rows)
            part = torch.rot90(part, k, dims=(2, 3))
            if f:
                part = torch.flip(part, dims=(3,))
            out.index_copy_(0, rows, part)
    return out


def _mask_band(x: torch.Tensor, fraction: float, g: torch.Generator | None) -> torch.Tensor:
    """Zero one random stretch of up to ``fraction`` of the last dimension in each row."""
    n, length = x.shape
    most = int(length * fraction)
    if most < 1:
        return x
    widths = torch.randint(0, most + 1, (n,), generator=g)
    starts = (_rand(g, n) * (length - widths + 1).float()).long()
    pos = torch.arange(length)[None, :]
    mask = (pos >= starts[:, None]) & (pos < (starts + widths)[:, None])
    return x.masked_fill(mask, 0)
