"""Tiny Hugging Face model folders built from configs (random weights, a few hundred KB each),
saved with ``save_pretrained`` like a real downloaded model: nothing is downloaded.

    folder = tiny_model(tmp_path / "vit", "vit")      # vit | clip | wav2vec2 | bert
"""

from __future__ import annotations

from pathlib import Path

SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 37,
}
WORDS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "a", "cat", "dog", "sat", "on", "mat"]
WORDS += ["red", "blue", "green", "cell", "normal", "tumour", "left", "right", "lung", "heart"]


def _vit(folder: Path, side: int) -> None:
    import transformers as tf

    tf.ViTModel(tf.ViTConfig(image_size=side, patch_size=8, **SMALL)).save_pretrained(folder)
    tf.ViTImageProcessor(size={"height": side, "width": side}).save_pretrained(folder)


def _clip(folder: Path, side: int) -> None:
    import transformers as tf

    cfg = tf.CLIPConfig(
        text_config={"vocab_size": 99, "bos_token_id": 0, "eos_token_id": 2, **SMALL},
        vision_config={"image_size": side, "patch_size": 8, **SMALL},
        projection_dim=16,
    )
    tf.CLIPModel(cfg).save_pretrained(folder)
    tf.CLIPImageProcessor(
        size={"shortest_edge": side}, crop_size={"height": side, "width": side}
    ).save_pretrained(folder)


def _wav2vec2(folder: Path) -> None:
    import transformers as tf

    cfg = tf.Wav2Vec2Config(
        conv_dim=(8, 8),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        **SMALL,
    )
    tf.Wav2Vec2Model(cfg).save_pretrained(folder)
    tf.Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(folder)


def _whisper(folder: Path) -> None:
    import transformers as tf

    cfg = tf.WhisperConfig(
        vocab_size=64,
        d_model=32,
        encoder_layers=2,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=37,
        decoder_ffn_dim=37,
        num_mel_bins=80,
        max_source_positions=1500,
        max_target_positions=32,
        decoder_start_token_id=1,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    tf.WhisperModel(cfg).save_pretrained(folder)
    tf.WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)


def _cnn(folder: Path, kind: str, side: int) -> None:
    import transformers as tf

    widths = {"hidden_sizes": [8, 16], "depths": [1, 1]}
    if kind == "resnet":
        model = tf.ResNetModel(tf.ResNetConfig(embedding_size=8, layer_type="basic", **widths))
    else:
        model = tf.ConvNextModel(tf.ConvNextConfig(image_size=side, num_stages=2, **widths))
    model.save_pretrained(folder)
    tf.ViTImageProcessor(size={"height": side, "width": side}).save_pretrained(folder)


def _bert(folder: Path) -> None:
    import transformers as tf

    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(WORDS) + "\n", encoding="utf-8")
    tf.BertModel(tf.BertConfig(vocab_size=len(WORDS), **SMALL)).save_pretrained(folder)
    tf.BertTokenizer(str(vocab)).save_pretrained(folder)


def tiny_model(folder: str | Path, kind: str, side: int = 32) -> Path:
    """Build and save a tiny ``kind`` model (vit, clip, resnet, convnext, wav2vec2, bert, whisper)
    in ``folder``."""
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    folder = Path(folder)
    if kind == "vit":
        _vit(folder, side)
    elif kind == "clip":
        _clip(folder, side)
    elif kind in ("resnet", "convnext"):
        _cnn(folder, kind, side)
    elif kind == "wav2vec2":
        _wav2vec2(folder)
    elif kind == "bert":
        _bert(folder)
    elif kind == "whisper":
        _whisper(folder)
    else:
        raise ValueError(kind)
    return folder
