"""The trainer's close writes the embeddings it computed since its last shard (issue 14, ADR 0014):
the idle trainer embeds a few items at a time and stores them one shard per 256 or 30 s, so
without this the next session computed the last ones again."""

from __future__ import annotations

from mmrl_desktop.core.data.project import Project
from mmrl_desktop.core.learning.pretrained import inspect_encoder
from mmrl_desktop.core.learning.pretrained.cache import EmbeddingCache
from mmrl_desktop.core.learning.pretrained.idle import idle_fill
from mmrl_desktop.core.learning.trainer import Trainer
from tests.core.enginefixtures import digits_project
from tests.core.tinyhf import tiny_model


def test_embeddings_computed_since_the_last_shard_are_in_the_cache_after_close(tmp_path):
    vit = tiny_model(tmp_path / "vit", "vit")
    project = digits_project(tmp_path, n=30, algorithm={"options": {"pool_size": 10}})
    project.encoders = {"image": str(vit)}
    project.save()
    trainer = Trainer(Project.open(project.root), device="cpu")
    trainer.info()  # built: the pool sample and the first hold-out items embedded, in shards
    info = inspect_encoder(vit)
    before = len(EmbeddingCache(project.root, info))
    computed = trainer.featurizer.pretrained.computed
    while trainer.featurizer.pretrained.computed == computed:
        assert idle_fill(trainer)  # the rest of the pool, four at a time, held in memory
    new = trainer.featurizer.pretrained.computed - computed
    assert len(EmbeddingCache(project.root, info)) == before  # not yet in a shard
    trainer.close(checkpoint=False)
    assert len(EmbeddingCache(project.root, info)) == before + new
