"""Anchors written outside the app, trained on the same answered items the app's bench gets.

Images: a standard small CNN (four 3×3 conv blocks with batch norm and 2×2 max-pooling, global
average pooling, per-image standardisation; augmentation: translations by reflect-pad and crop,
plus random flips and 90° turns where the set is orientation-free; Adam, a fixed step budget) and
logistic regression on raw pixels. Sound: the same CNN on log-mel spectrograms (augmentation:
circular time shift, gain, time/frequency masks) and logistic regression on raw log-mel. Text:
logistic regression on word and on character n-gram tf-idf.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

CNN_STEPS = 500
CNN_BATCH = 32
CNN_WIDTHS = (16, 32, 64, 128)


# ------------------------------------------------------------------ loading
def load_images(paths, size: int | None) -> np.ndarray:
    """(N, C, H, W) float32 0..1, RGB (grey files as 3 equal channels); resized to ``size``
    (bilinear) unless None (native size)."""
    from PIL import Image

    out = []
    for p in paths:
        img = Image.open(p).convert("RGB")
        if size is not None and img.size != (size, size):
            img = img.resize((size, size), Image.Resampling.BILINEAR)
        out.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 255)
    return np.stack(out)


def load_logmel(paths, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """(N, 1, 40 mels, frames) natural-log mel spectrograms of the first ``seconds`` (padded)."""
    import soundfile as sf
    import torch
    import torchaudio

    mel = torchaudio.transforms.MelSpectrogram(rate, n_fft=400, hop_length=160, n_mels=40)
    n = int(rate * seconds)
    waves = []
    for p in paths:
        wav, sr = sf.read(p, dtype="float32", always_2d=True)
        wav = wav.mean(1)
        if sr != rate:
            wav = torchaudio.functional.resample(torch.from_numpy(wav), sr, rate).numpy()
        waves.append(np.pad(wav[:n], (0, max(0, n - wav.size))))
    with torch.no_grad():
        spec = mel(torch.from_numpy(np.stack(waves)))
    return torch.log(spec + 1e-6).unsqueeze(1).numpy()


def load_texts(paths) -> list[str]:
    return [open(p, encoding="utf-8").read() for p in paths]


# ------------------------------------------------------------------ CNN
def small_cnn(in_ch: int, classes: int, widths=CNN_WIDTHS):
    from torch import nn

    layers, c = [], in_ch
    for w in widths:
        layers += [nn.Conv2d(c, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2)]
        c = w
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, classes))


def _standardise(x):
    dims = tuple(range(1, x.dim()))
    return (x - x.mean(dims, keepdim=True)) / (x.std(dims, keepdim=True) + 1e-5)


def augment_image(x, gen, orientation_free: bool):
    """Per-batch random translation (reflect pad 1/8 of the side, random crop), and for an
    orientation-free set a random flip and 90° turn per image."""
    import torch
    import torch.nn.functional as F

    n, _, h, w = x.shape
    pad = max(1, h // 8)
    xp = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    ox, oy = torch.randint(0, 2 * pad + 1, (2, n), generator=gen).tolist()
    x = torch.stack([xp[i, :, oy[i] : oy[i] + h, ox[i] : ox[i] + w] for i in range(n)])
    if orientation_free:
        flips = torch.rand(n, generator=gen) < 0.5
        x = torch.where(flips[:, None, None, None], x.flip(3), x)
        turns = torch.randint(0, 4, (n,), generator=gen).tolist()
        x = torch.stack([torch.rot90(x[i], turns[i], (1, 2)) for i in range(n)])
    return x


def augment_spec(x, gen):
    """Per-example circular time shift (±15 % of the frames), gain (±6 dB) and one time and one
    frequency mask (SpecAugment-style) on log-mel input."""
    import torch

    n, _, f, t = x.shape
    shifts = torch.randint(-t * 15 // 100, t * 15 // 100 + 1, (n,), generator=gen).tolist()
    x = torch.stack([torch.roll(x[i], shifts[i], dims=2) for i in range(n)])
    x = x + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 2 * 1.38  # ln(10^(6/10)) ≈ 1.38
    x = x.clone()
    for i in range(n):
        f0, fw = (
            int(torch.randint(0, f, (1,), generator=gen)),
            int(torch.randint(0, 6, (1,), generator=gen)),
        )
        t0, tw = (
            int(torch.randint(0, t, (1,), generator=gen)),
            int(torch.randint(0, 10, (1,), generator=gen)),
        )
        fill = x[i].mean()
        x[i, :, f0 : f0 + fw, :] = fill
        x[i, :, :, t0 : t0 + tw] = fill
    return x


def cnn_probs(x_tr, targets, x_te, classes: int, augment: Callable, seed: int, steps=CNN_STEPS,
              loss: Callable | None = None):  # fmt: skip
    """Train the small CNN for ``steps`` Adam steps on ``x_tr`` with ``loss(logits, targets of
    the batch)`` (cross-entropy on label indices when None); softmax probabilities of x_te."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = small_cnn(x_tr.shape[1], classes)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    xt, tt = torch.from_numpy(x_tr), torch.from_numpy(np.asarray(targets))
    loss = loss or torch.nn.functional.cross_entropy
    batch = min(CNN_BATCH, len(xt))
    model.train()
    for _ in range(steps):
        idx = torch.randint(0, len(xt), (batch,), generator=gen)
        xb = _standardise(augment(xt[idx], gen))
        value = loss(model(xb), tt[idx])
        opt.zero_grad()
        value.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        xe = _standardise(torch.from_numpy(x_te))
        return torch.cat([model(xe[i : i + 256]).softmax(1) for i in range(0, len(xe), 256)])


