"""When thumbs only's pool pseudo-labels stop: ``[algorithm.options] pseudo_until`` and
``pseudo_fixed_until``, with −1, the algorithm's choice, resolved from the project's model and
labels (0: no limit; a number is taken as it is).

A graph posterior over the pool speeds the network while the answers are few and can hold it
back later, once the network has learnt more than the graph's view shows:

- pictures above 8 px or sounds, each read by the built-in encoder, with a task of 8 labels or
  more: the pseudo-labels stop at 8 answers per label (ADR 0043);
- the same inputs with fewer labels: from ``FIXED_VIEW_UNTIL`` answers on they stop while the
  graph is on a fixed view and go on while it is on the policy's own embedding, whose posterior
  follows what the network has learnt (ADR 0044);
- texts, the 8 px digits design and pretrained encoders: they go on.
"""

from __future__ import annotations

from mmrl_desktop.core.learning.algorithms.base import FEW_PER_LABEL
from mmrl_desktop.core.learning.model.fusion import MANY_LABELS, from_scratch

FIXED_VIEW_UNTIL = 150  # answers (docs/benchmarks.md §5zz34)


def pseudo_limits(options, policy, num_labels: dict[str, int]) -> tuple[int, int]:
    """(``pseudo_until``, ``pseudo_fixed_until``) as they apply to ``policy`` and its labels."""
    config = getattr(policy, "config", None)
    scratch = config is not None and from_scratch(config)
    labels = max(num_labels.values(), default=0)
    until, fixed = options.pseudo_until, options.pseudo_fixed_until
    if until < 0:
        until = FEW_PER_LABEL * labels if scratch and labels >= MANY_LABELS else 0
    if fixed < 0:
        fixed = FIXED_VIEW_UNTIL if scratch and labels < MANY_LABELS else 0
    return until, fixed
