"""Which modalities the model shown predicts from (``[model] modality_choice``, ADR 0039): the
decayed prequential scores, the fusion's ``used`` flags in eval mode, and the trainer scoring
each new answer before it trains on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mmrl_desktop.core.config import ModelConfig
from mmrl_desktop.core.data.items import Item
from mmrl_desktop.core.data.project import Project, Task
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.evaluation.model_info import summary
from mmrl_desktop.core.learning import modality_choice as mc
from mmrl_desktop.core.learning.model.fusion import MaskedMeanFusion

from .enginefixtures import make_pngs


def test_the_fusion_is_kept_until_one_modality_alone_beats_it_clearly():
    choice = mc.ModalityChoice(["image", "text"])
    assert choice.candidates == [("image", "text"), ("image",), ("text",)]
    for _ in range(mc.MIN_SCORED - 1):
        choice.add([math.log(0.3), math.log(0.3), math.log(0.9)])
    assert choice.choice() is None  # too few answers scored: the choice stays as it is
    choice.add([math.log(0.3), math.log(0.3), math.log(0.9)])
    assert choice.choice() == ("text",)
    close = mc.ModalityChoice(["image", "text"])
    for _ in range(40):  # better alone, but by less than the margin over the decayed window
        close.add([math.log(0.80), math.log(0.5), math.log(0.82)])
    assert close.scores[2] - close.scores[0] < mc.MARGIN
    assert close.choice() == ("image", "text")


def test_old_answers_fade():
    choice = mc.ModalityChoice(["image", "text"])
    for _ in range(30):
        choice.add([0.0, -3.0, -3.0])  # the fusion was best
    for _ in range(60):
        choice.add([-1.0, 0.0, -1.0])  # now the image alone is
    assert choice.choice() == ("image",)


def test_the_score_is_the_likelihood_of_what_the_expert_said():
    p = torch.tensor([0.2, 0.5, 0.3])
    assert mc.outcome_loglik(p, shown=1, reward=1, corrected=-1) == pytest.approx(math.log(0.5))
    assert mc.outcome_loglik(p, shown=1, reward=-1, corrected=-1) == pytest.approx(math.log(0.5))
    assert mc.outcome_loglik(p, shown=0, reward=-1, corrected=-1) == pytest.approx(math.log(0.8))
    assert mc.outcome_loglik(p, shown=0, reward=-1, corrected=2) == pytest.approx(math.log(0.3))
    assert mc.outcome_loglik(p, shown=-1, reward=0, corrected=-1) is None


def test_the_fusion_predicts_from_the_flagged_modalities_only_in_eval_mode():
    torch.manual_seed(0)
    fusion = MaskedMeanFusion(["image", "text"], 8, norm=True)
    parts = {"image": torch.randn(3, 8), "text": torch.randn(3, 8)}
    masks = {"image": torch.tensor([1, 1, 1]).bool(), "text": torch.tensor([1, 1, 0]).bool()}
    fusion.eval()
    both = fusion(parts, masks)
    text_only = fusion(parts, {**masks, "image": torch.zeros(3, dtype=torch.bool)})
    fusion.used.copy_(torch.tensor([False, True]))
    got = fusion(parts, masks)
    assert torch.allclose(got[:2], text_only[:2])
    assert torch.allclose(got[2], both[2])  # no text: it fuses what it has (the picture)
    fusion.train()
    assert torch.allclose(fusion(parts, masks), both)  # training fuses every modality
    # a model saved before the flags existed loads with every modality on
    old = {k: v for k, v in fusion.state_dict().items() if k != "used"}
    again = MaskedMeanFusion(["image", "text"], 8, norm=True)
    again.used.zero_()
    again.load_state_dict(old)
    assert bool(again.used.all())


def test_the_setting_is_checked():
    assert ModelConfig().modality_choice == "prequential"  # since §5zz9 (ADR 0039, amended)
    assert ModelConfig.saved({"modalities": "image,text"}).modality_choice == "prequential"
    assert ModelConfig.saved({"modality_choice": "all"}).modality_choice == "all"  # as saved
    with pytest.raises(UserError, match="unknown modality_choice 'best'; choose one of all"):
        ModelConfig.from_dict({"modality_choice": "best"})


def _project(tmp_path, choice: str) -> Project:
    make_pngs(tmp_path / "png", 6)
    model = {"modalities": "image,text", "text_buckets": 64, "embed_dim": 16,
             "image_size": 16, "image_channels": 1, "modality_choice": choice}  # fmt: skip
    project = Project.create(tmp_path / "p", tasks=[Task("t", ["a", "b"])], model=model)
    rng = np.random.default_rng(0)
    items = []
    for i in range(12):
        label = "ab"[i % 2]
        png = tmp_path / "png" / ("dark", "light")[int(rng.integers(2))] / f"img{i % 6}.png"
        items.append(
            Item(f"i{i}", image=str(png), text_inline=f"word{label} x", labels={"t": label})
        )
    with project.open_store() as store:
        store.add_items(items)
    return project


@pytest.mark.parametrize("choice", ["all", "prequential"])
def test_the_trainer_scores_each_answer_before_training_on_it(tmp_path, choice):
    from mmrl_desktop.core.learning.trainer import Trainer

    project = _project(tmp_path, choice)
    trainer = Trainer(project, device="cpu", queue_size=0, checkpoints=False, resume=False)
    trainer._ensure_built()
    assert (trainer.modality_choice is None) == (choice == "all")
    with project.open_store() as store:
        for i in range(10):
            label = "ab"[i % 2]
            store.record_feedback(f"i{i}", "t", "a", 0.5, 1 if label == "a" else -1, label)
            trainer.train_pending()
    fusions = mc.fusions(trainer.algorithm)
    assert len(fusions) >= 2  # the trained model and the model shown
    flags = {tuple(f.used.tolist()) for f in fusions}
    assert len(flags) == 1  # every model predicts from the same modalities
    if choice == "all":
        assert flags == {(True, True)}
        return
    assert trainer.modality_choice.scored == 10
    assert np.isfinite(trainer.modality_choice.scores).all()
    want = trainer.modality_choice.choice()
    assert flags == {tuple(m in want for m in ("image", "text"))}


def test_a_resumed_trainer_keeps_the_saved_choice_until_it_has_scored_enough(tmp_path):
    from mmrl_desktop.core.learning.trainer import Trainer

    project = _project(tmp_path, "prequential")
    trainer = Trainer(project, device="cpu", queue_size=0, checkpoints=True, resume=False)
    trainer._ensure_built()
    mc.set_used(trainer.algorithm, ("text",))
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    again = Trainer(project, device="cpu", queue_size=0, checkpoints=True)
    with project.open_store() as store:
        for i in range(mc.MIN_SCORED - 1):
            _answer(store, i)
            again.train_pending()
    assert again.modality_choice.scored == mc.MIN_SCORED - 1
    assert again.info()["modalities_used"] == ["text"]
    again.close(checkpoint=False)


def _answer(store, i: int) -> None:
    """Answer ``i``: a 👍 on "a" for even items, a 👎 with the right label for odd ones."""
    store.record_feedback(f"i{i}", "t", "a", 0.5, 1 if i % 2 == 0 else -1, "ab"[i % 2])


def _answered(tmp_path, answers: int):
    """A "prequential" project and its checkpointing trainer, trained after each of ``answers``
    answers."""
    from mmrl_desktop.core.learning.trainer import Trainer

    project = _project(tmp_path, "prequential")
    trainer = Trainer(project, device="cpu", queue_size=0, checkpoints=True, resume=False)
    with project.open_store() as store:
        for i in range(answers):
            _answer(store, i)
            trainer.train_pending()
    return project, trainer


def test_a_read_only_trainer_predicts_from_what_the_saved_model_chose(tmp_path):
    from mmrl_desktop.core.learning.trainer import Trainer

    project, trainer = _answered(tmp_path, 4)
    mc.set_used(trainer.algorithm, ("text",))  # as if the answers had chosen the text
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    with project.open_store() as store:  # an answer after the save
        store.record_feedback("i4", "t", "a", 0.5, 1, "a")
    look = Trainer(project, device="cpu", queue_size=0, checkpoints=False)  # evaluate's
    assert look.info()["modalities_used"] == ["text"]
    model = summary(look)  # the JSON `model` of evaluate, predict and export
    assert model["modalities"] == ["image", "text"] and model["modalities_used"] == ["text"]
    assert look.modality_choice is None  # nothing re-chosen on the answer after the save
    look.close(checkpoint=False)


def test_with_every_flag_on_the_fusion_predicts_as_before_the_flags():
    torch.manual_seed(2)
    fusion = MaskedMeanFusion(["image", "audio", "text"], 8, norm=True).eval()
    parts = {m: torch.randn(5, 8) for m in fusion.modalities}
    masks = {m: torch.rand(5) > 0.3 for m in fusion.modalities}
    masks["text"][0] = True
    ln = torch.nn.functional.layer_norm
    total = sum(ln(parts[m], (8,)) * masks[m].float()[:, None] for m in fusion.modalities)
    count = sum(masks[m].float() for m in fusion.modalities).clamp_min(1.0)[:, None]
    assert torch.allclose(fusion(parts, masks), fusion.mlp(total / count), atol=1e-6)


def test_the_scores_are_saved_with_the_checkpoint_and_go_on_after_a_resume(tmp_path):
    from mmrl_desktop.core.learning.trainer import Trainer

    project, trainer = _answered(tmp_path, 5)
    saved = trainer.modality_choice.scores.copy()
    assert trainer.modality_choice.scored == 5
    mc.observe(trainer, list(trainer.buffer.rows))  # the same answers read again (a resume's)
    assert trainer.modality_choice.scored == 5  # each scored once, before training on it
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    again = Trainer(project, device="cpu", queue_size=0, checkpoints=True)
    again._ensure_built()
    assert again.modality_choice.scored == 5  # not started over: 3 more answers decide
    assert again.modality_choice.seen == max(r.event_id for r in again.buffer.rows)
    assert np.allclose(again.modality_choice.scores, saved)
    again.close(checkpoint=False)


def test_saved_scores_of_other_modalities_or_malformed_are_dropped():
    chooser = mc.ModalityChoice(["image", "text"])
    chooser.add([-1.0, -2.0, -0.5])
    meta = chooser.to_meta()
    back = mc.ModalityChoice.from_meta(["image", "text"], meta)
    assert back.scored == 1 and np.allclose(back.scores, chooser.scores)
    chooser.seen = 7
    assert mc.ModalityChoice.from_meta(["image", "text"], chooser.to_meta()).seen == 7
    for bad in (None, {}, {"modalities": ["image", "audio"], "scores": [0, 0, 0], "scored": 3},
                {"modalities": ["image", "text"], "scores": [0, "x", 0], "scored": 3},
                {"modalities": ["image", "text"], "scores": [0, 0], "scored": 3},
                {"modalities": ["image", "text"], "scores": [0, float("nan"), 0], "scored": 3},
                {"modalities": ["image", "text"], "scores": [0, 0, 0], "scored": -1}):  # fmt: skip
        fresh = mc.ModalityChoice.from_meta(["image", "text"], bad)
        assert fresh.scored == 0 and not fresh.scores.any()


def test_the_trainer_tells_when_the_modalities_it_predicts_from_change(tmp_path):
    from mmrl_desktop.core.learning.trainer import Trainer

    project = _project(tmp_path, "prequential")
    trainer = Trainer(project, device="cpu", queue_size=0, checkpoints=False, resume=False)
    assert trainer.info()["modalities_used"] == ["image", "text"]
    assert trainer.take_info_update() is None  # info() told it
    mc.set_used(trainer.algorithm, ("text",))
    assert trainer.take_info_update() == {
        "modalities": ["image", "text"],
        "modalities_used": ["text"],
    }
    assert trainer.take_info_update() is None  # told once
    trainer.close(checkpoint=False)


def test_the_setting_follows_project_toml_on_a_resume(tmp_path):
    """Not a setting of the model's shape: a checkpoint does not pin it (nor dropout)."""
    from mmrl_desktop.core.learning.checkpoints import latest_checkpoint
    from mmrl_desktop.core.learning.resume import model_config_for

    project, trainer = _answered(tmp_path, 2)
    trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    ckpt = latest_checkpoint(project.checkpoints_dir)
    asked = {**project.model, "modality_choice": "all", "modality_dropout": 0.3}
    used, warning = model_config_for(asked, ckpt)
    assert (used.modality_choice, used.modality_dropout, warning) == ("all", 0.3, "")
    ckpt.meta["model_config"]["modality_choice"] = "all"  # saved when "all" was the default
    used, _ = model_config_for({k: v for k, v in asked.items() if k != "modality_choice"}, ckpt)
    assert used.modality_choice == "prequential"  # today's default, as for a fresh model


