"""The default algorithm's pool: the project's unanswered items it learns from (``PoolMixin``),
their inputs kept compact (images and volumes as uint8), expanded when a batch is drawn,
concatenated across chunks of different text widths."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def compact(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Images and volumes as uint8 (the featurizer's own precision: x = uint8 / 255), the rest
    as is."""
    out = dict(inputs)
    for key in ("image", "volume"):  # a 32³ volume: 32 KB in the pool, not 128
        if key in out:
            out[key] = (out[key] * 255.0).round().clamp(0, 255).to(torch.uint8)
    return out


def expand(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = dict(inputs)
    for key in ("image", "volume"):
        if key in out and out[key].dtype == torch.uint8:
            out[key] = out[key].float().div_(255.0)
    return out


def cat(tensors: list[torch.Tensor]) -> torch.Tensor:
    """Concatenate along the batch, right-padding hashed text ids to a common width."""
    if tensors[0].dim() == 2 and tensors[0].dtype == torch.long:
        width = max(t.shape[1] for t in tensors)
        tensors = [F.pad(t, (0, width - t.shape[1])) for t in tensors]
    return torch.cat(tensors)


class PoolMixin:
    """The pool's items and inputs, for an algorithm with ``options.pool_size``, ``config.seed``,
    ``num_labels`` and ``device``; ``_pool_changed()`` is called when items join."""

    def _init_pool(self) -> None:
        self.pool_ids: list[str] = []
        self.pool_index: dict[str, int] = {}
        self.pool_inputs: dict[str, torch.Tensor] | None = None
        self._load = None

    def _pool_changed(self) -> None:
        """Items joined the pool (a hook: nothing by default)."""

    def pool_sample(self, item_ids) -> list[str]:
        """The items ``attach_pool`` keeps: at most ``pool_size``, a seeded sample."""
        ids = list(dict.fromkeys(item_ids))
        if len(ids) > self.options.pool_size:
            rng = np.random.default_rng(self.config.seed)
            keep = sorted(rng.choice(len(ids), self.options.pool_size, replace=False))
            ids = [ids[i] for i in keep]
        return ids

    def attach_pool(self, item_ids, load) -> None:
        """Items the trainer may learn from without an answer (never held-out ones).
        ``load(ids)`` returns their collated inputs."""
        ids = self.pool_sample(item_ids)
        self._load = load
        self.pool_ids, self.pool_index, self.pool_inputs = [], {}, None
        self._add_to_pool(ids)

    def extend_pool(self, item_ids) -> None:
        """More unanswered items join the pool (a pretrained encoder's, as they are embedded)."""
        self._add_to_pool(item_ids)

    def _add_to_pool(self, ids) -> None:
        new = [i for i in dict.fromkeys(ids) if i not in self.pool_index]
        if not new or self._load is None:
            return
        parts = [compact(self._load(new[s : s + 512])) for s in range(0, len(new), 512)]
        add = {k: cat([p[k] for p in parts]) for k in parts[0]}
        if self.pool_inputs is None:
            self.pool_inputs = add
        else:
            self.pool_inputs = {k: cat([self.pool_inputs[k], add[k]]) for k in add}
        for i in new:
            self.pool_index[i] = len(self.pool_ids)
            self.pool_ids.append(i)
        self._pool_changed()

    def _pool_batch(self, idx: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.pool_inputs is not None
        return expand({k: v[idx] for k, v in self.pool_inputs.items()})

    def _chunks(self):
        n = len(self.pool_ids)
        for s in range(0, n, 512):
            yield self._pool_batch(torch.arange(s, min(n, s + 512)))

    @torch.no_grad()
    def _pool_logp(self, net) -> dict[str, torch.Tensor]:
        """``net``'s log-probabilities on every pool item, per task (on the CPU)."""
        out: dict[str, list[torch.Tensor]] = {t: [] for t in self.num_labels}
        for inp in self._chunks():
            inp = {k: v.to(self.device, non_blocking=True) for k, v in inp.items()}
            for t, v in net(inp).items():
                out[t].append(F.log_softmax(v.float(), -1).cpu())
        return {t: torch.cat(v) for t, v in out.items() if v}
