"""The generative policy (issue 16) on a tiny causal LM built from a config: drafts and their
log-probabilities, KTO and supervised steps on LoRA adapters against the frozen base, checkpoints,
adapters and a merged folder that transformers loads back."""

from __future__ import annotations

import json

import pytest
import torch

from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.generate.policy import Example, GenerativePolicy
from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm

WORDS = [
    "the",
    "image",
    "shows",
    "a",
    "digit",
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "finding",
    ":",
]


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    return build_tiny_lm(tmp_path_factory.mktemp("lm") / "lm", WORDS)


@pytest.fixture
def policy(lm):
    torch.manual_seed(0)
    return GenerativePolicy.load(lm, lr=1e-2)


BATCH = [
    Example("finding :", "seven", True),
    Example("the image shows", "two two", False),
    Example("finding : a", "digit nine", True),
    Example("the image", "shows one", False),
]


def test_drafts_carry_their_tokens_and_log_probability(policy):
    torch.manual_seed(1)
    out = policy.generate(["finding :", "the image shows"], max_new_tokens=6, temperature=1.0, n=3)
    assert [len(row) for row in out] == [3, 3]
    for prompt, row in zip(["finding :", "the image shows"], out, strict=True):
        for d in row:
            assert 1 <= len(d.token_ids) <= 6
            assert d.token_ids.count(policy.encoder.eos_id) <= 1
            # Σ log π(token) at generation == the teacher-forced log π(y|x) of the same tokens
            ex = Example(prompt, d.text, False, completion_ids=d.token_ids)
            assert policy.logprobs([ex])[0] == pytest.approx(d.logprob, abs=1e-4)
            assert d.text == policy.tokenizer.decode(d.token_ids, skip_special_tokens=True)


def test_greedy_drafts_are_repeatable(policy):
    a = policy.generate(["finding :"], max_new_tokens=5, temperature=0)
    b = policy.generate(["finding :"], max_new_tokens=5, temperature=0)
    assert a[0][0].token_ids == b[0][0].token_ids


def test_kto_moves_desirable_up_undesirable_down_and_leaves_the_reference(policy):
    ref_before = policy.logprobs(BATCH, reference=True)
    before = policy.logprobs(BATCH)
    assert before == pytest.approx(ref_before)  # fresh adapters change nothing
    first = policy.kto_step(BATCH)
    assert first["loss"] == pytest.approx(0.5) and first["kl"] == 0.0
    for _ in range(15):
        stats = policy.kto_step(BATCH)
    assert set(stats) == {"loss", "kl", "rewards_chosen", "rewards_rejected", "reward_margin"}
    assert stats["loss"] < 0.5 and stats["reward_margin"] > 0
    after = policy.logprobs(BATCH)
    for ex, b, a in zip(BATCH, before, after, strict=True):
        assert (a > b) if ex.desirable else (a < b)
    # the frozen reference is the base model with the adapters switched off
    assert policy.logprobs(BATCH, reference=True) == pytest.approx(ref_before, abs=1e-5)


def test_sft_step_raises_the_edit_likelihood(policy):
    edit = [Example("the image shows", "a digit seven", True)]
    before = policy.logprobs(edit)[0]
    losses = [policy.sft_step(edit)["loss"] for _ in range(10)]
    assert losses[-1] < losses[0]
    assert policy.logprobs(edit)[0] > before + 1.0


def test_checkpoint_state_round_trip_and_other_base_refused(policy, lm, tmp_path):
    for _ in range(3):
        policy.kto_step(BATCH)
    state = policy.state_for_checkpoint()
    assert state["base_fingerprint"] == policy.fingerprint
    assert all("lora_" in k for k in state["adapters"])  # adapters only, never the base
    fresh = GenerativePolicy.load(lm, lr=1e-2)
    fresh.load_checkpoint_state(state)
    assert fresh.steps == 3
    assert fresh.logprobs(BATCH) == pytest.approx(policy.logprobs(BATCH), abs=1e-5)
    # the same optimiser state: one more step lands on the same weights
    policy.kto_step(BATCH)
    fresh.kto_step(BATCH)
    assert fresh.logprobs(BATCH) == pytest.approx(policy.logprobs(BATCH), abs=1e-4)

    other = GenerativePolicy.load(build_tiny_lm(tmp_path / "other", WORDS, seed=1))
    assert other.fingerprint != policy.fingerprint
    with pytest.raises(UserError, match="another base model"):
        other.load_checkpoint_state(state)


def test_saved_adapters_and_merged_folder_load_back(policy, lm, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    for _ in range(5):
        policy.kto_step(BATCH)
    want = policy.logprobs(BATCH)
    ids = policy.encoder.batch(BATCH, "cpu")[0]
    with torch.no_grad():
        want_logits = policy.model(**ids).logits

    adapters = policy.save_adapters(tmp_path / "adapters")
    meta = json.loads((adapters / "mmrl_base.json").read_text())
    assert meta["base_fingerprint"] == policy.fingerprint
    base = AutoModelForCausalLM.from_pretrained(lm, local_files_only=True)
    with torch.no_grad():
        got = PeftModel.from_pretrained(base, adapters)(**ids).logits
    assert torch.allclose(got, want_logits, atol=1e-5)

    merged = policy.merge_to(tmp_path / "merged")
    assert (merged / "model.safetensors").is_file() and not list(merged.glob("*.bin"))
    model = AutoModelForCausalLM.from_pretrained(merged, local_files_only=True)
    AutoTokenizer.from_pretrained(merged, local_files_only=True)
    with torch.no_grad():
        assert torch.allclose(model(**ids).logits, want_logits, atol=1e-4)
    # the merged folder is itself a model folder the app accepts, with no adapters in it
    again = GenerativePolicy.load(merged)
    assert again.logprobs(BATCH) == pytest.approx(want, abs=1e-3)
    assert policy.logprobs(BATCH) == pytest.approx(want, abs=1e-6)  # the policy kept its adapters


def test_a_long_prompt_keeps_its_end_in_drafts_and_training(policy):
    policy.encoder.max_prompt = 8
    long = " ".join(["the image shows a digit"] * 10) + " finding :"
    torch.manual_seed(2)
    d = policy.generate([long], max_new_tokens=4, temperature=1.0)[0][0]
    ex = Example(long, d.text, True, completion_ids=d.token_ids)
    assert policy.logprobs([ex])[0] == pytest.approx(d.logprob, abs=1e-4)
    ids, n = policy.encoder.sequence(Example(long, "seven", True))
    assert n == 8 and policy.tokenizer.decode(ids[:n]).endswith("finding :")
    assert ids[n:] == [*policy.tokenizer("seven")["input_ids"], policy.encoder.eos_id]
    policy.kto_step([ex, Example(long, "seven", True)])
