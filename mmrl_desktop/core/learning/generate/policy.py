"""The generative policy of a ``generate`` task: a local language (or vision-language) model that
drafts text, with LoRA adapters that KTO (thumbs) and supervised steps (edits) train.

* ``GenerativePolicy.load(folder, device)`` inspects the folder (``lm_folder.inspect_lm``: one
  ``UserError`` sentence for what cannot be used) and loads it (local files, no remote code, bf16
  on a GPU, fp32 on a CPU), then adds LoRA adapters (peft; rank ``lora_rank``, alpha 2·rank, no
  dropout) to the language model's linear layers (never the vision tower, the projector or the
  output head).
* The frozen reference of KTO is the same model with its adapters switched off
  (``peft``'s ``disable_adapter()``): no second copy in memory.
* ``generate`` samples drafts (temperature; 0 = greedy) and gives each one its summed token
  log-probability under the model that wrote it, at temperature 1 (the model's own π(y|x), the
  quantity KTO compares with the reference), end token included when the draft stopped.
* ``kto_step`` (``kto.kto_loss``) and ``sft_step`` (mean token negative log-likelihood of the
  completions) take one AdamW step on the adapters (gradient norm clipped to 1).
* Checkpoints hold the adapters, the optimiser state and the base model's fingerprint only;
  ``save_adapters`` writes a peft adapter folder, ``merge_to`` a merged safetensors model folder
  that ``transformers`` loads back without this app.
"""

from __future__ import annotations

import copy
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.generate.encode import (
    Encoder,
    Example,
    completion_logps,
    completion_nll,
)
from mmrl_desktop.core.learning.generate.kto import KTOSettings, kto_loss, mismatched
from mmrl_desktop.core.learning.generate.lm_folder import LMInfo, inspect_lm, load_lm

__all__ = ["Draft", "Example", "GenerativePolicy", "KTOSettings"]
BASE_FILE = "mmrl_base.json"  # beside saved adapters: which base model they belong to


@dataclass
class Draft:
    """One generated text: its tokens (end token included when it stopped) and Σ log π(token)."""

    text: str
    token_ids: list[int]
    logprob: float


