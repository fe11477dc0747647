"""``bench --task generate``: learning to *write* the right answer from thumbs (issue 16).

The items are text: a SOURCE folder or manifest of text items (their class is the true label),
or ``digits`` (scikit-learn's 8×8 digits written as text: 64 pixel words quantised to four grey
levels, ``. : + #``, each row ended by ``|``). The prompt is ``item: <text> answer:``; a
simulated expert gives 👍 when the draft names the item's true label as a word (digits' ``7`` is
``seven``) and no other label (``expert`` "strict", the default since the ninth session: a hedge
such as "billing or outage" is 👎, as a radiologist would refuse "nodule or no lesion"; "names":
the first protocol, which accepted a hedge), else 👎 and, with ``--corrections P``, an edit: the
right answer's text.

Arms (one per run; ``benchmarks/generate/run.py`` runs them all over seeds):

* ``kto``   — thumbs only: each answer becomes a KTO example (the draft, desirable or not),
  learnt as the app's trainer learns (``Learner``: the majority's weight lowered, the reference
  point from the policy's own samples, a smaller learning rate until 20 👍; docs/adr/0018);
* ``kto+accepted`` — thumbs only, and each 👍 draft also a supervised target (an accepted draft
  is the expert's text, as an edit is);
* ``sft``   — supervised on the expert's texts: the accepted draft, or the right answer typed in
  (an edit after every 👎: the supervised run's expert writes every correction);
* ``kto+edits`` — KTO on thumbs, the edits as desirable examples and supervised targets;
* ``none``  — no training (the start, measured again).

After each answer the policy takes ``steps`` updates on a batch of ``batch`` answers: the newest
and the rest drawn at random from all the answers so far (replay). At 0 and at each point of
``feedback`` the held-out items get one draft each at the loop's temperature: the held-out
thumbs-up rate (what the expert would see), and a greedy one (temperature 0); and the share of
the sampled drafts that name two class words or more (a hedge: 👎 from the strict expert).

Without ``--lm`` the bench makes its own model (``make_bench_lm``): a tiny Llama-style LM (word
tokenizer over the items' words, hidden 64, 2 layers) trained from random weights by a short
supervised pass (30 epochs, AdamW 3e-3, all weights) on: language modelling of ``pretrain`` (300)
unlabelled stream items; the same items' prompts answered with a *random* class word (the form
of an answer, not which one: a pretrained model knows how to answer, not this expert's labels);
and the true answers of ``warm`` (2) labelled items per class, repeated. It starts writing class
words, mostly wrong (held-out thumbs-up ≈ chance). With ``--lm PATH`` that folder is the base
model as it is.
"""

from __future__ import annotations

import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmrl_desktop.core.errors import UserError

ARMS = ("kto", "kto+accepted", "sft", "kto+edits", "none")
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
LEVELS = ".:+#"
PROMPT = "item: {text} answer:"
# the loop's settings (docs/benchmarks.md): β = 2 — at TRL's 0.1 the tiny model's thumbs-only run
# pushed the 👎 drafts' log-ratio to −15 nats and forgot how to answer (held-out 0.28 → 0.00 in
# 300 answers on the help-desk texts); 3 updates per answer on a replayed batch of 16; against an
# early run of 👎 (seed 1 of the help-desk texts fell to 0.00 with λ_D raised and TRL's mismatched
# pairs: "weights": "desirable", "kl": "mismatched", "ramp": 0 is that first protocol) the
# majority's weight lowered, the reference point from the policy's own samples, and the learning
# rate n_D/20 of itself until 20 👍 — the app's trainer's defaults too (GenerateConfig)
DEFAULTS = {
    "batch": 16, "steps": 3, "lr": 1e-3, "beta": 2.0, "lora_rank": 8, "temperature": 1.0,
    "max_new_tokens": 4, "heldout_max": 300, "balance": True,
    "weights": "minority", "kl": "samples", "ramp": 20, "cap": 10.0, "expert": "strict",
}  # fmt: skip
EXPERTS = ("strict", "names")


@dataclass
class GenItem:
    text: str  # the item as words (lower case, punctuation apart)
    label: str  # the answer word the expert wants named

    @property
    def prompt(self) -> str:
        return PROMPT.format(text=self.text)


