"""Learning algorithms: one self-contained module each, in the plain dict ``ALGORITHMS``.

``ALGORITHMS`` maps each name of ``config.ALGORITHM_NAMES`` (the one list of names, torch-free:
config validation, command-line help and the Settings dialog read it there) to its class.
Importing this package imports the algorithms, and so torch.
"""

from __future__ import annotations

from mmrl_desktop.core.config import ALGORITHM_NAMES
from mmrl_desktop.core.learning.algorithms.base import Algorithm
from mmrl_desktop.core.learning.algorithms.default import DefaultAlgorithm
from mmrl_desktop.core.learning.algorithms.egreedy_q import EGreedyQ
from mmrl_desktop.core.learning.algorithms.reinforce import Reinforce
from mmrl_desktop.core.learning.algorithms.supervised import Supervised

__all__ = ["ALGORITHMS", "ALGORITHM_NAMES"]

ALGORITHMS: dict[str, type[Algorithm]] = {
    cls.name: cls for cls in (DefaultAlgorithm, EGreedyQ, Reinforce, Supervised)
}