class GenerativePolicy:
    """A base model with LoRA adapters: drafts, learns from thumbs (KTO) and edits (supervised)."""

    def __init__(
        self,
        info: LMInfo,
        model,
        tokenizer,
        processor,
        device: str,
        lora_rank: int,
        lr: float,
        kto: KTOSettings,
    ) -> None:
        self.info = info
        self.model = model
        self.tokenizer = tokenizer
        self.processor = processor
        self.device = device
        self.lora_rank = lora_rank
        self.kto = kto
        self.encoder = Encoder(tokenizer, processor)
        self.steps = 0
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(self.params, lr=lr, weight_decay=0.0)

    @classmethod
    def load(
        cls,
        folder: str | Path,
        device: str = "cpu",
        lora_rank: int = 8,
        lr: float = 1e-4,
        kto: KTOSettings | None = None,
    ) -> GenerativePolicy:
        """The policy of a model folder, with fresh (zero-effect) LoRA adapters."""
        info = inspect_lm(folder)
        model, tokenizer, processor = load_lm(info, device)
        model = _with_lora(model, info, lora_rank)
        return cls(info, model, tokenizer, processor, device, lora_rank, lr, kto or KTOSettings())

    @property
    def fingerprint(self) -> str:
        """The base model's fingerprint (``LMInfo.fingerprint``)."""
        return self.info.fingerprint

    @property
    def kind(self) -> str:
        return self.info.kind

    # ---- drafting -------------------------------------------------------------------------
    @torch.no_grad()
    def generate(
        self,
        prompts: list[str],
        images: list | None = None,
        max_new_tokens: int = 32,
        temperature: float = 0.7,
        n: int = 1,
    ) -> list[list[Draft]]:
        """``n`` drafts for each prompt (and its image, for a vision-language model)."""
        if self.kind == "vision" and (images is None or len(images) != len(prompts)):
            raise UserError("this vision-language model needs one image for each prompt.")
        inputs = self.encoder.prompts(
            prompts, images if self.kind == "vision" else None, self.device
        )
        sample = temperature > 0
        out = self.model.generate(
            **inputs,
            max_new_tokens=int(max_new_tokens),
            do_sample=sample,
            temperature=float(temperature) if sample else None,
            top_k=0 if sample else None,
            top_p=1.0 if sample else None,
            num_return_sequences=int(n),
            output_logits=True,
            return_dict_in_generate=True,
            pad_token_id=self.encoder.pad_id,
        )
        new = out.sequences[:, inputs["input_ids"].shape[1] :]
        logits = torch.stack(out.logits, dim=1).float()[:, : new.shape[1]]
        token_logps = torch.gather(logits.log_softmax(-1), 2, new.unsqueeze(-1)).squeeze(-1)
        drafts = [self._draft(new[i], token_logps[i]) for i in range(new.shape[0])]
        return [drafts[i * n : (i + 1) * n] for i in range(len(prompts))]

    def _draft(self, ids: torch.Tensor, logps: torch.Tensor) -> Draft:
        ids_l = ids.tolist()
        eos = self.encoder.eos_id
        end = ids_l.index(eos) + 1 if eos is not None and eos in ids_l else len(ids_l)
        text = self.tokenizer.decode(ids_l[:end], skip_special_tokens=True).strip()
        return Draft(text, ids_l[:end], float(logps[:end].sum()))

    def logprobs(self, examples: list[Example], reference: bool = False) -> list[float]:
        """log π(completion | prompt) of each example (the reference's when ``reference``)."""
        inputs, mask = self.encoder.batch(examples, self.device)
        with torch.no_grad():
            if reference:
                with self.model.disable_adapter():
                    return completion_logps(self.model, inputs, mask).tolist()
            return completion_logps(self.model, inputs, mask).tolist()

    # ---- learning -------------------------------------------------------------------------
    def kto_step(
        self, batch: list[Example], kl_batch: list[Example] | None = None
    ) -> dict[str, float]:
        """One KTO step on thumbs (desirable / undesirable completions): loss, kl, rewards.

        The KL estimate's pairs are ``kl_batch`` when given (e.g. the policy's own samples for
        the batch's prompts, ``sample_kl_batch``), else the batch's mismatched pairs (TRL)."""
        if not batch:
            raise ValueError("kto_step needs at least one example")
        inputs, mask = self.encoder.batch(batch, self.device)
        if kl_batch is None:
            pairs = mismatched(len(batch))
            kl_batch = [_paired(batch[i], batch[j]) for i, j in enumerate(pairs)]
        kl_inputs, kl_mask = self.encoder.batch(kl_batch, self.device)
        with torch.no_grad():
            kl_logps = completion_logps(self.model, kl_inputs, kl_mask)
            with self.model.disable_adapter():
                ref_logps = completion_logps(self.model, inputs, mask)
                kl_ref_logps = completion_logps(self.model, kl_inputs, kl_mask)
        logps = completion_logps(self.model, inputs, mask)
        desirable = torch.tensor([ex.desirable for ex in batch], device=logps.device)
        loss, stats = kto_loss(logps, ref_logps, kl_logps, kl_ref_logps, desirable, self.kto)
        self._step(loss)
        return stats

    def sample_kl_batch(self, batch: list[Example], max_new_tokens: int) -> list[Example]:
        """For each example's prompt, one completion sampled from the policy now (temperature
        1): the pairs of an on-policy estimate of KL(π‖π_ref)."""
        images = [e.image for e in batch] if self.kind == "vision" else None
        drafts = self.generate([e.prompt for e in batch], images, max_new_tokens, 1.0)
        return [
            Example(e.prompt, d[0].text, e.desirable, e.image, d[0].token_ids)
            for e, d in zip(batch, drafts, strict=True)
        ]

    def set_lr_scale(self, scale: float) -> None:
        """The optimiser's learning rate: ``scale`` × the one the policy was loaded with."""
        for group in self.optimizer.param_groups:
            group.setdefault("base_lr", group["lr"])
            group["lr"] = group["base_lr"] * float(scale)

    def sft_step(self, batch: list[Example]) -> dict[str, float]:
        """One supervised step: the completions (an expert's edits) as targets."""
        if not batch:
            raise ValueError("sft_step needs at least one example")
        inputs, mask = self.encoder.batch(batch, self.device)
        loss = completion_nll(self.model, inputs, mask)
        self._step(loss)
        return {"loss": float(loss.detach())}

    def _step(self, loss: torch.Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, 1.0)
        self.optimizer.step()
        self.steps += 1

    # ---- checkpoints and export -----------------------------------------------------------
    def state_for_checkpoint(self) -> dict[str, Any]:
        """The adapters, the optimiser state and the base model's fingerprint (never the base)."""
        from peft import get_peft_model_state_dict

        adapters = {
            k: v.detach().cpu().clone() for k, v in get_peft_model_state_dict(self.model).items()
        }
        return {
            "base_fingerprint": self.fingerprint,
            "lora_rank": self.lora_rank,
            "steps": self.steps,
            "adapters": adapters,
            "optimizer": copy.deepcopy(self.optimizer.state_dict()),  # not the live moments
        }

    def load_checkpoint_state(self, state: dict[str, Any]) -> None:
        """Restore ``state_for_checkpoint``'s adapters; another base model → ``UserError``."""
        from peft import set_peft_model_state_dict

        base = state.get("base_fingerprint")
        if base != self.fingerprint:
            raise UserError(
                f"the checkpoint's adapters were trained on another base model ({base}, this "
                f"folder is {self.fingerprint}); choose that model folder or start afresh."
            )
        if int(state.get("lora_rank", self.lora_rank)) != self.lora_rank:
            raise UserError(
                f"the checkpoint's adapters have rank {state['lora_rank']}, not {self.lora_rank}."
            )
        set_peft_model_state_dict(self.model, state["adapters"])
        if state.get("optimizer"):
            self.optimizer.load_state_dict(state["optimizer"])
        self.steps = int(state.get("steps", 0))

    def save_adapters(self, folder: str | Path) -> Path:
        """The LoRA adapters as a peft folder (adapter_model.safetensors, adapter_config.json)
        and ``mmrl_base.json`` naming the base model folder and its fingerprint."""
        folder = Path(folder)
        self.model.save_pretrained(folder, safe_serialization=True)
        base = {"base_model": str(self.info.path), "base_fingerprint": self.fingerprint}
        (folder / BASE_FILE).write_text(json.dumps(base, indent=1), encoding="utf-8")
        return folder

    def merge_to(self, folder: str | Path) -> Path:
        """A merged model folder (base + adapters, safetensors, tokenizer and processor) that
        ``transformers`` loads back. Built from a fresh CPU copy of the base: this policy keeps
        its adapters."""
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        folder = Path(folder)
        base, tokenizer, processor = load_lm(self.info, "cpu")
        copy = _with_lora(base, self.info, self.lora_rank)
        set_peft_model_state_dict(copy, get_peft_model_state_dict(self.model))
        merged = copy.merge_and_unload()  # in fp32, then stored as the base was (bf16 stays bf16)
        merged.to(_stored_dtype(self.info)).save_pretrained(folder, safe_serialization=True)
        (processor or tokenizer).save_pretrained(folder)
        return folder