def words_of(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower()))


def digit_text(image: np.ndarray) -> str:
    """An 8×8 digit (0-16) as 64 pixel words of four grey levels, each row ended by ``|``."""
    q = np.clip((np.asarray(image) / 16.0 * len(LEVELS)).astype(int), 0, len(LEVELS) - 1)
    return " ".join(" ".join(LEVELS[v] for v in row) + " |" for row in q)


def load_items(data: str) -> list[GenItem]:
    """The bench's text items of ``digits`` or a SOURCE folder / manifest of text items."""
    if data == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        return [
            GenItem(digit_text(img), DIGIT_WORDS[int(y)])
            for img, y in zip(d.images, d.target, strict=True)
        ]
    from mmrl_desktop.core.data.project import DEFAULT_TASK
    from mmrl_desktop.core.tools.bench import discover_items

    items = []
    for it in discover_items(Path(data).expanduser()):
        text = it.text_inline if it.text_inline is not None else None
        if text is None and it.text:
            text = Path(it.text).read_text(encoding="utf-8", errors="replace")
        if text:
            items.append(
                GenItem(words_of(text), words_of(it.labels[DEFAULT_TASK]).replace(" ", "_"))
            )
    if len({it.label for it in items}) < 2:
        raise UserError(f"{data}: bench --task generate needs text items of at least two classes.")
    return items


def split_items(
    items: list[GenItem], holdout: float, seed: int
) -> tuple[list[GenItem], list[GenItem]]:
    from mmrl_desktop.core.tools.bench import stratified_split

    stream, test = stratified_split([it.label for it in items], holdout, seed)
    return [items[i] for i in stream], [items[i] for i in test]


def vocabulary(items: list[GenItem]) -> list[str]:
    words = set(PROMPT.format(text="").split())
    for it in items:
        words.update(it.text.split())
        words.add(it.label)
    return sorted(words)


def make_bench_lm(
    folder: Path, items: list[GenItem], stream: list[GenItem], seed: int, warm: int = 2,
    pretrain: int = 300, epochs: int = 30, hidden: int = 64, answer_form: bool = True,
) -> Path:  # fmt: skip
    """The bench's own base model: a tiny LM, warm-started (module docstring)."""
    import torch

    from mmrl_desktop.core.learning.generate.encode import Encoder, Example, completion_nll
    from mmrl_desktop.core.learning.generate.lm_folder import inspect_lm, load_lm
    from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm

    build_tiny_lm(folder, vocabulary(items), hidden=hidden, layers=2, seed=seed)
    model, tokenizer, _ = load_lm(inspect_lm(folder), "cpu")
    enc = Encoder(tokenizer)
    rng = random.Random(seed)
    per_class: dict[str, list[GenItem]] = {}
    for it in stream:
        per_class.setdefault(it.label, []).append(it)
    labelled = [it for group in per_class.values() for it in group[-warm:]]  # late in the stream
    texts = rng.sample(stream, min(pretrain, len(stream)))
    examples = [Example("item:", it.text, True) for it in texts]
    if answer_form:  # the form of an answer (one class word), not which: a random class word
        words = sorted({it.label for it in items})
        examples += [Example(it.prompt, rng.choice(words), True) for it in texts]
    examples += [Example(it.prompt, it.label, True) for it in labelled] * max(
        1, len(texts) // (4 * max(1, len(labelled)))
    )
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(seed)
    for _ in range(epochs):
        rng.shuffle(examples)
        for i in range(0, len(examples), 32):
            inputs, mask = enc.batch(examples[i : i + 32], "cpu")
            loss = completion_nll(model, inputs, mask)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    model.save_pretrained(folder, safe_serialization=True)
    return folder


def names(draft: str, label: str) -> bool:
    return label in words_of(draft).split()


def thumbs_up(draft: str, label: str, labels: set[str], expert: str = "strict") -> bool:
    """The simulated expert's answer: 👍 when the draft names ``label``; the strict expert also
    refuses a hedge, a draft that names any other of ``labels`` too."""
    said = set(words_of(draft).split())
    if label not in said:
        return False
    return expert == "names" or not (said & labels) - {label}


