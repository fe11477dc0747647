"""Synthetic chest-CT phantoms, with or without a small lung nodule (the demo, the benchmark).

``chest_phantom(rng, nodule)`` returns stored int16 values ``(slices, rows, cols)`` (HU + 1024,
written with intercept -1024) in the DICOM axial layout: rows anterior → posterior, columns patient
right → left, slices inferior → superior. What is in it, in HU: air -1000 around an elliptic body
(soft tissue 40, a fat rim -100), two lungs (-850) that narrow towards the apex, a spine (bone 700)
behind them, a table under the back, Gaussian noise (σ 15); with ``nodule``: a sphere of soft
tissue (40), 9–13 mm in radius (``NODULE_RADIUS_MM``), inside one lung. Body size, lung size and position vary a
little from case to case, so only the nodule tells the two classes apart.
"""

from __future__ import annotations

import numpy as np

SHAPE = (32, 64, 64)  # slices, rows, cols
SPACING = (5.0, 5.5, 5.5)  # mm: slice, row, col
INTERCEPT = -1024.0
NODULE_RADIUS_MM = (9.0, 13.0)


def _ellipse(yy, xx, cy, cx, ry, rx) -> np.ndarray:
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0


def chest_phantom(
    rng: np.random.Generator,
    nodule: bool,
    shape: tuple[int, int, int] = SHAPE,
    spacing: tuple[float, float, float] = SPACING,
) -> np.ndarray:
    """One phantom's stored values (int16, HU + 1024)."""
    n_k, n_j, n_i = shape
    dz, dy, dx = spacing
    zz = (np.arange(n_k, dtype=np.float32) * dz)[:, None, None]  # broadcast, never a full grid
    yy = (np.arange(n_j, dtype=np.float32) * dy)[None, :, None]
    xx = (np.arange(n_i, dtype=np.float32) * dx)[None, None, :]
    cy, cx = n_j * dy / 2 + rng.uniform(-4, 4), n_i * dx / 2 + rng.uniform(-4, 4)
    body_ry, body_rx = rng.uniform(100, 110), rng.uniform(145, 160)
    hu = np.full(shape, -1000.0, np.float32)
    hu[:] = np.where(_ellipse(yy, xx, cy, cx, body_ry, body_rx), -100.0, -1000.0)  # fat rim
    hu[:, _ellipse(yy, xx, cy, cx, body_ry - 8, body_rx - 8)[0]] = 40.0
    # lungs: wider towards the base (slice 0), narrowing to the apex
    height = (n_k - 1) * dz
    taper = 1.0 - 0.45 * (zz / max(height, 1.0)) ** 2
    lung_ry, lung_rx = rng.uniform(62, 70), rng.uniform(44, 50)
    sep = rng.uniform(60, 66)
    lungs = np.zeros(shape, bool)
    for side in (-1, 1):
        lungs |= _ellipse(yy, xx, cy - 6, cx + side * sep, lung_ry * taper, lung_rx * taper)
    hu[lungs] = -850.0
    # spine behind the lungs, a table under the back
    hu[:, _ellipse(yy, xx, cy + body_ry - 32, cx, 16, 14)[0]] = 700.0
    hu[:, ((yy > cy + body_ry + 6) & (yy < cy + body_ry + 14))[0, :, 0], :] = 200.0
    if nodule:
        _add_nodule(rng, hu, lungs, (zz, yy, xx))
    hu += rng.standard_normal(shape, dtype=np.float32) * np.float32(15.0)
    return np.clip(np.rint(hu - INTERCEPT), -32768, 32767).astype(np.int16)


def _add_nodule(rng, hu: np.ndarray, lungs: np.ndarray, grids) -> None:
    """A soft-tissue sphere whose centre lies well inside a lung."""
    zz, yy, xx = grids
    radius = rng.uniform(*NODULE_RADIUS_MM)
    inside = np.argwhere(lungs)
    for _ in range(50):
        k, j, i = inside[rng.integers(len(inside))]
        centre = (zz[k, 0, 0], yy[0, j, 0], xx[0, 0, i])
        ball = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2
        if lungs[ball].mean() > 0.97:  # the whole ball in lung: surrounded by air-like tissue
            hu[ball] = 40.0
            return
    hu[ball] = 40.0
