"""Prompts and completions as model inputs, and the summed log-probabilities of completions.

A completion's text follows its prompt after one space when neither side has one at the seam
(``join``): decoded drafts carry no leading space with most tokenizers, and "Finding:" + "seven"
must not become one word. Its tokens are where ``tokenize(prompt + completion)`` departs from
``tokenize(prompt)`` (TRL's rule), followed by the end-of-sequence token, so the model learns to
stop. An ``Example`` that carries the draft's own ``completion_ids`` (the tokens the model
generated, end token included) is trained on exactly those tokens instead.

Vision-language items: the prompt gets the processor's image token in front when it lacks one,
and the processor expands it and turns the image into the model's pixel inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class Example:
    """One answer to learn from: the prompt, the completion's text, whether it is desirable (a
    thumbs-up, or an edited text) and, for image items, the image."""

    prompt: str
    completion: str
    desirable: bool
    image: Any = None  # PIL image or numpy array (H×W or H×W×C), for vision-language models
    completion_ids: list[int] | None = field(default=None, repr=False)  # the draft's own tokens


def join(prompt: str, completion: str) -> str:
    """``prompt`` followed by ``completion``, with one space at the seam when neither has one."""
    if prompt and completion and not prompt[-1].isspace() and not completion[0].isspace():
        return f"{prompt} {completion}"
    return prompt + completion


def as_rgb(image: Any):
    """A PIL RGB image from a PIL image or a numpy array (grey H×W, or H×W×C, any numeric dtype)."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB")
    a = np.asarray(image)
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = ((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    return Image.fromarray(a).convert("RGB")


class Encoder:
    """Turns prompts (and images) into model inputs for one tokenizer / processor."""

    def __init__(self, tokenizer, processor=None, max_prompt_tokens: int = 1024) -> None:
        self.tokenizer = tokenizer
        self.processor = processor
        self.max_prompt = int(max_prompt_tokens)  # a text prompt keeps its last this many tokens
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.pad_id = int(tokenizer.pad_token_id)
        self.eos_id = tokenizer.eos_token_id
        self.image_token = getattr(processor, "image_token", None) if processor else None

    def vision_prompt(self, prompt: str) -> str:
        if self.image_token and self.image_token not in prompt:
            return f"{self.image_token} {prompt}" if prompt else self.image_token
        return prompt

    def prompts(self, prompts: list[str], images: list | None, device) -> dict:
        """Left-padded inputs for generation."""
        self.tokenizer.padding_side = "left"
        if self.processor is not None:
            texts = [self.vision_prompt(p) for p in prompts]
            imgs = [as_rgb(i) for i in images] if images is not None else None
            enc = self.processor(text=texts, images=imgs, padding=True, return_tensors="pt")
        else:
            self.tokenizer.truncation_side = "left"
            enc = self.tokenizer(
                prompts,
                padding=True,
                truncation=True,
                max_length=self.max_prompt,
                return_tensors="pt",
            )
        return {k: v.to(device) for k, v in enc.items()}

    def _ids(self, text: str, image: Any) -> list[int]:
        if self.processor is not None:
            enc = self.processor(text=[text], images=[as_rgb(image)], return_tensors="pt")
            return enc["input_ids"][0].tolist()
        return list(self.tokenizer(text)["input_ids"])

    def sequence(self, ex: Example) -> tuple[list[int], int]:
        """The example's token ids (prompt + completion + end) and the prompt's length in them."""
        prompt = self.vision_prompt(ex.prompt) if self.processor is not None else ex.prompt
        prompt_ids = self._ids(prompt, ex.image)
        if ex.completion_ids is not None:
            full = prompt_ids + list(ex.completion_ids)
            n = len(prompt_ids)
        else:
            full = self._ids(join(prompt, ex.completion), ex.image)
            n = 0
            while n < min(len(prompt_ids), len(full)) and prompt_ids[n] == full[n]:
                n += 1
            if self.eos_id is not None:  # a draft's own tokens already end with it, if it ended
                full = full + [int(self.eos_id)]
        if self.processor is None and n > self.max_prompt:  # as generation saw it: the end
            full, n = full[n - self.max_prompt :], self.max_prompt
        return full, n

    def batch(self, examples: list[Example], device) -> tuple[dict, torch.Tensor]:
        """Right-padded model inputs for ``examples`` and their completion mask."""
        seqs = [self.sequence(ex) for ex in examples]
        width = max(len(ids) for ids, _ in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        attn = torch.zeros((len(seqs), width), dtype=torch.long)
        comp = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, (s, n) in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            attn[i, : len(s)] = 1
            comp[i, n : len(s)] = 1
        inputs = {"input_ids": ids.to(device), "attention_mask": attn.to(device)}
        if self.processor is not None:
            pixels = self.processor.image_processor(
                [as_rgb(ex.image) for ex in examples], return_tensors="pt"
            )
            inputs.update({k: v.to(device) for k, v in pixels.items()})
        return inputs, comp.to(device)


def completion_logps(model, inputs: dict, completion_mask: torch.Tensor) -> torch.Tensor:
    """Σ log p(token) over each row's completion tokens: shape (n,)."""
    logits = model(**inputs, use_cache=False).logits[:, :-1].float()
    targets = inputs["input_ids"][:, 1:]
    logp = torch.gather(F.log_softmax(logits, dim=-1), 2, targets.unsqueeze(-1)).squeeze(-1)
    return (logp * completion_mask[:, 1:]).sum(-1)


def completion_nll(model, inputs: dict, completion_mask: torch.Tensor) -> torch.Tensor:
    """The mean negative log-likelihood per completion token over the batch (supervised)."""
    logps = completion_logps(model, inputs, completion_mask)
    return -logps.sum() / completion_mask[:, 1:].sum().clamp(min=1)