def heldout_rates(
    policy, test: list[GenItem], temperature: float, max_new_tokens: int, expert: str = "strict"
) -> dict:
    """Held-out thumbs-up rates: one draft per item sampled at ``temperature``, and greedy."""
    out = {}
    labels = {it.label for it in test}
    for key, t in (("heldout_thumbs_up", temperature), ("heldout_greedy", 0.0)):
        ups = several = 0
        for i in range(0, len(test), 64):
            chunk = test[i : i + 64]
            drafts = policy.generate([it.prompt for it in chunk], None, max_new_tokens, t)
            ups += sum(
                thumbs_up(d[0].text, it.label, labels, expert)
                for d, it in zip(drafts, chunk, strict=True)
            )
            several += sum(len(labels & set(words_of(d[0].text).split())) > 1 for d in drafts)
        out[key] = round(ups / len(test), 4)
        if key == "heldout_thumbs_up":  # drafts naming two class words or more (a hedge)
            out["heldout_several_labels"] = round(several / len(test), 4)
            out["heldout_example"] = drafts[0][0].text
    return out


class Learner:
    """One arm's learning from answers: replay of every answer so far, ``steps`` per answer on
    a batch of ``batch`` (the newest and the rest drawn at random). Against an early run of 👎
    (docs/adr/0018), as the app's trainer does: ``weights`` "minority" sets λ_D·n_D = λ_U·n_U
    from the replay's counts, lowering the majority's weight ("desirable": λ_D raised, capped at
    ``cap``, the first protocol; ``balance`` False: neither); ``kl`` "samples" takes KTO's
    reference point from texts the policy samples now for the batch's prompts ("mismatched":
    TRL's pairs); ``ramp`` scales the learning rate by n_D / ramp while fewer 👍 (0: off)."""

    def __init__(self, policy, arm: str, seed: int, s: dict) -> None:
        self.policy, self.arm, self.s = policy, arm, s
        self.batch, self.steps = int(s["batch"]), int(s["steps"])
        self.rng = random.Random(seed)
        self.kto: list = []
        self.sft: list = []
        self.last: dict[str, float] = {}

    def answer(self, item: GenItem, draft, up: bool, edit: str | None) -> None:
        from mmrl_desktop.core.learning.generate.encode import Example

        if self.arm in ("kto", "kto+accepted", "kto+edits"):
            self.kto.append(Example(item.prompt, draft.text, up, None, draft.token_ids))
            if edit is not None and self.arm == "kto+edits":
                self.kto.append(Example(item.prompt, edit, True))
        if self.arm == "kto+accepted" and up:  # thumbs only: the accepted draft as a target too
            self.sft.append(Example(item.prompt, draft.text, True, None, draft.token_ids))
        if self.arm == "sft" or (self.arm == "kto+edits" and edit is not None):
            target = draft.text if up else edit
            if target is not None:
                self.sft.append(Example(item.prompt, target, True))
        if self.kto:
            self._balance()
        for _ in range(self.steps if self.arm != "none" else 0):
            if self.kto:
                batch = self._batch(self.kto)
                kl = None
                if self.s["kl"] in ("samples", "onpolicy"):
                    kl = self.policy.sample_kl_batch(batch, self.s["max_new_tokens"])
                self.last = self.policy.kto_step(batch, kl)
            if self.sft:
                self.last["sft_loss"] = self.policy.sft_step(self._batch(self.sft))["loss"]

    def _balance(self) -> None:
        """The KTO weights from the replay's counts and the learning rate's scale."""
        import dataclasses

        from mmrl_desktop.core.learning.generate import kto

        n_d = sum(ex.desirable for ex in self.kto)
        n_u = len(self.kto) - n_d
        w_d, w_u = 1.0, 1.0
        if self.s["balance"] and self.s["weights"] == "minority":
            w_d, w_u = kto.balanced_weights(n_d, n_u)
        elif self.s["balance"]:
            w_d = kto.balanced_desirable_weight(n_d, n_u, cap=float(self.s["cap"]))
        self.policy.kto = dataclasses.replace(
            self.policy.kto, desirable_weight=w_d, undesirable_weight=w_u
        )
        self.policy.set_lr_scale(kto.thumbs_up_lr_scale(n_d, int(self.s["ramp"])))

    def _batch(self, pool: list) -> list:
        rest = self.rng.sample(pool[:-1], min(self.batch - 1, len(pool) - 1))
        return [pool[-1], *rest]


