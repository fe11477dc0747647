"""Learning on a pretrained encoder's cached embeddings (issue 14): project.toml [encoders] →
the policy reads the embedding through a small projection, the default algorithm's graph uses it,
checkpoints hold the fingerprint and path (never the encoder), a changed encoder is a sentence."""

from __future__ import annotations

import shutil

import pytest
import torch

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.errors import UserError
from mmrl_desktop.core.learning.pretrained import inspect_encoder
from mmrl_desktop.core.learning.pretrained.features import EmbeddingProjection
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import answer, digits_project
from tests.core.tinyhf import tiny_model


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return tiny_model(tmp_path_factory.mktemp("hf") / "vit", "vit")


def _project(tmp_path, vit, algorithm="default"):
    project = digits_project(tmp_path, n=30, algorithm={"algorithm": algorithm})
    project.encoders = {"image": str(vit)}
    project.save()
    return Project.open(project.root)


def test_the_policy_trains_heads_on_the_cached_embedding(vit, tmp_path):
    project = _project(tmp_path, vit)
    answer(project, 12)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    policy = trainer.algorithm.policy
    assert isinstance(policy.encoders["image"], EmbeddingProjection)
    info = inspect_encoder(vit)
    spec = trainer.model_config.pretrained["image"]
    assert spec["fingerprint"] == info.fingerprint and spec["path"] == info.path
    batch = trainer.featurizer.batch(trainer._items(trainer.holdout_ids[:3]))
    assert tuple(batch["image_emb"].shape) == (3, 32)
    assert tuple(batch["image"].shape) == (3, 1, 8, 8)  # small pixels, for the graph views only
    assert trainer.updates > 0
    assert trainer.algorithm.graph_view == "pretrained"  # the foundation embedding's graph
    assert {"pretrained", "pixels", "gradients"} <= set(trainer.algorithm.views.fixed)
    preds = trainer.predict_items(trainer.pool_ids[:2])
    assert set(preds) == set(trainer.pool_ids[:2])
    path = trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    # the checkpoint holds the projection and heads, not the encoder's weights
    from mmrl_desktop.core.learning.checkpoints import load_checkpoint

    ckpt = load_checkpoint(path)
    assert ckpt.meta["model_config"]["pretrained"]["image"]["fingerprint"] == info.fingerprint
    names = " ".join(ckpt.state["policy"].keys())
    assert "encoders.image.proj" in names and "attention" not in names
    # every item was embedded once, into the project's cache
    assert any((project.root / "embeddings").glob(f"image-{info.fingerprint}/shard-*.npz"))


def test_another_encoder_starts_afresh_with_a_sentence(vit, tmp_path):
    project = _project(tmp_path, vit, algorithm="supervised")
    answer(project, 8)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    trainer.close()
    other = tiny_model(tmp_path / "vit2", "vit")
    project.encoders = {"image": str(other)}
    project.save()
    again = Trainer(Project.open(project.root), device="cpu")
    again.info()
    assert again.resumed_from is None
    assert any("image encoder changed" in w for w in again.checkpoint_warnings)
    assert again.model_config.pretrained["image"]["path"] == str(other.resolve())
    again.close(checkpoint=False)


def test_a_checkpoint_whose_encoder_files_changed_is_refused_in_one_sentence(vit, tmp_path):
    mine = shutil.copytree(vit, tmp_path / "vit")
    project = _project(tmp_path, mine, algorithm="supervised")
    answer(project, 8)
    trainer = Trainer(project, device="cpu")
    trainer.train_pending()
    path = trainer.save_checkpoint("test")
    trainer.close(checkpoint=False)
    from mmrl_desktop.core.learning.checkpoints import load_checkpoint
    from mmrl_desktop.core.learning.pretrained.features import check_encoder_files

    spec = load_checkpoint(path).meta["model_config"]["pretrained"]
    tiny_model(tmp_path / "other", "vit")
    shutil.copy(tmp_path / "other" / "model.safetensors", mine / "model.safetensors")
    with pytest.raises(UserError, match="has changed since the model was trained"):
        check_encoder_files(spec)


