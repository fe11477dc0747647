"""A local Hugging Face model folder: inspected without running anything, then loaded offline.

``inspect_encoder(path, modality=None)`` reads only ``config.json``, the processor/tokenizer
files' names and the safetensors *headers* (a few KB each, never the gigabytes behind them), and
returns an ``EncoderInfo`` or raises ``UserError`` with one sentence when the folder is refused:

- no ``config.json`` or no ``*.safetensors`` (weights only in a pickle such as
  ``pytorch_model.bin`` are refused: unpickling can run code);
- a config, tokenizer or processor that names remote code (``auto_map``: never run);
- an architecture this app does not support, or one of another modality than the one asked for;
- no image processor / feature extractor (``preprocessor_config.json``) or no tokenizer.

``load_encoder`` then loads it through ``transformers`` with ``local_files_only=True``,
``trust_remote_code=False`` and ``use_safetensors=True``: the model (frozen, in eval mode; CLIP and
SigLIP as their vision tower, Whisper as its encoder) and its processor or tokenizer.

The fingerprint identifies the encoder for the embedding cache and checkpoints: a hash of
``config.json``, the processor/tokenizer files, each safetensors file's name, size and header
(every tensor's name, dtype, shape and offsets) and 16 blocks of 4 KB spread over its data (so a
fine-tuned copy with the same shapes differs); it costs milliseconds on a 1 GB model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import struct
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmrl_desktop.core.errors import UserError

ENCODER_MODALITIES = ("image", "text", "audio")

# model_type (config.json) → modality. CLIP and SigLIP full models are used as their vision tower.
IMAGE_TYPES = (
    "vit",
    "deit",
    "dinov2",
    "dinov2_with_registers",
    "clip",
    "clip_vision_model",
    "siglip",
    "siglip_vision_model",
    "resnet",
    "convnext",
)
# convolutional image models: the pooled output (global average of the last stage) is the embedding
_CNN_TYPES = ("resnet", "convnext")
TEXT_TYPES = (
    "bert",
    "distilbert",
    "roberta",
    "xlm-roberta",
    "camembert",
    "electra",
    "deberta-v2",
    "mpnet",
    "albert",
)
AUDIO_TYPES = (
    "wav2vec2",
    "hubert",
    "wavlm",
    "data2vec-audio",
    "audio-spectrogram-transformer",
    "whisper",
)
_MODALITY = {
    **{t: "image" for t in IMAGE_TYPES},
    **{t: "text" for t in TEXT_TYPES},
    **{t: "audio" for t in AUDIO_TYPES},
}
_FAMILY = {
    "clip_vision_model": "clip",
    "siglip_vision_model": "siglip",
    "data2vec-audio": "data2vec",
}


def transformers_family(model_type: str) -> str:
    """The ``transformers.models.<family>`` package of ``model_type`` (the bundle collects
    these: transformers imports its model classes lazily, by name)."""
    return _FAMILY.get(model_type, model_type.replace("-", "_"))


# the sub-model actually used, and the prefix of its weights inside the folder's safetensors
_TOWER = {"clip": "vision_config", "siglip": "vision_config"}
_WEIGHT_PREFIX = {"clip": "vision_model.", "siglip": "vision_model.", "whisper": "encoder."}
_PICKLES = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "vocab.txt",
    "vocab.json",
    "tokenizer.model",
    "spiece.model",
    "sentencepiece.bpe.model",
    "spm.model",
)
_HASHED_FILES = (  # files that change what the encoder computes (whole up to 1 MB, else sampled)
    "config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    *_TOKENIZER_FILES,
    "merges.txt",
)
_SAMPLES = 16  # blocks of the weights' data hashed into the fingerprint
_ST_DTYPES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16", "F64": "float64"}


@dataclass(frozen=True)
class EncoderInfo:
    """What the wizard, Settings and ``encoders check`` show, and what checkpoints record."""

    path: str  # absolute folder
    modality: str  # image | text | audio
    architecture: str  # e.g. ViTModel, CLIPModel (→ its vision tower), BertModel
    model_type: str  # config.json's model_type
    parameters: int  # of the part used (the vision tower of a CLIP model)
    embedding_size: int  # width of one item's embedding
    dtype: str  # of the stored weights: float32, float16, bfloat16
    fingerprint: str  # 16 hex digits, see the module docstring
    processor: str  # image_processor | feature_extractor | tokenizer
    input_size: int = 0  # image side in pixels the processor produces (images)
    sample_rate: int = 0  # audio sampling rate the feature extractor expects (audio)
    pooling: str = ""  # how one embedding is made from the last hidden states

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def describe(self) -> str:
        """One line: ``image encoder ViTModel (vit), 86.4M parameters, embedding 768, float32``."""
        size = f", {self.input_size} px" if self.input_size else ""
        rate = f", {self.sample_rate} Hz" if self.sample_rate else ""
        return (
            f"{self.modality} encoder {self.architecture} ({self.model_type}), "
            f"{_millions(self.parameters)} parameters, embedding {self.embedding_size}, "
            f"{self.dtype}{size}{rate}"
        )


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 100_000 else f"{n:,}"


# ------------------------------------------------------------------ reading the folder
def _read_json(path: Path, name: str) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{name}/{path.name} cannot be read ({type(err).__name__}).") from None
    if not isinstance(data, dict):
        raise UserError(f"{name}/{path.name} is not a JSON object.")
    return data


def _safetensors_header(path: Path, name: str) -> tuple[bytes, dict]:
    """The raw header and its JSON; the file's size must cover every tensor (not truncated)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            if n <= 0 or n > 100 * 2**20 or 8 + n > size:
                raise ValueError
            raw = fh.read(n)
        header = json.loads(raw)
    except (OSError, ValueError, struct.error):
        raise UserError(f"{name}/{path.name} is not a readable safetensors file.") from None
    end = max((t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise UserError(f"{name}/{path.name} is truncated (an interrupted copy?); copy it again.")
    return raw, header


def _needs_remote_code(folder: Path) -> str | None:
    for fname in ("config.json", "tokenizer_config.json", "preprocessor_config.json"):
        p = folder / fname
        if p.is_file():
            try:
                data = json.loads(p.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                continue
            if isinstance(data, dict) and data.get("auto_map"):
                return fname
    return None


def _check_weights(folder: Path, name: str) -> list[Path]:
    files = sorted(folder.glob("*.safetensors"))
    if files:
        return files
    pickles = sorted(p.name for pat in _PICKLES for p in folder.glob(pat))
    if pickles:
        raise UserError(
            f"{name} holds its weights only as a pickle ({pickles[0]}), which can run code when "
            "loaded; convert it to .safetensors first."
        )
    raise UserError(f"{name} has no .safetensors weights.")


def _check_processor(folder: Path, name: str, modality: str) -> str:
    if modality == "text":
        if not any((folder / f).is_file() for f in _TOKENIZER_FILES):
            raise UserError(
                f"{name} has no tokenizer (tokenizer.json or vocab.txt); it cannot read text."
            )
        return "tokenizer"
    if not (folder / "preprocessor_config.json").is_file():
        what = "image processor" if modality == "image" else "feature extractor"
        raise UserError(f"{name} has no {what} (preprocessor_config.json).")
    return "image_processor" if modality == "image" else "feature_extractor"


def _fingerprint(folder: Path, weights: list[Path], headers: list[bytes]) -> str:
    h = hashlib.sha256(b"mmrl-encoder-1")
    for fname in _HASHED_FILES:
        p = folder / fname
        if not p.is_file():
            continue
        size = p.stat().st_size
        h.update(f"{fname}\0{size}\0".encode())
        if size <= 2**20:
            h.update(p.read_bytes())
        else:  # a large tokenizer.json (the picker checks as the path is typed): sampled
            _sample(p, 0, size, h)
    for p, raw in zip(weights, headers, strict=True):
        size = p.stat().st_size
        h.update(f"{p.name}\0{size}\0".encode() + raw)
        _sample(p, 8 + len(raw), size, h)  # other weights of the same shapes differ here
    return h.hexdigest()[:16]


def _sample(path: Path, start: int, size: int, h) -> None:
    """``_SAMPLES`` blocks of 4 KB spread over ``path``'s bytes from ``start`` into ``h``."""
    with open(path, "rb") as fh:
        for i in range(_SAMPLES):
            fh.seek(start + (size - start) * i // _SAMPLES)
            h.update(fh.read(4096))


def _sizes(config: dict, model_type: str, folder: Path) -> tuple[int, int, str]:
    """(embedding size, image side, pooling) from the config and the processor config."""
    tower = config.get(_TOWER.get(model_type, "")) or config
    width = int(tower.get("hidden_size") or tower.get("d_model") or tower.get("dim") or 0)
    if model_type in _CNN_TYPES:
        width = int((tower.get("hidden_sizes") or [0])[-1])
    side = 0
    pre = folder / "preprocessor_config.json"
    if _MODALITY[model_type] == "image" and pre.is_file():
        side = _processor_side(_read_json(pre, folder.name)) or int(tower.get("image_size", 0))
    pooling = {
        "image": "pooler" if model_type in ("clip", "clip_vision_model") else "cls",
        "text": "mean",
        "audio": "mean",
    }[_MODALITY[model_type]]
    if model_type.startswith("siglip"):
        pooling = "pooler"
    if model_type == "audio-spectrogram-transformer" or model_type in _CNN_TYPES:
        pooling = "pooler"
    return width, side, pooling


def _processor_side(pre: dict) -> int:
    """The side (px) an image processor outputs: its crop when it crops, else its resize."""
    for key in ("crop_size", "size"):
        if key == "crop_size" and not pre.get("do_center_crop", False):
            continue
        value = pre.get(key)
        if isinstance(value, int):
            return value
        if isinstance(value, dict):
            for k in ("height", "shortest_edge", "width"):
                if isinstance(value.get(k), int):
                    return int(value[k])
    return 0


def _count(headers: list[tuple[bytes, dict]], prefix: str) -> tuple[int, str]:
    """(parameters, the most common dtype) of the tensors whose names start with ``prefix``."""
    params, dtypes = 0, Counter()
    for _, header in headers:
        for key, t in header.items():
            if key == "__metadata__" or not key.startswith(prefix):
                continue
            n = 1
            for d in t["shape"]:
                n *= int(d)
            params += n
            dtypes[t["dtype"]] += n
    return params, (_ST_DTYPES.get(dtypes.most_common(1)[0][0], "") if dtypes else "")


def inspect_encoder(path: str | os.PathLike, modality: str | None = None) -> EncoderInfo:
    """What the folder at ``path`` holds, or ``UserError`` (one sentence) when it is refused.

    Runs nothing from the folder and imports neither torch nor transformers."""
    if modality is not None and modality not in ENCODER_MODALITIES:
        raise UserError(f"unknown modality {modality!r}; use image, text or audio.")
    folder = Path(path).expanduser()
    name = str(path)
    if not folder.is_dir():
        raise UserError(f"{name} is not a folder; choose a Hugging Face model folder.")
    folder = folder.resolve()
    if not (folder / "config.json").is_file():
        raise UserError(f"{name} has no config.json; choose a Hugging Face model folder.")
    config = _read_json(folder / "config.json", name)
    remote = _needs_remote_code(folder)
    if remote:
        raise UserError(
            f"{name} needs its own code to load (auto_map in {remote}), which this app never runs; "
            "choose a model transformers supports itself."
        )
    model_type = str(config.get("model_type", ""))
    found = _MODALITY.get(model_type)
    if found is None:
        raise UserError(
            f"{name} is a {model_type or 'model without model_type'} model, which is not a "
            "supported encoder (image: ViT, DeiT, DINOv2, CLIP, SigLIP, ResNet, ConvNeXt; text: BERT "
            "family; "
            "audio: wav2vec2, HuBERT, WavLM, AST, Whisper)."
        )
    arch = (config.get("architectures") or [model_type])[0]
    if modality is not None and modality != found:
        raise UserError(f"{name} is a {found} encoder ({arch}), not a {modality} one.")
    weights = _check_weights(folder, name)
    processor = _check_processor(folder, name, found)
    headers = [_safetensors_header(p, name) for p in weights]
    params, dtype = _count(headers, _WEIGHT_PREFIX.get(model_type, ""))
    dtype = dtype or str(config.get("dtype") or config.get("torch_dtype") or "float32")
    width, side, pooling = _sizes(config, model_type, folder)
    rate = 0
    if found == "audio":
        pre = _read_json(folder / "preprocessor_config.json", name)
        rate = int(pre.get("sampling_rate") or 16000)
    return EncoderInfo(
        path=str(folder),
        modality=found,
        architecture=str(arch),
        model_type=model_type,
        parameters=params,
        embedding_size=width,
        dtype=dtype,
        fingerprint=_fingerprint(folder, weights, [raw for raw, _ in headers]),
        processor=processor,
        input_size=side,
        sample_rate=rate,
        pooling=pooling,
    )


# ------------------------------------------------------------------ loading
@dataclass
class LoadedEncoder:
    """A frozen encoder and its processor, on ``device`` in ``dtype`` (see ``embed.py``)."""

    info: EncoderInfo
    model: Any  # torch.nn.Module, eval mode, requires_grad False
    processor: Any  # image processor, feature extractor or tokenizer
    device: str
    dtype: Any  # torch dtype the model runs in


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is usable, else ``cpu``; anything else unchanged."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _quiet_transformers():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    return transformers


def _load_model(tf, info: EncoderInfo):
    common = {"local_files_only": True, "trust_remote_code": False, "use_safetensors": True}
    mt = info.model_type
    if mt == "clip":
        return tf.CLIPVisionModel.from_pretrained(info.path, **common)
    if mt == "siglip":
        return tf.SiglipVisionModel.from_pretrained(info.path, **common)
    model = tf.AutoModel.from_pretrained(info.path, **common)
    if mt == "whisper":
        return model.get_encoder()
    return model


def _load_processor(tf, info: EncoderInfo):
    common = {"local_files_only": True, "trust_remote_code": False}
    if info.modality == "text":
        return tf.AutoTokenizer.from_pretrained(info.path, **common)
    if info.modality == "image":
        return tf.AutoImageProcessor.from_pretrained(info.path, **common)
    return tf.AutoFeatureExtractor.from_pretrained(info.path, **common)


def load_encoder(
    path: str | os.PathLike | EncoderInfo,
    modality: str | None = None,
    device: str = "cpu",
    half: bool | None = None,
) -> LoadedEncoder:
    """The encoder at ``path`` (checked by ``inspect_encoder`` first), frozen, on ``device``.

    ``half``: run in float16 (default: on a GPU only)."""
    info = path if isinstance(path, EncoderInfo) else inspect_encoder(path, modality)
    if modality is not None and info.modality != modality:
        raise UserError(f"{info.path} is a {info.modality} encoder, not a {modality} one.")
    tf = _quiet_transformers()
    import torch

    device = resolve_device(device)
    try:
        model = _load_model(tf, info)
        processor = _load_processor(tf, info)
    except UserError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0][:200]
        raise UserError(
            f"{info.path} cannot be loaded as a {info.modality} encoder: {first}"
        ) from None
    half = device.startswith("cuda") if half is None else half
    dtype = torch.float16 if half else torch.float32
    model = model.to(device=device, dtype=dtype).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedEncoder(info=info, model=model, processor=processor, device=device, dtype=dtype)
