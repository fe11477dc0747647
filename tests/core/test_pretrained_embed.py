"""embed_batch for text and audio encoders (issue 14): mean pooling over real tokens and frames,
so an item's embedding does not depend on what it is batched with."""

from __future__ import annotations

import numpy as np
import pytest

from mmrl_desktop.core.learning.pretrained import load_encoder
from mmrl_desktop.core.learning.pretrained.embed import embed_batch
from tests.core.tinyhf import tiny_model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf")
    return {k: tiny_model(root / k, k) for k in ("wav2vec2", "bert", "clip")}


def test_text_mean_pooling_ignores_the_padding(models):
    enc = load_encoder(models["bert"], "text")
    alone = embed_batch(enc, ["the cat sat"])
    padded = embed_batch(enc, ["the cat sat", "the dog sat on the mat left right lung heart"])
    assert padded.shape == (2, 32)
    np.testing.assert_allclose(padded[0], alone[0], rtol=1e-4, atol=1e-5)
    assert not np.allclose(padded[0], padded[1])


def test_audio_mean_pooling_ignores_the_padding(models):
    enc = load_encoder(models["wav2vec2"], "audio")
    rng = np.random.default_rng(0)
    short, long = rng.normal(0, 0.1, 4000), rng.normal(0, 0.1, 16000)
    alone = embed_batch(enc, [short])
    both = embed_batch(enc, [short, long])
    assert both.shape == (2, 32)
    np.testing.assert_allclose(both[0], alone[0], rtol=1e-3, atol=1e-4)


def test_clip_uses_its_vision_tower_on_grey_and_colour_images(models):
    enc = load_encoder(models["clip"], "image")
    grey = np.full((50, 40), 200, np.uint8)
    colour = np.zeros((20, 30, 3), np.uint8)
    z = embed_batch(enc, [grey, colour])
    assert z.shape == (2, 32) and np.isfinite(z).all()


@pytest.mark.parametrize("kind", ["clip", "vit", "resnet"])
def test_an_image_one_or_three_pixels_high_is_embedded(models, tmp_path, kind):
    """H×W×3 is said to the processor: a 1×40 or 3×40 picture looked channels-first to its
    guess, and the import crashed with a broadcast error."""
    folder = models["clip"] if kind == "clip" else tiny_model(tmp_path / kind, kind)
    enc = load_encoder(folder, "image")
    thin = [np.full((1, 40, 3), 90, np.uint8), np.full((3, 40), 200, np.uint8)]
    z = embed_batch(enc, thin)
    assert z.shape[0] == 2 and np.isfinite(z).all()


def test_whisper_is_its_encoder_pooled_over_the_sounds_own_frames(tmp_path):
    folder = tiny_model(tmp_path / "whisper", "whisper")
    enc = load_encoder(folder, "audio")
    assert enc.info.architecture == "WhisperModel" and enc.info.embedding_size == 32
    assert type(enc.model).__name__ == "WhisperEncoder"
    sound = np.random.default_rng(0).normal(0, 0.1, 8000).astype(np.float32)
    z = embed_batch(enc, [sound, np.zeros(16000, np.float32)])
    assert z.shape == (2, 32) and np.isfinite(z).all()


@pytest.mark.parametrize("kind", ["resnet", "convnext"])
def test_a_convolutional_image_model_is_its_pooled_output(tmp_path, kind):
    folder = tiny_model(tmp_path / kind, kind)
    enc = load_encoder(folder, "image")
    assert (enc.info.embedding_size, enc.info.pooling, enc.info.input_size) == (16, "pooler", 32)
    z = embed_batch(enc, [np.full((50, 40), 200, np.uint8), np.zeros((20, 30, 3), np.uint8)])
    assert z.shape == (2, 16) and np.isfinite(z).all() and not np.allclose(z[0], z[1])


def test_the_exported_image_tower_pools_a_resnet_as_the_embedding_does(tmp_path):
    import torch

    from mmrl_desktop.core.tools.export_pretrained import ImageTower

    enc = load_encoder(tiny_model(tmp_path / "resnet", "resnet"), "image")
    img = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    tower = ImageTower(enc.model, "pooler", [0.5] * 3, [0.5] * 3, torch.nn.Identity())
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        z = tower(x).numpy()
    np.testing.assert_allclose(z, embed_batch(enc, [img]), rtol=1e-4, atol=1e-5)