def test_a_retracted_answer_leaves_the_scores_as_if_never_given():
    """The other answers keep the decay they had (a retracted answer's step is not undone)."""
    chooser = mc.ModalityChoice(["image", "text"])
    rng = np.random.default_rng(0)
    given = {e: list(-rng.random(3) * 3) for e in range(1, 31)}
    for e, ll in given.items():
        chooser.add(ll, event_id=e)
    chooser.forget(5)  # an older answer: its decayed term comes out
    chooser.forget(30)  # the newest
    chooser.forget(99)  # never scored: nothing changes
    assert chooser.scored == 28 and sorted(chooser.terms) == [e for e in given if e not in (5, 30)]
    kept = sum(mc.DECAY ** (30 - e) * np.asarray(ll) for e, ll in given.items() if e not in (5, 30))
    assert np.allclose(chooser.scores, kept)
    back = mc.ModalityChoice.from_meta(["image", "text"], chooser.to_meta())
    assert back.terms == chooser.terms and back.adds == chooser.adds
    back.forget(10)
    chooser.forget(10)
    assert np.allclose(back.scores, chooser.scores) and back.scored == 27


def test_only_the_newest_answers_terms_are_kept_and_old_checkpoints_resume_without_them():
    chooser = mc.ModalityChoice(["image", "text"])
    for e in range(mc.KEEP + 10):
        chooser.add([-1.0, -1.0, -1.0], event_id=e)
    assert len(chooser.terms) == mc.KEEP and min(chooser.terms) == 10
    meta = chooser.to_meta()
    del meta["terms"], meta["adds"]  # a checkpoint from before the retraction's terms
    back = mc.ModalityChoice.from_meta(["image", "text"], meta)
    assert back.terms == {} and back.scored == chooser.scored
    back.forget(100)  # unknown: the scores stay
    assert np.allclose(back.scores, chooser.scores)
    meta = chooser.to_meta()
    meta["terms"] = [[1, 5, [0.0]]]  # malformed: dropped, the scores kept
    assert mc.ModalityChoice.from_meta(["image", "text"], meta).terms == {}


