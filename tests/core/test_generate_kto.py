"""The KTO loss against TRL's KTOTrainer (loss_type="kto") on the same batch of the same model:
the same loss, KL estimate and rewards to 1e-6."""

from __future__ import annotations

import pytest
import torch

from mmrl_desktop.core.learning.generate.encode import join
from mmrl_desktop.core.learning.generate.kto import (
    KTOSettings,
    balanced_desirable_weight,
    kto_loss,
    mismatched,
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


def _trl_figures(policy: GenerativePolicy, tmp_path) -> dict[str, float]:
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
        beta=SETTINGS.beta,
        desirable_weight=SETTINGS.desirable_weight,
        undesirable_weight=SETTINGS.undesirable_weight,
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


def test_kto_step_equals_trl_on_the_same_batch(trained, tmp_path):
    theirs = _trl_figures(trained, tmp_path)
    ours = trained.kto_step(BATCH)  # the figures of the batch before this step's update
    assert theirs["kl"] > 0.01  # the KL estimate is in play, not clamped away
    for key, value in theirs.items():
        assert ours[key] == pytest.approx(value, abs=1e-6), key
