"""Fixed feature views of the pool for the default algorithm's neighbour graph.

A view places every pool item as a unit-norm row; items close in a view should tend to share a
label. Which view does is a property of the project, not of the modality, so the default
algorithm builds a graph on each candidate and keeps the one whose posterior best predicts the
answers it had not seen yet (``ViewScores``). The candidates, per modality present:

- image ``pixels``: the raw image, ≤ 16×16 per channel (what wins on 8×8 digits);
- image ``gradients``: grey, ≤ 32 px, standardised per image; a 4×4 grid of 8-bin gradient
  orientation histograms (HOG-like: stroke layout, blind to colour and brightness), the modulus
  of the Fourier series of the whole image's 24-bin signed orientation histogram (the same
  whatever the rotation or position: corners, sides, stripes), and the radially binned power
  spectrum (the same whatever the rotation or position: the scale of a texture);
- image ``hog``: grey, ≤ 32 px, standardised per image; an 8×8 grid (side / 4 below 32 px) of
  9-bin unsigned gradient orientation histograms, square-rooted (Hellinger), not standardised
  over the pool: the layout of strokes, blind to polarity, colour and brightness (letters in many
  fonts: leave-one-out 1-NN .67 on the own-folder glyphs against .47 for ``gradients``, .29 for
  ``pixels``);
- image ``edges``: ``hog`` and ``gradients`` side by side, each at half the weight (the cosine of
  two items is the mean of theirs): leave-one-out 1-NN with every true label on the own-folder
  sets glyphs .70 / shapes .72 / textures .78, within .04 of the better of the two on each, where
  hog alone has textures .56 and gradients alone glyphs .63 (docs/benchmarks.md §5za);
- audio ``logmel``: log-mel bands (per-item mean removed: blind to gain), their mean and spread
  over time and their means over four stretches of the loud part (the order of the sounds);
- audio ``cepstra``: the loud part (frames within ~6.5 dB of the loudest) as 12 mel cepstra
  (MFCC without c0, each coefficient's mean over the part removed: blind to gain and to the
  channel), resampled to 40 frames: the order of the sounds, whatever the speed (leave-one-out
  1-NN .765 on the own-folder words against ``logmel``'s .58, and on spoken numbers made with
  another seed, never tuned on, .80 against .63: docs/benchmarks.md §5zb);
- text ``ngrams``: tf-idf of the hashed word and character n-grams, folded to 2,048 dimensions.

Every fixed view's dimensions are standardised over the pool before the rows are unit-normed
(``pixels`` and ``hog`` excepted: standardising the HOG cells over the pool brought its glyphs
1-NN from .67 to .47). Computed once per pool, in
chunks, without the network.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

TEXT_DIMS = 2048
FIXED = ("pixels", "gradients", "hog", "logmel", "cepstra", "ngrams", "pretrained")
EDGES = ("hog", "gradients")  # the ``edges`` view: these two side by side at equal weight


# -------------------------------------------------------------------- per-chunk features
def pixels(inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """Unit-norm raw pixels, ≤ 16×16 per channel (zero rows for items without an image)."""
    img = inputs["image"].double()
    if img.shape[-1] > 16:
        img = F.adaptive_avg_pool2d(img, 16)
    x = F.normalize(img.flatten(1), dim=1)
    if "image_mask" in inputs:
        x = x * inputs["image_mask"].double()[:, None]
    return x.numpy()


def _orientation_hist(ang: torch.Tensor, mag: torch.Tensor, bins: int, period: float):
    """Magnitude-weighted hard histogram of angles [N, H, W] → [N, bins, H, W] one-hot maps."""
    idx = ((ang % period) / period * bins).long().clamp_(0, bins - 1)
    return F.one_hot(idx, bins).permute(0, 3, 1, 2).float() * mag[:, None]


def _sobel(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Grey, ≤ 32 px, standardised per image [N, 1, S, S]; its Sobel gradients' magnitude and
    angle [N, S, S]."""
    img = image.float().mean(1, keepdim=True)
    if img.shape[-1] > 32:
        img = F.adaptive_avg_pool2d(img, 32)
    img = (img - img.mean((2, 3), keepdim=True)) / (img.std((2, 3), keepdim=True) + 1e-5)
    kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])[None, None]
    gx = F.conv2d(img, kx, padding=1)[:, 0]
    gy = F.conv2d(img, kx.transpose(2, 3), padding=1)[:, 0]
    return img, torch.sqrt(gx**2 + gy**2), torch.atan2(gy, gx)