def train_cnn(x_tr, y_tr, x_te, classes: int, augment: Callable, seed: int, steps=CNN_STEPS):
    """Train the small CNN for ``steps`` Adam steps on (x_tr, y_tr); predicted labels of x_te."""
    y = np.asarray(y_tr, dtype=np.int64)
    return cnn_probs(x_tr, y, x_te, classes, augment, seed, steps).argmax(1).numpy()


# ------------------------------------------------------------------ linear anchors
def logreg(x_tr, y_tr, x_te):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(x_tr.reshape(len(x_tr), -1), y_tr)
    return clf.predict(x_te.reshape(len(x_te), -1))


def tfidf_logreg(analyzer: str):
    def fit_predict(x_tr, y_tr, x_te):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        grams = (1, 2) if analyzer == "word" else (2, 5)
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=grams, sublinear_tf=True)
        clf = make_pipeline(vec, LogisticRegression(C=10, max_iter=2000))
        clf.fit(list(x_tr), y_tr)
        return clf.predict(list(x_te))

    return fit_predict


# ------------------------------------------------------------------ per modality
def anchors_for(
    modality: str, orientation_free: bool = False, cnn_size: int = 32, steps: int = CNN_STEPS
) -> dict:
    """{anchor name: (loader(paths) -> X, fit_predict(X_tr, y_tr, X_te, classes, seed) -> y)}"""
    if modality == "image":

        def cnn(x_tr, y_tr, x_te, classes, seed):
            aug = lambda x, g: augment_image(x, g, orientation_free)  # noqa: E731
            return train_cnn(x_tr, y_tr, x_te, classes, aug, seed, steps)

        return {
            "cnn": (lambda ps: load_images(ps, cnn_size), cnn),
            "logreg-pixels": (lambda ps: load_images(ps, None), _ignore_extra(logreg)),
        }
    if modality == "audio":

        def cnn_mel(x_tr, y_tr, x_te, classes, seed):
            return train_cnn(x_tr, y_tr, x_te, classes, augment_spec, seed, steps)

        return {
            "cnn-logmel": (load_logmel, cnn_mel),
            "logreg-logmel": (load_logmel, _ignore_extra(logreg)),
        }
    if modality == "text":
        return {
            f"tfidf-{a}-logreg": (load_texts, _ignore_extra(tfidf_logreg(a)))
            for a in ("word", "char_wb")
        }
    raise ValueError(modality)


def _ignore_extra(fn):
    return lambda x_tr, y_tr, x_te, classes, seed: fn(x_tr, y_tr, x_te)


def score(y_true, y_pred, classes: int) -> dict:
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return {
        "accuracy": round(float((y_true == y_pred).mean()), 4),
        "macro_f1": round(
            float(f1_score(y_true, y_pred, average="macro", labels=list(range(classes)))), 4
        ),
    }


def run_anchor(name, loader, fit_predict, entries, stream, test, points, seed) -> dict:
    """One anchor's curve: at each point N, trained afresh on the distinct items of the first N
    asks, scored on ``test``. Inputs are loaded once."""
    from benchmarks.own_folders.protocol import answered

    labels = sorted({e.label for e in entries}, key=str)
    ids = {lab: i for i, lab in enumerate(labels)}
    y = np.array([ids[e.label] for e in entries])
    t0 = time.perf_counter()
    x = loader([str(e.path) for e in entries])
    index = lambda ix: x[ix] if isinstance(x, np.ndarray) else [x[i] for i in ix]  # noqa: E731
    curve = []
    for n in points:
        t1 = time.perf_counter()
        tr = answered(stream, n)
        pred = fit_predict(index(tr), y[tr], index(test), len(labels), seed * 100003 + n)
        row = {"feedback": n, "trained_on": len(tr), **score(y[test], pred, len(labels))}
        row["seconds"] = round(time.perf_counter() - t1, 2)
        curve.append(row)
    return {
        "learner": name,
        "seed": seed,
        "curve": curve,
        "seconds": round(time.perf_counter() - t0, 2),
    }