def test_the_pretrained_view_places_items_by_their_embedding():
    from mmrl_desktop.core.learning.views import fixed_views

    z = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    views, _ = fixed_views([{"image_emb": z, "image_mask": torch.ones(3, dtype=torch.bool)}])
    assert set(views) == {"pretrained"}
    v = views["pretrained"]
    assert v[0] @ v[1] > v[0] @ v[2]


def test_the_trainer_loop_reports_the_embeddings_progress(vit, tmp_path):
    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Metrics, PeakMemory, State

    project = _project(tmp_path, vit)
    control, seen = LoopControl(), []

    def emit(event):
        seen.append(event)
        if event == State("idle"):
            control.request_stop()

    run_loop(lambda: Trainer(project, device="cpu", queue_size=0), control, emit)
    reports = [e.metrics for e in seen if isinstance(e, Metrics) and "embeddings/done" in e.metrics]
    assert {"embeddings/done": 30, "embeddings/total": 30} in reports  # pool and hold-out
    assert reports[0]["embeddings/done"] < 30  # it was reported while they were computed
    # with the trainer's peak memory, which a trainer still embedding when stopped never sent
    first = next(i for i, e in enumerate(seen) if isinstance(e, Metrics))
    assert isinstance(seen[first + 1], PeakMemory) and seen[first + 1].mb > 0


def test_the_trainer_embeds_only_what_it_uses_first(vit, tmp_path):
    """The default algorithm's pool sample and the hold-out, not every item of a large project."""
    project = digits_project(tmp_path, n=30, algorithm={"options": {"pool_size": 10}})
    project.encoders = {"image": str(vit)}
    project.save()
    trainer = Trainer(Project.open(project.root), device="cpu")
    trainer.info()
    assert trainer.featurizer.pretrained.computed == 10 + len(trainer.holdout_ids)
    trainer.close(checkpoint=False)


@pytest.mark.timeout(300)
def test_the_idle_trainer_embeds_the_rest_of_the_pool(vit, tmp_path):
    from mmrl_desktop.core.learning.pretrained.cache import EmbeddingCache
    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Metrics

    project = digits_project(tmp_path, n=30, algorithm={"options": {"pool_size": 10}})
    project.encoders = {"image": str(vit)}
    project.save()
    project = Project.open(project.root)
    control, seen = LoopControl(), []

    def emit(event):
        seen.append(event)
        m = getattr(event, "metrics", {})
        if (
            isinstance(event, Metrics)
            and m.get("embeddings/done") == m.get("embeddings/total") == 25
        ):
            control.request_stop()  # the whole pool (25 items), not only the sample of 10

    run_loop(lambda: Trainer(project, device="cpu", queue_size=0), control, emit)
    assert len(EmbeddingCache(project.root, inspect_encoder(vit))) == 30  # pool and hold-out


@pytest.mark.timeout(300)
def test_the_first_model_waits_for_first_pool_items_only_the_rest_join_later(vit, tmp_path):
    from mmrl_desktop.core.learning.trainer_loop import LoopControl, run_loop
    from mmrl_desktop.core.learning.trainer_messages import Metrics

    project = digits_project(tmp_path, n=30)
    project.encoders = {"image": str(vit), "first_pool": 10}
    project.save()
    project = Project.open(project.root)
    control, seen, built = LoopControl(), [], []

    def build():
        built.append(Trainer(project, device="cpu", queue_size=0))
        return built[0]

    def emit(event):
        seen.append(event)
        m = getattr(event, "metrics", {})
        if (
            isinstance(event, Metrics)
            and m.get("embeddings/done") == m.get("embeddings/total") == 25
        ):
            control.request_stop()

    run_loop(build, control, emit)
    reports = [e.metrics for e in seen if isinstance(e, Metrics) and "embeddings/done" in e.metrics]
    assert reports[0] == {"embeddings/done": 0.0, "embeddings/total": 15.0}  # 10 + 5 held out
    assert len(built[0].algorithm.pool_ids) == 25  # the other 15 joined once embedded
