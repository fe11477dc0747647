"""The trainer loop's idle hook for pretrained encoders, torch-free: a project without a
pretrained encoder never imports the embedding code."""

from __future__ import annotations


def idle_fill(trainer) -> bool:
    """``features.idle_fill`` when the trainer has a pretrained encoder (ADR 0014); else False,
    without importing it."""
    if getattr(getattr(trainer, "featurizer", None), "pretrained", None) is None:
        return False
    from mmrl_desktop.core.learning.pretrained import features

    return features.idle_fill(trainer)


def flush_embeddings(trainer) -> None:
    """Embeddings the trainer computed but has not yet written (one shard per 256 or 30 s) into
    the cache now: the trainer is closing (else the next session computes them again)."""
    pre = getattr(getattr(trainer, "featurizer", None), "pretrained", None)
    if pre is not None:
        try:
            pre.flush()
        except OSError:  # a full or read-only disk: they are computed again next time
            pass
