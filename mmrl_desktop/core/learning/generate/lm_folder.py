"""A local Hugging Face model folder for the ``generate`` task: inspected, refused or loaded.

``inspect_lm(path)`` reads only small files (config.json, the file names, the safetensors headers)
and either returns an ``LMInfo`` or raises one ``UserError`` sentence:

* not a folder, or no ``config.json``;
* weights only as pickle files (``pytorch_model.bin``, ``*.pt``, ``*.pth``, ``*.ckpt``): loading
  them would run Python code; the folder must hold ``*.safetensors``;
* the folder asks for its own code (``auto_map`` in config.json, or ``*.py`` files beside it):
  ``trust_remote_code`` is never set;
* no tokenizer (no ``tokenizer.json``, ``tokenizer.model``, ``vocab.json``/``vocab.txt``);
* not a generative architecture (config.json's ``architectures`` names no class that
  ``AutoModelForCausalLM`` or ``AutoModelForImageTextToText`` builds, e.g. ``BertModel``).

A folder whose model type ``AutoModelForImageTextToText`` builds and that holds an image
processor (``preprocessor_config.json`` or ``processor_config.json``) is a vision-language model
(``kind == "vision"``, image items); otherwise a causal LM (``kind == "text"``).

``fingerprint``: sha256 over config.json, and for each safetensors file its name, size, header and
first and last MiB (cheap for a 15 GB model; a different model or a re-saved file changes it).

``check_lm_folder(path)`` makes the same refusals without importing torch or transformers (the
window's process checks a folder this way, ADR 0017): the architecture test is a rule on the class
name (``looks_generative``) that accepts every class the two transformers mappings build; the
trainer's ``inspect_lm`` still makes the exact test when it loads the folder.

``load_lm(info, device)`` loads with ``local_files_only=True`` and ``trust_remote_code=False``,
in bf16 on a GPU and fp32 on a CPU, and returns ``(model, tokenizer, processor or None)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from mmrl_desktop.core.errors import UserError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt")
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")
_SAMPLE = 1 << 20  # bytes of each weight file's data in the fingerprint, at each end
# class-name endings of models that do not write text (classifiers, encoders)
_NOT_GENERATIVE = (
    "ForSequenceClassification",
    "ForTokenClassification",
    "ForQuestionAnswering",
    "ForMaskedLM",
    "ForMultipleChoice",
    "ForImageClassification",
    "ForAudioClassification",
    "ForCTC",
    "ForSemanticSegmentation",
    "ForObjectDetection",
    "ForNextSentencePrediction",
)
_WRITES_TEXT = re.compile(r"LMHead|Generation|Decoder|Text2Text|ForCausalLM")


@dataclass(frozen=True)
class LMInfo:
    """What a model folder holds, before anything heavy is loaded."""

    path: Path
    kind: str  # "text" (AutoModelForCausalLM) or "vision" (AutoModelForImageTextToText)
    model_type: str
    architecture: str  # config.json's first architecture, or "" when it names none
    weight_files: tuple[str, ...]
    n_params: int  # from the safetensors headers
    fingerprint: str

    def describe(self) -> str:
        """One line for the Info panel and the logs."""
        what = "vision-language model" if self.kind == "vision" else "language model"
        return (
            f"{self.architecture or self.model_type} {what}, {self.n_params / 1e6:.1f} M parameters"
        )


@dataclass(frozen=True)
class LMFolder:
    """What ``check_lm_folder`` read: nothing but small files and the safetensors headers."""

    path: Path
    model_type: str
    architecture: str  # config.json's first architecture, or ""
    weight_files: tuple[str, ...]
    n_params: int
    vision: bool  # it holds an image processor (a vision-language model for image items)

    def describe(self) -> str:
        """One line for the window: what the folder holds."""
        what = "vision-language model" if self.vision else "language model"
        n = self.n_params
        size = f"{n / 1e9:.1f} B" if n >= 1e9 else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n:,}"
        return f"{self.architecture or self.model_type} {what}, {size} parameters"


def looks_generative(architecture: str) -> bool:
    """Whether a config.json architecture's class name is one that writes text (a rule on the
    name, so that the window's process imports no transformers; a test checks it against every
    class of transformers' causal-LM and image-text-to-text mappings)."""
    if architecture.endswith(_NOT_GENERATIVE):
        return False
    return not architecture.endswith("Model") or bool(_WRITES_TEXT.search(architecture))


def check_lm_folder(path: str | Path) -> LMFolder:
    """``inspect_lm``'s refusals without torch or transformers (milliseconds: config.json, the
    file names, the safetensors headers): an ``LMFolder``, or one ``UserError`` sentence."""
    root, config, files, weights = _light_checks(path)
    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    arch = archs[0] if archs else ""
    if archs and not any(looks_generative(a) for a in archs):
        raise UserError(
            f"{root} is not a generative model ({arch}); "
            "choose a causal language model or a vision-language model folder."
        )
    n_params = sum(_count(_safetensors_header(root / f)) for f in weights)
    vision = any(f in files for f in PROCESSOR_FILES)
    return LMFolder(root, str(config.get("model_type", "")), arch, weights, n_params, vision)


