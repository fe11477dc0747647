"""The points of one chart series (``gui/charts.py``): a preallocated ring of (x, y), Qt-free."""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """The last ``capacity`` (x, y) points, contiguous, amortised O(1) append, no reallocation.

    Storage is twice the capacity: points are written one after another and, when the end is
    reached, the newest ``capacity`` points are moved to the front once.
    """

    def __init__(self, capacity: int):
        self.capacity = int(capacity)
        self._x = np.zeros(2 * self.capacity, dtype=np.float64)
        self._y = np.zeros(2 * self.capacity, dtype=np.float64)
        self._n = 0

    def append(self, x: float, y: float) -> None:
        cap = self.capacity
        if self._n == 2 * cap:
            self._x[:cap] = self._x[cap:]
            self._y[:cap] = self._y[cap:]
            self._n = cap
        self._x[self._n] = x
        self._y[self._n] = y
        self._n += 1

    def extend(self, x, y) -> None:
        """Append many points at once (vectorised); only the newest ``capacity`` are kept."""
        x = np.asarray(x, dtype=np.float64)[-self.capacity :]
        y = np.asarray(y, dtype=np.float64)[-self.capacity :]
        if len(x) != len(y):
            raise ValueError("x and y differ in length")
        keep = min(len(self), self.capacity - len(x))
        old_x, old_y = self.data()
        old_x, old_y = old_x[len(old_x) - keep :].copy(), old_y[len(old_y) - keep :].copy()
        self._x[:keep], self._y[:keep] = old_x, old_y
        self._x[keep : keep + len(x)], self._y[keep : keep + len(y)] = x, y
        self._n = keep + len(x)

    def pop(self) -> None:
        """Drop the newest point (undo of the latest answer)."""
        if len(self):
            self._n -= 1

    def data(self) -> tuple[np.ndarray, np.ndarray]:
        """Views (oldest first) of the stored points; valid until the next ``append``."""
        start = max(0, self._n - self.capacity)
        return self._x[start : self._n], self._y[start : self._n]

    def last(self) -> tuple[float, float] | None:
        return (float(self._x[self._n - 1]), float(self._y[self._n - 1])) if self._n else None

    def clear(self) -> None:
        self._n = 0

    def __len__(self) -> int:
        return min(self._n, self.capacity)
