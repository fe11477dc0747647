"""The trainer process's side of a ``generate`` task: drafts ahead of the expert, KTO on the
answers, checkpoints of the adapters.

    gen = GenerateTrainer(project, project.generate_task("finding"), device="auto")
    gen.set_queue(["shown", "next", ...])  # the app's queue (``SetQueue``): the shown item first
    result = gen.step()                    # drafts for the queue first, else one KTO update
    result.drafts                          # stored drafts (``core/data/drafts.py``) to send the app

The language model (``core/learning/generate``: ``GenerativePolicy``, LoRA adapters on a frozen
base) is loaded here, in the trainer process — never in the app's. Each step does one unit of
work, so a stop or a new queue is heard within one generation or one update:

1. **Drafts first.** The shown item without a draft, then the next ``draft_ahead`` items without
   a draft from the current policy version, up to ``DRAFT_BATCH`` per step: generated, stored
   (every draft, with its token log-probability, the policy version and the base model's
   fingerprint) and returned, so the app has the next item's draft before the expert gets there.
2. **Else learning.** The answers (``draft_answers``) become examples: thumbs-up = desirable,
   thumbs-down = undesirable, an edit = the draft undesirable + the edited text desirable (and a
   supervised target, ``sft_step``). Each new answer owes ``updates_per_answer`` KTO updates on
   minibatches replayed from every live answer; a retraction removes its examples. When the owed
   updates are done the policy version goes up and the next items are drafted again. Against
   the early run of 👎 (docs/adr/0018): λ_D·n_D = λ_U·n_U from the replay's counts (the
   majority's weight lowered), KTO's reference point from texts the policy samples now
   (``kto_kl = "samples"``), and a smaller learning rate until ``thumbs_up_ramp`` 👍.

Checkpoints (``checkpoints/generate-<task>/ckpt-<step>``, the same safetensors + JSON files as the
label tasks') hold the adapters and optimiser state (``state_for_checkpoint``) and the base
model's fingerprint; a restart resumes from the newest one of the same base model, and a rollback
promotes an older one (``promote_generate_checkpoint``).
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from mmrl_desktop.core.data.drafts import Draft, DraftAnswer, NewDraft, compose_prompt, item_image
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import GenerateTask, Project
from mmrl_desktop.core.data.store import FeedbackStore, new_run_id
from mmrl_desktop.core.learning.checkpoints import find_latest, save_checkpoint
from mmrl_desktop.core.learning.device import choose_device
from mmrl_desktop.core.learning.generate.kto import balanced_weights, thumbs_up_lr_scale
from mmrl_desktop.core.learning.generate.policy import Example, GenerativePolicy, KTOSettings
from mmrl_desktop.core.learning.generate_ckpt import (  # noqa: F401  (where they were)
    checkpoint_folder,
    promote_generate_checkpoint,
)

DRAFT_BATCH = 4  # items drafted in one step at most
THUMBS_WINDOW = 50  # the thumbs-up rate is over the newest this many answers
SAVE_EVERY_S = 5.0  # a new policy version reaches disk at most this often
KEEP_CHECKPOINTS = 5


# the charts' keys (``gui/charts.py`` draws every ``reward/``, ``loss/`` and ``kl/`` key): the
# thumbs-up rate of the drafts, the KTO loss, its KL estimate to the reference (the base model)
# and its reward margin (β·log-ratio of the desirable minus the undesirable), the edits' loss
THUMBS_KEY = "reward/drafts_thumbs_up"
KTO_KEYS = {"loss": "loss/drafts_kto", "kl": "kl/drafts_kto", "reward_margin": "loss/drafts_margin"}


def chart_metrics(stats: dict[str, float]) -> dict[str, float]:
    """A KTO step's figures under the charts' keys (the others under ``generate/``)."""
    return {KTO_KEYS.get(k, f"generate/{k}"): float(v) for k, v in stats.items()}


@dataclass
class GenStep:
    did_work: bool = False
    drafts: list[Draft] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)


class GenerateTrainer:
    """One generate task's policy in the trainer process (module docstring)."""

    def __init__(
        self,
        project: Project,
        task: GenerateTask,
        device: str = "auto",
        store_factory=None,
        *,
        seed: int = 0,
        checkpoints: bool = True,
        resume: bool = True,
    ) -> None:
        self.project, self.task, self.settings = project, task, task.settings
        self.device_name = device
        self.device = ""  # the torch device, once built
        self._store_factory = store_factory or project.open_store
        self.checkpoints_enabled, self.resume = checkpoints, resume
        self.rng = random.Random(seed)
        self.run_id = f"{new_run_id()}-drafts-{task.name}"  # its metrics rows in the store
        self.store: FeedbackStore = None  # type: ignore[assignment]  # built on first use
        self.policy: GenerativePolicy = None  # type: ignore[assignment]
        self.queue: list[str] = []
        self.drafted: dict[str, int] = {}  # item id -> policy version of its newest draft
        self.examples: dict[int, list[Example]] = {}  # answer id -> its KTO examples
        self.edits: dict[int, Example] = {}  # answer id -> the edit's supervised example
        self.recent: deque[int] = deque(maxlen=THUMBS_WINDOW)  # rewards of the newest answers
        self.last_answer_id = 0
        self.pending_updates = 0
        self.updates = 0
        self.policy_version = 0
        self.resumed_from: str | None = None
        self.save_error: str | None = None
        self._saved = (0, 0)  # (updates, policy_version) of the newest checkpoint
        self._saved_at = float("-inf")
        self._items: dict[str, Item] = {}
        self._trained_answer_id = 0  # the newest answer the resumed checkpoint trained on
        self._exclusions_mark: int | None = None
        self._built = False

    # ------------------------------------------------------------ building
    def build(self) -> None:
        if self._built:
            return
        self.store = self._store_factory()
        folder = self.task.model_folder(self.project.root)
        self.device = str(choose_device(self.device_name))
        self.policy = GenerativePolicy.load(
            folder,
            self.device,
            self.settings.lora_rank,
            lr=self.settings.lr,
            kto=KTOSettings(beta=self.settings.kto_beta),
        )
        self._items = {it.item_id: it for it in self.store.items(with_excluded=True)}
        if self.resume:
            self._resume()
        self._read_answers(trained_until=self._trained_answer_id)
        self._built = True

    def _resume(self) -> None:
        fingerprint = self.policy.fingerprint
        latest = find_latest(
            checkpoint_folder(self.project, self.task.name),
            accept=lambda e: (e.meta or {}).get("fingerprint") == fingerprint,
        )
        ckpt = latest.checkpoint
        if ckpt is None:
            return
        self.policy.load_checkpoint_state(ckpt.state)
        self.updates = max(int(ckpt.meta.get("step", 0)), latest.highest_step)
        self.policy_version = int(ckpt.meta.get("policy_version", 0))
        self._saved = (self.updates, self.policy_version)
        self._trained_answer_id = int(ckpt.meta.get("last_answer_id", 0))
        self.resumed_from = ckpt.path.name

    # ------------------------------------------------------------ the app's queue
    def set_queue(self, item_ids: list[str]) -> None:
        self.queue = list(item_ids)

    def _item(self, item_id: str) -> Item | None:
        if item_id not in self._items:
            try:
                self._items[item_id] = self.store.item(item_id)
            except KeyError:
                return None
        return self._items[item_id]

    def due_for_drafts(self) -> list[str]:
        """The queue items to draft now: the shown one when it has no draft, then the next
        ``draft_ahead`` ones without a draft of the current policy version."""
        out = []
        for pos, item_id in enumerate(self.queue[: 1 + self.settings.draft_ahead]):
            seen = self.drafted.get(item_id)
            stale = seen is None or (pos > 0 and seen < self.policy_version)
            item = self._item(item_id) if stale else None
            if item is not None and (item.image or self.policy.kind != "vision"):
                out.append(item_id)  # a vision-language model drafts only items with an image
        return out[:DRAFT_BATCH]

    # ------------------------------------------------------------ drafting
    def draft(self, item_ids: list[str]) -> list[Draft]:
        """Generate, store and return the drafts of ``item_ids`` (``candidates`` each)."""
        self.build()
        items = [self._items[i] for i in item_ids]
        prompts = [compose_prompt(it, self.settings.prompt) for it in items]
        images = self._images(items)
        out = self.policy.generate(
            prompts,
            images,
            max_new_tokens=self.settings.max_new_tokens,
            temperature=self.settings.temperature,
            n=self.settings.candidates,
        )
        new = [
            NewDraft(
                it.item_id,
                self.task.name,
                prompt,
                d.text,
                tuple(int(t) for t in d.token_ids),
                float(d.logprob),
                self.policy_version,
                self.policy.fingerprint,
                k,
            )
            for it, prompt, cands in zip(items, prompts, out, strict=True)
            for k, d in enumerate(cands)
        ]
        stored = self.store.add_drafts(new)
        for item_id in item_ids:
            self.drafted[item_id] = self.policy_version
        return stored

    def _images(self, items: list[Item]):
        """Each item's image for a vision-language model (None for text items)."""
        if not any(it.image for it in items):
            return None
        out = []
        for it in items:
            try:
                out.append(item_image(it))
            except Exception:  # an unreadable image: the draft from the text alone
                out.append(None)
        return out

    # ------------------------------------------------------------ learning
    def _read_answers(self, trained_until: int | None = None) -> int:
        """Read the answers since the last read into the examples; each one after
        ``trained_until`` (default: every one read now) owes updates. Returns the new answers."""
        self._sync_exclusions()
        rows = self.store.draft_answers_since(self.last_answer_id)
        if not rows:
            return 0
        excluded = self.store.excluded_ids()
        new = 0
        for a in rows:
            self.last_answer_id = a.answer_id
            if a.kind == "retraction":
                self.examples.pop(a.retracts, None)
                self.edits.pop(a.retracts, None)
            elif a.draft.task == self.task.name and a.draft.item_id not in excluded:
                self._add(a)
                new += a.answer_id > (trained_until if trained_until is not None else -1)
        self.pending_updates += new * self.settings.updates_per_answer
        return new

    def _sync_exclusions(self) -> None:
        """An item excluded (or included again) since the last read: the examples afresh from
        the live answers on the items that are not excluded."""
        mark = self.store.exclusions_mark()
        if mark == self._exclusions_mark:
            return
        first = self._exclusions_mark is None
        self._exclusions_mark = mark
        if first:
            return
        self.examples.clear()
        self.edits.clear()
        for a in self.store.active_draft_answers(self.task.name):
            if a.answer_id <= self.last_answer_id:
                self._add(a)

    def _add(self, a: DraftAnswer) -> None:
        d = a.draft
        image = None
        item = self._item(d.item_id)
        if item is not None and item.image:
            try:
                image = item_image(item)
            except Exception:
                image = None
        examples = [Example(d.prompt, d.text, a.reward == 1, image, list(d.token_ids))]
        if a.is_edit:
            edit = Example(d.prompt, a.edited_text, True, image)
            examples.append(edit)
            self.edits[a.answer_id] = edit
        self.examples[a.answer_id] = examples
        self.recent.append(1 if a.reward == 1 else 0)

    def train(self) -> dict[str, float]:
        """One KTO update (and a supervised one on the edits) on replayed answers."""
        pool = [e for ex in self.examples.values() for e in ex]
        if not pool:
            self.pending_updates = 0
            return {}
        self._balance(pool)
        batch = self.rng.sample(pool, min(len(pool), self.settings.batch_size))
        kl = None  # the reference point from the batch's mismatched pairs (TRL's)
        if self.settings.kto_kl == "samples":  # or from texts the policy samples now
            kl = self.policy.sample_kl_batch(batch, self.settings.max_new_tokens)
        out = chart_metrics(self.policy.kto_step(batch, kl))
        edits = list(self.edits.values())
        if edits:
            sft = self.rng.sample(edits, min(len(edits), max(1, self.settings.batch_size // 2)))
            out["loss/drafts_sft"] = float(self.policy.sft_step(sft)["loss"])
        self.updates += 1
        self.pending_updates = max(0, self.pending_updates - 1)
        if self.pending_updates == 0:
            self.policy_version += 1
            self._trained_answer_id = self.last_answer_id
        return out

    def _balance(self, pool: list[Example]) -> None:
        """λ_D, λ_U from the replay's counts (λ_D·n_D = λ_U·n_U, the minority's weight 1) and
        the learning rate's scale while few answers are desirable (``thumbs_up_ramp``)."""
        n_d = sum(e.desirable for e in pool)
        w_d, w_u = balanced_weights(n_d, len(pool) - n_d)
        self.policy.kto = dataclasses.replace(
            self.policy.kto, desirable_weight=w_d, undesirable_weight=w_u
        )
        self.policy.set_lr_scale(thumbs_up_lr_scale(n_d, self.settings.thumbs_up_ramp))

    def thumbs_up_rate(self) -> float | None:
        return sum(self.recent) / len(self.recent) if self.recent else None

    # ------------------------------------------------------------ one step
    def step(self, train: bool = True) -> GenStep:
        """Drafts when the queue needs them, else (``train``) a KTO update when one is owed
        (module docstring). ``did_work`` False: nothing to do."""
        self.build()
        result = GenStep()
        if self._read_answers():
            rate = self.thumbs_up_rate()
            if rate is not None:
                result.metrics[THUMBS_KEY] = rate
        due = self.due_for_drafts()
        if due:
            result.drafts = self.draft(due)
            result.did_work = True
        elif train and self.pending_updates > 0:
            result.metrics.update(self.train())
            result.did_work = True
        if result.metrics:
            self.store.add_metrics(self.run_id, self.updates, result.metrics)
        self._maybe_save()
        return result

    # ------------------------------------------------------------ checkpoints
    def unsaved(self) -> bool:
        return (self.updates, self.policy_version) != self._saved

    def _maybe_save(self) -> None:
        now = time.monotonic()
        if self.unsaved() and self.pending_updates == 0 and now - self._saved_at >= SAVE_EVERY_S:
            self.save_checkpoint()
            self._saved_at = now

    def save_checkpoint(self, note: str = "") -> Path | None:
        """The adapters and optimiser state, with the base model's fingerprint."""
        if not self.checkpoints_enabled or not self._built:
            return None
        meta = {
            "kind": "generate",
            "task": self.task.name,
            "fingerprint": self.policy.fingerprint,
            "model": self.settings.model,
            "policy_version": self.policy_version,
            "model_version": self.policy_version,
            "last_answer_id": self._trained_answer_id,
            "answers_seen": len(self.examples),
            "note": note,
        }
        try:
            path = save_checkpoint(
                checkpoint_folder(self.project, self.task.name),
                self.policy.state_for_checkpoint(),
                meta,
                self.updates,
                keep=KEEP_CHECKPOINTS,
            )
        except OSError as err:
            self.save_error = f"The drafts' checkpoint was not saved: {err.strerror or err}."
            return None
        self._saved, self.save_error = (self.updates, self.policy_version), None
        return path

    def info(self) -> dict:
        self.build()
        return {
            "task": self.task.name,
            "device": self.device,
            "policy_version": self.policy_version,
            "fingerprint": self.policy.fingerprint,
            "answers": len(self.examples),
            "edits": len(self.edits),
            "updates": self.updates,
            "resumed_from": self.resumed_from,
        }

    def close(self) -> None:
        if not self._built:
            return
        try:
            if self.unsaved():
                self.save_checkpoint("on close")
        finally:
            self.store.close()
            self._built = False