def _light_checks(path: str | Path) -> tuple[Path, dict, list[str], tuple[str, ...]]:
    """The checks on small files: (folder, config, file names, safetensors files)."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise UserError(f"{root} is not a folder (a model is a Hugging Face model folder).")
    config = _read_config(root)
    files = sorted(p.name for p in root.iterdir() if p.is_file())
    _refuse_remote_code(root, config, files)
    weights = tuple(f for f in files if f.endswith(".safetensors"))
    if not weights:
        pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
        if pickles:
            raise UserError(
                f"{root} holds its weights only as pickle files ({pickles[0]}), which can run code "
                "when loaded; save the model as safetensors (save_pretrained(..., "
                "safe_serialization=True)) and choose that folder."
            )
        raise UserError(f"{root} holds no model weights (no .safetensors file).")
    if not any(f in files for f in TOKENIZER_FILES):
        raise UserError(
            f"{root} has no tokenizer (tokenizer.json or tokenizer.model); save the model's "
            "tokenizer into the same folder."
        )
    return root, config, files, weights


def inspect_lm(path: str | Path) -> LMInfo:
    """The folder's ``LMInfo``, or a ``UserError`` sentence saying why it cannot be used."""
    root, config, files, weights = _light_checks(path)
    model_type = str(config.get("model_type", ""))
    kind, arch = _kind(root, config, model_type, files)
    headers = [_safetensors_header(root / f) for f in weights]
    n_params = sum(_count(h) for h in headers)
    return LMInfo(root, kind, model_type, arch, weights, n_params, _fingerprint(root, weights))


def _read_config(root: Path) -> dict:
    cfg = root / "config.json"
    if not cfg.is_file():
        raise UserError(f"{root} is not a Hugging Face model folder (it has no config.json).")
    try:
        config = json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{cfg} cannot be read ({err}).") from None
    if not isinstance(config, dict):
        raise UserError(f"{cfg} is not a model configuration (not a JSON object).")
    return config


def _refuse_remote_code(root: Path, config: dict, files: list[str]) -> None:
    code = [f for f in files if f.endswith(".py")]
    if config.get("auto_map") or code:
        what = code[0] if code else "auto_map in config.json"
        raise UserError(
            f"{root} asks to run its own Python code ({what}), which this app never does; "
            "choose a model that the installed transformers supports without remote code."
        )


def _kind(root: Path, config: dict, model_type: str, files: list[str]) -> tuple[str, str]:
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES,
    )

    archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
    causal = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())
    vision = set(MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES.values())
    arch = archs[0] if archs else ""
    generative = (
        any(a in causal or a in vision for a in archs)
        if archs
        else (model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)
        or (model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES)
    )
    if not generative:
        raise UserError(
            f"{root} is not a generative model ({arch or model_type or 'unknown architecture'}); "
            "choose a causal language model or a vision-language model folder."
        )
    has_processor = any(f in files for f in PROCESSOR_FILES)
    if model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES and has_processor:
        return "vision", arch
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "text", arch
    raise UserError(
        f"{root} is a vision-language model ({arch or model_type}) without its image processor "
        "(preprocessor_config.json); save the model's processor into the same folder."
    )


def _safetensors_header(path: Path) -> dict:
    try:
        with path.open("rb") as fh:
            n = int.from_bytes(fh.read(8), "little")
            if not 0 < n < 100_000_000:
                raise ValueError("bad header length")
            header = json.loads(fh.read(n))
    except (OSError, ValueError) as err:
        raise UserError(f"{path} is not a readable safetensors file ({err}).") from None
    if not isinstance(header, dict):
        raise UserError(f"{path} is not a readable safetensors file.")
    return header


def _count(header: dict) -> int:
    total = 0
    for name, entry in header.items():
        if name != "__metadata__" and isinstance(entry, dict):
            n = 1
            for d in entry.get("shape", []):
                n *= int(d)
            total += n
    return total


def _fingerprint(root: Path, weights: tuple[str, ...]) -> str:
    h = hashlib.sha256((root / "config.json").read_bytes())
    for name in weights:
        path = root / name
        size = path.stat().st_size
        h.update(f"{name}:{size}".encode())
        with path.open("rb") as fh:
            h.update(fh.read(_SAMPLE))
            if size > 2 * _SAMPLE:
                fh.seek(size - _SAMPLE)
                h.update(fh.read(_SAMPLE))
    return h.hexdigest()[:16]


def load_lm(info: LMInfo, device: str = "cpu"):
    """``(model, tokenizer, processor or None)`` from an inspected folder: local files only, no
    remote code, bf16 on a GPU and fp32 on a CPU, in eval mode."""
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()
    dtype = torch.bfloat16 if str(device).startswith("cuda") else torch.float32
    kw = {"local_files_only": True, "trust_remote_code": False}
    try:
        if info.kind == "vision":
            from transformers import AutoProcessor

            processor = AutoProcessor.from_pretrained(info.path, **kw)
            tokenizer = processor.tokenizer
            model = AutoModelForImageTextToText.from_pretrained(
                info.path, dtype=dtype, use_safetensors=True, **kw
            )
        else:
            processor = None
            tokenizer = AutoTokenizer.from_pretrained(info.path, **kw)
            model = AutoModelForCausalLM.from_pretrained(
                info.path, dtype=dtype, use_safetensors=True, **kw
            )
    except (OSError, ValueError, KeyError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{info.path} cannot be loaded ({first}).") from None
    model.to(device)
    model.eval()
    return model, tokenizer, processor