def _stored_dtype(info: LMInfo) -> torch.dtype:
    """The dtype the base folder's config.json says its weights are stored in (fp32 if none)."""
    config = json.loads((info.path / "config.json").read_text(encoding="utf-8"))
    name = config.get("dtype") or config.get("torch_dtype") or "float32"
    if isinstance(config.get("text_config"), dict) and name == "float32":
        name = config["text_config"].get("dtype") or name
    dtype = getattr(torch, str(name), None)
    return dtype if isinstance(dtype, torch.dtype) and dtype.is_floating_point else torch.float32


def _paired(prompt_of: Example, completion_of: Example) -> Example:
    """The mismatched pair (x_i, y_j) of the KL estimate."""
    return Example(
        prompt_of.prompt,
        completion_of.completion,
        completion_of.desirable,
        prompt_of.image,
        completion_of.completion_ids,
    )


def _lora_targets(model, info: LMInfo) -> list[str]:
    """The language model's linear layers: not the output head, the vision tower or projector."""
    head = model.get_output_embeddings()
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or module is head:
            continue
        if info.kind == "vision" and "language_model" not in name:
            continue
        names.append(name)
    if not names:
        raise UserError(f"{info.path} has no linear layers that LoRA adapters can train.")
    return names


def _with_lora(model, info: LMInfo, rank: int):
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=int(rank),
        lora_alpha=2 * int(rank),
        lora_dropout=0.0,
        target_modules=_lora_targets(model, info),
        bias="none",
    )
    with warnings.catch_warnings():  # peft asks transformers a deprecated question (FutureWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return get_peft_model(model, config)