def _answer_stream(learner, stream, test, feedback, corrections, seed, s, progress) -> list[dict]:
    """The simulated expert answers the stream's drafts in order (cycling); the held-out rates
    at 0 and at each point of ``feedback``."""
    policy, expert = learner.policy, random.Random(seed + 1)
    points = sorted({int(p) for p in feedback})
    temp, max_new, judge = s["temperature"], s["max_new_tokens"], s["expert"]
    labels = {it.label for it in stream} | {it.label for it in test}
    curve = [{"feedback": 0, **heldout_rates(policy, test, temp, max_new, judge)}]
    curve[0]["thumbs_up_rate"] = curve[0]["heldout_thumbs_up"]  # every row has it (CONTRACT.md)
    if progress:
        progress(curve[-1])
    ups = 0
    for n in range(1, points[-1] + 1):
        item = stream[(n - 1) % len(stream)]
        draft = policy.generate([item.prompt], None, max_new, temp)[0][0]
        up = thumbs_up(draft.text, item.label, labels, judge)
        ups += up
        edit = item.label if not up and expert.random() < corrections else None
        learner.answer(item, draft, up, edit)
        if n in points:
            row = {"feedback": n, **heldout_rates(policy, test, temp, max_new, judge)}
            row["thumbs_up_rate"] = row["heldout_thumbs_up"]
            row["answers_thumbs_up"] = round(ups / n, 4)
            row.update({k: round(v, 5) for k, v in learner.last.items()})
            curve.append(row)
            if progress:
                progress(row)
    return curve


def run_generate_bench(
    data: str,
    lm: str | None = None,
    arm: str = "kto",
    feedback: list[int] | tuple[int, ...] = (100, 300, 1000),
    corrections: float = 1.0,
    holdout: float = 0.3,
    seed: int = 0,
    device: str = "cpu",
    settings: dict | None = None,
    progress: Callable[[dict], None] | None = None,
    base_cache: Path | None = None,
) -> dict:
    """One arm on one seed; the JSON object (``curve``: one row per point, 0 first)."""
    import torch

    from mmrl_desktop.core.learning.generate.kto import KTOSettings
    from mmrl_desktop.core.learning.generate.policy import GenerativePolicy

    if arm not in ARMS:
        raise UserError(f"unknown arm {arm!r}; choose one of {', '.join(ARMS)}.")
    s = {**DEFAULTS, **(settings or {})}
    if s["expert"] not in EXPERTS:
        raise UserError(f"unknown expert {s['expert']!r}; choose one of {', '.join(EXPERTS)}.")
    t0 = time.perf_counter()
    items = load_items(data)
    stream, test = split_items(items, holdout, seed)
    test = test[: s["heldout_max"]]
    tmp = Path(tempfile.mkdtemp(prefix="mmrl-bench-gen-"))
    try:
        folder = Path(lm).expanduser() if lm else (base_cache or tmp / "lm")
        if not lm and not (folder / "config.json").is_file():
            make_bench_lm(folder, items, stream, seed)
        torch.manual_seed(seed)
        policy = GenerativePolicy.load(
            folder, device, s["lora_rank"], s["lr"], KTOSettings(beta=s["beta"])
        )
        learner = Learner(policy, arm, seed, s)
        curve = _answer_stream(learner, stream, test, feedback, corrections, seed, s, progress)
        return {
            "task": "generate", "data": data, "arm": arm, "seed": seed, "device": device,
            "lm": str(lm) if lm else "bench's own (make_bench_lm)", "base": policy.info.describe(),
            "stream_items": len(stream), "test_items": len(test), "corrections": corrections,
            "settings": s, "curve": curve, "seconds": round(time.perf_counter() - t0, 1),
            # CONTRACT.md's names: the held-out rate before any answer and after each point
            "start_thumbs_up_rate": curve[0]["heldout_thumbs_up"],
        }  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