def test_the_trainer_takes_an_undone_answer_out_of_the_scores(tmp_path):
    project, trainer = _answered(tmp_path, 5)
    chooser = trainer.modality_choice
    assert len(chooser.terms) == 5
    last = max(chooser.terms)
    before = chooser.scores.copy()
    at, ll = chooser.terms[last]
    with project.open_store() as store:
        store.retract(last)
    trainer.train_pending()
    assert last not in chooser.terms and chooser.scored == 4
    assert np.allclose(chooser.scores, before - np.asarray(ll))
    trainer.close(checkpoint=False)


def test_after_an_undo_rolls_the_model_back_it_predicts_from_what_the_scores_now_choose(
    tmp_path, monkeypatch
):
    """The rollback loads a state whose fusion flags are of its time: the choice the undone
    answer made must not come back with it, nor stay."""
    project, trainer = _answered(tmp_path, 9)
    chooser = trainer.modality_choice
    assert chooser.choice() == ("image", "text")
    add = chooser.add

    def text_far_better(ll, event_id=None):  # the 10th answer: the text alone foretells it
        add([ll[0], ll[1], ll[2] + 50.0], event_id)

    monkeypatch.setattr(chooser, "add", text_far_better)
    with project.open_store() as store:
        _answer(store, 9)
    trainer.train_pending()
    monkeypatch.setattr(chooser, "add", add)
    assert mc.used_by(trainer.algorithm) == ["text"]
    with project.open_store() as store:
        store.retract(max(chooser.terms))
    trainer.train_pending()
    assert trainer.undo.rollbacks == 1  # the undo restored the model from before the answer
    assert chooser.choice() == ("image", "text")
    assert mc.used_by(trainer.algorithm) == ["image", "text"]
    assert {tuple(f.used.tolist()) for f in mc.fusions(trainer.algorithm)} == {(True, True)}
    trainer.close(checkpoint=False)
