"""The KTO loss against TRL's KTOTrainer (loss_type="kto") on the same batch of the same model:
the same loss, KL estimate and rewards to 1e-6."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.learning.generate.encode import join
from mmrl_desktop.core.learning.generate.kto import (
    KTOSettings,
    balanced_desirable_weight,
    balanced_weights,
    kto_loss,
    mismatched,
    thumbs_up_lr_scale,
)
from mmrl_desktop.core.learning.generate.policy import Example, GenerativePolicy
from mmrl_desktop.core.learning.generate.tiny import build_tiny_lm

WORDS = ["the", "image", "shows", "a", "digit", "one", "two", "seven", "nine", "finding", ":"]
BATCH = [
    Example("finding :", "seven", True),
    Example("the image shows", "two two", False),
    Example("finding : a", "digit nine", True),
    Example("the image", "shows one", False),
    Example("the image shows a", "digit", False),
]
SETTINGS = KTOSettings(beta=0.3, desirable_weight=1.2, undesirable_weight=0.8)


def test_kto_loss_formula_by_hand():
    logps = torch.tensor([-2.0, -3.0, -1.0])
    ref = torch.tensor([-2.5, -2.0, -1.0])
    kl_p, kl_r = torch.tensor([-4.0, -4.0, -4.0]), torch.tensor([-4.3, -4.3, -4.3])
    desirable = torch.tensor([True, False, True])
    loss, stats = kto_loss(logps, ref, kl_p, kl_r, desirable, SETTINGS)
    z0 = 0.3
    sig = torch.sigmoid
    want = (
        1.2 * (1 - sig(torch.tensor(0.3 * (0.5 - z0))))
        + 0.8 * (1 - sig(torch.tensor(0.3 * (z0 + 1.0))))
        + 1.2 * (1 - sig(torch.tensor(0.3 * (0.0 - z0))))
    ) / 3
    assert float(loss) == pytest.approx(float(want), abs=1e-6)
    assert stats["kl"] == pytest.approx(z0, abs=1e-6)
    assert stats["rewards_chosen"] == pytest.approx(0.3 * 0.25, abs=1e-6)
    assert stats["rewards_rejected"] == pytest.approx(-0.3, abs=1e-6)
    # the KL estimate is clamped at 0 and carries no gradient
    _, stats = kto_loss(logps, ref, kl_r, kl_p, desirable, SETTINGS)
    assert stats["kl"] == 0.0
    assert mismatched(3) == [2, 0, 1]


def test_balanced_desirable_weight():
    assert balanced_desirable_weight(10, 30) == 3.0
    assert balanced_desirable_weight(30, 10) == 1.0  # never below 1
    assert balanced_desirable_weight(0, 50) == 10.0  # capped; no division by zero


def _trl_in_range(n_d: int, n_u: int, w_d: float, w_u: float) -> bool:
    """TRL 1.16 KTOTrainer's check of the weights against the data's counts (eq. 8's range)."""
    des = (round(n_u * w_u / n_d, 2), round(n_u * w_u / n_d * 1.33, 2))
    und = (round(n_d * w_d / n_u / 1.33, 2), round(n_d * w_d / n_u, 2))
    return des[0] <= w_d <= des[1] or und[0] <= w_u <= und[1]


@pytest.mark.parametrize("n_d, n_u", [(2, 28), (1, 1), (30, 10), (7, 50), (900, 100)])
def test_balanced_weights_are_in_the_papers_range_and_never_raised(n_d, n_u):
    w_d, w_u = balanced_weights(n_d, n_u)
    assert w_d * n_d / (w_u * n_u) == pytest.approx(1.0)  # eq. 8's [1, 4/3], at its low end
    assert max(w_d, w_u) == 1.0 and _trl_in_range(n_d, n_u, w_d, w_u)
    w_d, w_u = balanced_weights(n_d, n_u, ratio=4 / 3)
    assert w_d * n_d / (w_u * n_u) == pytest.approx(4 / 3)
    assert balanced_weights(0, 5) == balanced_weights(5, 0) == (1.0, 1.0)


def test_the_learning_rate_is_smaller_while_few_drafts_are_good():
    assert [thumbs_up_lr_scale(n, 20) for n in (0, 5, 20, 300)] == [0.0, 0.25, 1.0, 1.0]
    assert thumbs_up_lr_scale(0, 0) == 1.0  # no ramp


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A policy whose adapters moved (so policy ≠ reference and the KL estimate is > 0)."""
    folder = build_tiny_lm(tmp_path_factory.mktemp("lm") / "lm", WORDS)
    torch.manual_seed(0)
    policy = GenerativePolicy.load(folder, lr=1e-2, kto=SETTINGS)
    for _ in range(4):
        policy.sft_step([Example(e.prompt, e.completion, True) for e in BATCH])
        policy.kto_step(BATCH)
    return policy


def _trl_figures(policy: GenerativePolicy, tmp_path, settings=SETTINGS) -> dict[str, float]:
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from peft import get_peft_model_state_dict, set_peft_model_state_dict
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(policy.info.path, local_files_only=True)
    rows = [
        {
            "prompt": e.prompt,
            "completion": join(e.prompt, e.completion)[len(e.prompt) :],
            "label": e.desirable,
        }
        for e in BATCH
    ]
    args = trl.KTOConfig(
        output_dir=str(tmp_path / "trl"),
        per_device_train_batch_size=len(BATCH),
        beta=settings.beta,
        desirable_weight=settings.desirable_weight,
        undesirable_weight=settings.undesirable_weight,
        report_to=[],
        use_cpu=True,
    )
    trainer = trl.KTOTrainer(
        model=base,
        args=args,
        train_dataset=datasets.Dataset.from_list(rows),
        processing_class=policy.tokenizer,
        peft_config=policy.model.peft_config["default"],  # reference = adapters off, as ours
    )
    set_peft_model_state_dict(trainer.model, get_peft_model_state_dict(policy.model))
    batch = trainer.data_collator([trainer.train_dataset[i] for i in range(len(BATCH))])
    trainer.model.eval()
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, batch)
    m = trainer._metrics["eval"]
    return {
        "loss": float(loss),
        "kl": m["kl"][-1],
        "rewards_chosen": m["rewards/chosen"][-1],
        "rewards_rejected": m["rewards/rejected"][-1],
        "reward_margin": m["rewards/margins"][-1],
    }


@pytest.mark.parametrize("balanced", [False, True])
def test_kto_step_equals_trl_on_the_same_batch(trained, tmp_path, balanced):
    import dataclasses

    settings = SETTINGS
    if balanced:  # the weights the trainer sets from the counts (2 desirable, 3 undesirable)
        w_d, w_u = balanced_weights(2, 3)
        settings = dataclasses.replace(SETTINGS, desirable_weight=w_d, undesirable_weight=w_u)
    trained.kto = settings
    theirs = _trl_figures(trained, tmp_path, settings)
    ours = trained.kto_step(BATCH)  # the figures of the batch before this step's update
    assert theirs["kl"] > 0.01  # the KL estimate is in play, not clamped away
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key


def test_the_reference_point_from_the_policys_own_samples(trained):
    """``kto_step(batch, kl_batch)``: z0 from the given pairs (texts the policy samples now for
    each prompt), the same loss otherwise."""
    torch.manual_seed(1)
    samples = trained.sample_kl_batch(BATCH, max_new_tokens=3)
    assert [s.prompt for s in samples] == [e.prompt for e in BATCH]
    assert all(s.completion_ids for s in samples)
    gap = [
        p - r
        for p, r in zip(
            trained.logprobs(samples), trained.logprobs(samples, reference=True), strict=True
        )
    ]
    stats = trained.kto_step(BATCH, samples)
    assert stats["kl"] == pytest.approx(max(0.0, sum(gap) / len(gap)), abs=1e-5)
