"""The trainer's metrics on their way to the store: each key's values since the last write, taken
at most every ``METRICS_FLUSH_S`` seconds as one number per key — the mean, or for a ``data/``
key (a count, a model version) the last value."""

from __future__ import annotations

import time

import numpy as np

METRICS_FLUSH_S = 1.0


class MetricsBuffer:
    def __init__(self, interval_s: float = METRICS_FLUSH_S):
        self.interval_s = interval_s
        self._values: dict[str, list[float]] = {}  # not yet written to the store
        self._last_take = time.monotonic()

    def add(self, metrics: dict[str, float]) -> bool:
        """Keep ``metrics``; True when ``interval_s`` has passed since the last ``take``."""
        for k, v in metrics.items():
            self._values.setdefault(k, []).append(v)
        return time.monotonic() - self._last_take >= self.interval_s

    def take(self) -> dict[str, float]:
        """One number per key kept since the last take ({} when none), and start over."""
        rows = {
            k: (v[-1] if k.startswith("data/") else float(np.mean(v)))
            for k, v in self._values.items()
        }
        self._values = {}
        self._last_take = time.monotonic()
        return rows