def gradients(inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """HOG-like cells + rotation-free orientation spectrum + radial power spectrum."""
    img, mag, ang = _sobel(inputs["image"])
    side = img.shape[-1]
    cells = F.adaptive_avg_pool2d(_orientation_hist(ang, mag, 8, math.pi), min(4, side))
    cells = F.normalize(cells.flatten(1), dim=1)
    signed = _orientation_hist(ang, mag, 24, 2 * math.pi).sum((2, 3))
    spectrum = torch.fft.rfft(signed / (signed.sum(1, keepdim=True) + 1e-9), dim=1).abs()[:, 1:]
    power = torch.fft.fftshift(torch.fft.fft2(img[:, 0]).abs() ** 2, dim=(-2, -1))
    yy, xx = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    radius = torch.sqrt((yy - side // 2) ** 2 + (xx - side // 2) ** 2.0)
    ring = (radius / (side / 2) * 8).long().clamp_(0, 8).flatten()
    radial = torch.zeros(len(img), 9).index_add_(1, ring, power.flatten(1))[:, 1:]
    radial = F.normalize(torch.log1p(radial), dim=1)
    out = torch.cat([cells, F.normalize(spectrum, dim=1), radial], 1)
    if "image_mask" in inputs:
        out = out * inputs["image_mask"].float()[:, None]
    return out.double().numpy()


def hog(inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """Square-rooted 9-bin orientation histograms on an 8×8 grid of cells, unit rows."""
    img, mag, ang = _sobel(inputs["image"])
    cells = F.adaptive_avg_pool2d(
        _orientation_hist(ang, mag, 9, math.pi), max(1, min(8, img.shape[-1] // 4))
    )
    out = torch.sqrt(F.normalize(cells.flatten(1), dim=1))
    out = F.normalize(out, dim=1)
    if "image_mask" in inputs:
        out = out * inputs["image_mask"].float()[:, None]
    return out.double().numpy()


def _log_mel(audio: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """Log-mel spectrogram [N, 32, T]: 32 bands, ~25 ms windows, half-window hops."""
    import torchaudio

    n_fft = 1 << max(8, int(math.log2(sample_rate * 0.025)) + 1)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=sample_rate, n_fft=n_fft, hop_length=n_fft // 2, n_mels=32
    )
    return torch.log(mel(audio.float()) + 1e-6)


def _loud_parts(spec: torch.Tensor, below: float):
    """Each item's frames from the first to the last within ``below`` (natural log) of its
    loudest frame's mean log-mel (the whole item when none)."""
    energy = spec.mean(1)  # [N, T]
    loud = energy > energy.amax(1, keepdim=True) - below
    for s, m in zip(spec, loud, strict=True):
        idx = m.nonzero().squeeze(1)
        yield s[:, int(idx.min()) : int(idx.max()) + 1] if idx.numel() else s


def logmel(inputs: dict[str, torch.Tensor], sample_rate: int) -> np.ndarray:
    """Log-mel statistics: mean, spread, and four stretches of the loud part [N, 6 × 32]."""
    rows = []
    for part in _loud_parts(_log_mel(inputs["audio"], sample_rate), 2.5):  # within ~11 dB
        part = part - part.mean()
        chunks = [c.mean(1) for c in torch.tensor_split(part, 4, dim=1) if c.shape[1]]
        chunks += [chunks[-1]] * (4 - len(chunks))
        rows.append(torch.cat([part.mean(1), part.std(1, unbiased=False), *chunks]))
    return _masked(torch.stack(rows), inputs)


def cepstra(inputs: dict[str, torch.Tensor], sample_rate: int, frames: int = 40) -> np.ndarray:
    """The loud part's mel cepstra c1–c12, mean-removed, resampled to ``frames`` [N, 12 × 40]."""
    import torchaudio

    dct = torchaudio.functional.create_dct(13, 32, "ortho")  # [32 bands, 13 cepstra]
    rows = []
    for part in _loud_parts(_log_mel(inputs["audio"], sample_rate), 1.5):  # within ~6.5 dB
        c = (dct.T @ (part - part.mean(1, keepdim=True)))[1:]  # [12, t]
        rows.append(F.interpolate(c[None], size=frames, mode="linear")[0].flatten())
    return _masked(torch.stack(rows), inputs)


def _masked(out: torch.Tensor, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """Audio rows, zero where the item has no sound."""
    if "audio_mask" in inputs:
        out = out * inputs["audio_mask"].float()[:, None]
    return out.double().numpy()


def ngram_counts(inputs: dict[str, torch.Tensor]) -> np.ndarray:
    """Counts of the hashed n-gram ids folded to ``TEXT_DIMS`` (0 = padding, dropped)."""
    ids = inputs["text"]
    out = np.zeros((len(ids), TEXT_DIMS))
    for i, row in enumerate(ids.numpy()):
        row = row[row > 0]
        np.add.at(out[i], row % TEXT_DIMS, 1.0)
    return out


# -------------------------------------------------------------------- whole pool
def _raw(name: str, inputs: dict[str, torch.Tensor], sample_rate: int) -> np.ndarray | None:
    """View ``name`` of one collated batch before the pool's scaling (None: modality absent)."""
    if name == "pretrained":
        return pretrained(inputs)
    need = {
        "pixels": "image",
        "gradients": "image",
        "hog": "image",
        "logmel": "audio",
        "cepstra": "audio",
        "ngrams": "text",
    }[name]
    if need not in inputs:
        return None
    if name == "pixels":
        return pixels(inputs)
    if name == "gradients":
        return gradients(inputs)
    if name == "hog":
        return hog(inputs)
    if name == "logmel":
        return logmel(inputs, sample_rate)
    if name == "cepstra":
        return cepstra(inputs, sample_rate)
    return ngram_counts(inputs)


def pretrained(inputs: dict[str, torch.Tensor]) -> np.ndarray | None:
    """The pretrained encoders' cached embeddings ("<m>_emb", issue 14), each unit-normed, side
    by side (None: no pretrained modality)."""
    parts = [unit_rows(inputs[k].double().numpy()) for k in sorted(inputs) if k.endswith("_emb")]
    return np.concatenate(parts, 1) if parts else None


def _scaled(name: str, x: np.ndarray, stats: np.ndarray | tuple) -> np.ndarray:
    if name == "pretrained":  # centred over the pool: cosine neighbours of what varies
        return unit_rows(x - stats[0])
    if name == "ngrams":
        return unit_rows(np.log1p(x) * stats)
    if name in ("pixels", "hog"):
        return x
    return unit_rows((x - stats[0]) / stats[1])


def fixed_views(chunks, sample_rate: int = 16000) -> tuple[dict[str, np.ndarray], dict]:
    """Every fixed view of the modalities in the pool's collated ``chunks`` (an iterable of
    batches), each [n, D] with unit-norm rows, and the pool's scaling of each (for ``view_of``)."""
    parts: dict[str, list[np.ndarray]] = {}
    for inp in chunks:
        for name in FIXED:
            x = _raw(name, inp, sample_rate)
            if x is not None:
                parts.setdefault(name, []).append(x)
    out, stats = {}, {}
    for name, p in parts.items():
        x = np.concatenate(p)
        if name == "ngrams":  # idf
            stats[name] = np.log((1 + len(x)) / (1 + (x > 0).sum(0)))
        else:
            stats[name] = (x.mean(0), x.std(0) + 1e-6)
        out[name] = _scaled(name, x, stats[name])
    if all(v in out for v in EDGES):
        out["edges"] = mix(*(out[v] for v in EDGES), 0.5)
    return out, stats


def view_of(name: str, inputs: dict[str, torch.Tensor], stats: dict, sample_rate: int = 16000):
    """Fixed view ``name`` of items outside the pool, scaled as the pool was."""
    if name == "edges":
        parts = [view_of(v, inputs, stats, sample_rate) for v in EDGES]
        return None if any(p is None for p in parts) else mix(*parts, 0.5)
    x = _raw(name, inputs, sample_rate)
    return None if x is None else _scaled(name, x, stats[name])


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def mix(z: np.ndarray, x: np.ndarray, share: float) -> np.ndarray:
    """Rows of unit-norm ``z`` and ``x`` concatenated, ``x`` weighted by ``share`` of the norm."""
    return np.concatenate([(1 - share) ** 0.5 * z, share**0.5 * x], 1)


def knn_indices(view: np.ndarray, k: int) -> np.ndarray:
    """[n, k] indices of each row's k nearest other rows (cosine similarity of unit-norm rows)."""
    v = torch.from_numpy(view.astype(np.float32))
    sims = v @ v.T
    sims.fill_diagonal_(-float("inf"))
    return sims.topk(k, dim=1).indices.numpy()


def neighbour_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Mean share of each item's k nearest in view ``a`` that are among its k nearest in ``b``
    (1: the two views see the same neighbourhoods; about k / n: unrelated)."""
    if len(a) < 2:
        return 0.0
    k = min(k, len(a) - 1)
    na, nb = knn_indices(a, k), knn_indices(b, k)
    same = (na[:, :, None] == nb[:, None, :]).any(2)
    return float(same.mean())


def knn_graph(view: np.ndarray, k: int):
    """Symmetrised, row-normalised kNN graph (cosine similarity of unit-norm rows)."""
    n = len(view)
    idx = knn_indices(view, k)
    rows = np.repeat(np.arange(n), k)
    adj = sp.csr_matrix((np.ones(n * k), (rows, idx.ravel())), shape=(n, n))
    adj = ((adj + adj.T) > 0).astype(np.float64)
    deg = np.asarray(adj.sum(1)).ravel()
    return sp.diags(1.0 / np.maximum(deg, 1.0)) @ adj
