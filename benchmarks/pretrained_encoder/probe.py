"""A linear probe: the pretrained folder's embeddings (computed here with ``transformers``
directly, not through the app, pooled as the app pools: the CLS token of a ViT, the pooled output
of a ResNet) and logistic regression on the distinct items of the first N asks
of the app's bench protocol, scored on the same held-out items. It says how much the encoder
itself transfers, independently of the app's learning from thumbs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks.own_folders import protocol


def embed(folder: Path, paths: list[Path], batch: int = 128) -> np.ndarray:
    """Embeddings (N × E) of image files, through the folder's own image processor."""
    import torch
    from PIL import Image
    from transformers import AutoImageProcessor, AutoModel

    from mmrl_desktop.core.learning.pretrained import inspect_encoder

    pooling = inspect_encoder(folder, "image").pooling

    proc = AutoImageProcessor.from_pretrained(folder, local_files_only=True)
    model = AutoModel.from_pretrained(folder, local_files_only=True, use_safetensors=True).eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(paths), batch):
            imgs = [Image.open(p).convert("RGB") for p in paths[i : i + batch]]
            px = proc(images=imgs, return_tensors="pt")["pixel_values"]
            res = model(pixel_values=px)
            z = res.pooler_output.flatten(1) if pooling == "pooler" else res.last_hidden_state[:, 0]
            out.append(z.numpy())
    return np.concatenate(out)


def run_probe(folder: Path, data: Path, seed: int, points: list[int], holdout: float = 0.3):
    """{"learner": "probe-logreg", "seed", "curve": [{"feedback": n, "accuracy": a}, …]}."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    entries = protocol.folder_items(data, "image")
    labels = np.asarray([e.label for e in entries])
    stream, test = protocol.stratified_split(list(labels), holdout, seed)
    x = embed(folder, [e.path for e in entries])
    curve = []
    for n in points:
        seen = protocol.answered(stream, n)
        if len(set(labels[seen])) < 2:
            curve.append({"feedback": n, "accuracy": float("nan")})
            continue
        scaler = StandardScaler().fit(x[seen])
        clf = LogisticRegression(max_iter=2000, C=1.0, random_state=seed)
        clf.fit(scaler.transform(x[seen]), labels[seen])
        acc = float((clf.predict(scaler.transform(x[test])) == labels[test]).mean())
        curve.append({"feedback": n, "accuracy": round(acc, 4)})
    return {"learner": "probe-logreg", "seed": seed, "curve": curve}
