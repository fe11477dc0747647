"""Learning algorithms: one self-contained module each, in the plain dict ``ALGORITHMS``.

``ALGORITHM_NAMES`` is importable without torch (config validation, CLI help); ``ALGORITHMS``
(name → class) imports the modules, and so torch, on first access.
"""

from __future__ import annotations

ALGORITHM_NAMES = ("default", "egreedy-q", "reinforce", "supervised")


def __getattr__(name: str):
    if name == "ALGORITHMS":
        from mmrl_desktop.core.learning.algorithms.default import DefaultAlgorithm
        from mmrl_desktop.core.learning.algorithms.egreedy_q import EGreedyQ
        from mmrl_desktop.core.learning.algorithms.reinforce import Reinforce
        from mmrl_desktop.core.learning.algorithms.supervised import Supervised

        table = {
            "default": DefaultAlgorithm,
            "egreedy-q": EGreedyQ,
            "reinforce": Reinforce,
            "supervised": Supervised,
        }
        globals()["ALGORITHMS"] = table
        return table
    raise AttributeError(name)
