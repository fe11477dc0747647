"""Tiny model folders built from configs, offline (nothing is downloaded): the tests', the
benchmark's and the GPU check's models.

* ``word_tokenizer(words)``: a word-level tokenizer (``tokenizers``; split on whitespace, decoded
  with spaces) with ``<pad> <s> </s> <unk>`` and, for a vision-language model, ``<image>``.
* ``build_tiny_lm(folder, words)``: a Llama-style causal LM (random weights) and its tokenizer.
* ``build_tiny_vlm(folder, words)``: a LLaVA model (a tiny CLIP vision tower + a tiny Llama) with
  its processor (CLIP image processor, ``image_size`` pixels, one token per patch).
"""

from __future__ import annotations

from pathlib import Path

SPECIAL = ["<pad>", "<s>", "</s>", "<unk>"]
IMAGE_TOKEN = "<image>"


def word_tokenizer(words: list[str], image_token: bool = False):
    """A PreTrainedTokenizerFast over ``words`` (pad 0, bos 1, eos 2, unk 3, then <image>)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    special = SPECIAL + ([IMAGE_TOKEN] if image_token else [])
    vocab: dict[str, int] = {}
    for w in special + list(words):
        vocab.setdefault(w, len(vocab))
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.decoder = decoders.WordPiece(prefix="##")  # words joined by spaces
    extra = {"extra_special_tokens": {"image_token": IMAGE_TOKEN}} if image_token else {}
    return PreTrainedTokenizerFast(
        tokenizer_object=tk,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        **extra,
    )


def _llama_config(vocab: int, hidden: int, layers: int, heads: int = 4):
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=512,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        tie_word_embeddings=True,
    )


def build_tiny_lm(
    folder: str | Path, words: list[str], hidden: int = 32, layers: int = 2, seed: int = 0
) -> Path:
    """A tiny causal LM folder (safetensors, tokenizer.json) over ``words``."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    transformers.utils.logging.disable_progress_bar()
    folder = Path(folder)
    tok = word_tokenizer(words)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(_llama_config(len(tok), hidden, layers))
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    return folder


def build_tiny_vlm(
    folder: str | Path, words: list[str], hidden: int = 32, image_size: int = 16, seed: int = 0
) -> Path:
    """A tiny LLaVA folder (CLIP vision tower, Llama text model, processor) over ``words``."""
    import torch
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
        LlavaProcessor,
    )

    folder = Path(folder)
    tok = word_tokenizer(words, image_token=True)
    patch = max(1, image_size // 4)
    vision = CLIPVisionConfig(
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch,
        projection_dim=hidden,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_llama_config(len(tok), hidden, 2),
        image_token_index=tok.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_layer=-1,
        vision_feature_select_strategy="default",
        image_seq_length=(image_size // patch) ** 2,
    )
    processor = LlavaProcessor(
        image_processor=CLIPImageProcessor(
            size={"shortest_edge": image_size},
            crop_size={"height": image_size, "width": image_size},
        ),
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        image_token=IMAGE_TOKEN,
    )
    torch.manual_seed(seed)
    LlavaForConditionalGeneration(config).save_pretrained(folder, safe_serialization=True)
    processor.save_pretrained(folder)
    return folder
