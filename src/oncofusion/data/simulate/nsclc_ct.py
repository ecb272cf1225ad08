"""CT patches of lung nodules for the simulated NSCLC cohort, with their segmentation masks.

A cubic patch (``size``:sup:`3` voxels over a 64 mm field of view, values in Hounsfield
units) centred on the nodule. In direction :math:`\\hat u` from the nodule centre the
boundary lies at

.. math::

    R(\\hat u) = R_0 \\big(1 + 0.12\\, \\ell(\\hat u)\\big)
        + \\sum_k L_k \\exp\\!\\big(-(1 - \\hat u \\cdot v_k) / w^2\\big), \\qquad
        L_k = s\\, R_0\\, U_k, \\ U_k \\sim U(0.4, 1)

with :math:`R_0` half the diameter, :math:`\\ell` a smooth lobulation, and thin spikes
(width :math:`w = 0.09`) whose length scales with the spiculation :math:`s \\in (0, 1)`.
Inside, the solid core (relative radius below the consolidation-to-tumour ratio ``ctr``)
has about +20 HU with texture of amplitude :math:`60 h` HU (heterogeneity :math:`h`); the
rest is ground glass (about -600 HU). Around it: lung parenchyma (-850 HU), a few vessels,
sometimes the chest wall, and Gaussian noise (20 HU). The mask is the nodule
(relative radius < 1), solid and ground-glass parts together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["NoduleParams", "render_ct"]

_FOV_MM = 64.0


@dataclass(frozen=True)
class NoduleParams:
    """What the image shows of a nodule: diameter (mm), spiculation, solid ratio, heterogeneity."""

    diameter_mm: float
    spiculation: float
    solid_ratio: float
    heterogeneity: float


def _unit(rng: np.random.Generator, k: int) -> np.ndarray:
    v = rng.standard_normal((k, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def render_ct(
    nodule: NoduleParams, rng: np.random.Generator, *, size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """Render one nodule patch.

    Parameters
    ----------
    nodule
        The nodule's visible parameters.
    rng
        A generator for this patient's nuisance draws (consumed).
    size
        Voxels per side (depth = height = width).

    Returns
    -------
    volume : ndarray, float32, shape (size, size, size)
        Hounsfield units.
    mask : ndarray, uint8, shape (size, size, size)
        1 inside the nodule.
    """
    if size < 8:
        raise ValueError(f"size must be >= 8 voxels, got {size}")
    voxel = _FOV_MM / size
    axis = ((np.arange(size) + 0.5) / size - 0.5) * _FOV_MM
    centre = rng.normal(0.0, 2.0, 3)
    # offsets from the nodule centre along (z, y, x), broadcast to the volume
    dz, dy, dx = (
        (axis - centre[0])[:, None, None],
        (axis - centre[1])[None, :, None],
        (axis - centre[2])[None, None, :],
    )
    r = np.sqrt(dz**2 + dy**2 + dx**2)
    inv_r = 1.0 / np.maximum(r, 1e-9)
    uz, uy, ux = dz * inv_r, dy * inv_r, dx * inv_r

    def cosine(dirs: np.ndarray) -> list[np.ndarray]:
        return [uz * v[0] + uy * v[1] + ux * v[2] for v in dirs]

    r0 = nodule.diameter_mm / 2.0
    lob_dirs = _unit(rng, 6)
    lob_phase = rng.uniform(0, 2 * np.pi, 6)
    lobulation = sum(
        np.cos(2.0 * c + ph) for c, ph in zip(cosine(lob_dirs), lob_phase, strict=True)
    )
    n_spikes = int(rng.integers(10, 21))
    spike_dirs = _unit(rng, n_spikes)
    spike_len = nodule.spiculation * r0 * rng.uniform(0.4, 1.0, n_spikes)
    boundary = r0 * (1.0 + 0.12 * lobulation / np.sqrt(3.0))
    for c, length in zip(cosine(spike_dirs), spike_len, strict=True):
        near = c > 1.0 - 12 * 0.09**2  # exp(-12) elsewhere: negligible
        boundary[near] += length * np.exp(-(1.0 - c[near]) / 0.09**2)
    rel = r / boundary
    edge = 0.5 * voxel / max(r0, voxel)
    inside = expit((1.0 - rel) / edge)
    solid = expit((nodule.solid_ratio - rel) / edge)

    def texture(k: int, kmin: float, kmax: float) -> np.ndarray:
        """Sum of k plane waves in nodule coordinates, as a product of 1-D complex exponentials."""
        dirs = _unit(rng, k)
        freq = rng.uniform(kmin, kmax, k)[:, None] * dirs * 2 * np.pi / _FOV_MM
        phase = rng.uniform(0, 2 * np.pi, k)
        ez, ey, ex = (np.exp(1j * np.outer(freq[:, j], axis - centre[j])) for j in range(3))
        field = np.einsum("m,mz,my,mx->zyx", np.exp(1j * phase), ez, ey, ex, optimize=True)
        return field.real / np.sqrt(k / 2.0)

    lung = -850.0 + 25.0 * texture(8, 2.0, 8.0)
    solid_hu = 20.0 + 60.0 * nodule.heterogeneity * texture(10, 4.0, 12.0)
    ggo_hu = -600.0 + 40.0 * texture(6, 3.0, 8.0)
    vol = lung * (1.0 - inside) + inside * (solid * solid_hu + (1.0 - solid) * ggo_hu)
    grid = (axis[:, None, None], axis[None, :, None], axis[None, None, :])
    for _ in range(int(rng.integers(2, 6))):
        p0 = rng.uniform(-_FOV_MM / 2, _FOV_MM / 2, 3)
        v = _unit(rng, 1)[0]
        oz, oy, ox = (g - c for g, c in zip(grid, p0, strict=True))
        # distance to the line through p0 along v: |o x v|
        dist = np.sqrt(
            (oy * v[2] - oz * v[1]) ** 2
            + (oz * v[0] - ox * v[2]) ** 2
            + (ox * v[1] - oy * v[0]) ** 2
        )
        vessel = expit((rng.uniform(0.8, 1.8) - dist) / (0.4 * voxel)) * (1.0 - inside)
        vol = vol * (1.0 - vessel) + 40.0 * vessel
    if rng.random() < 0.5:
        normal = _unit(rng, 1)[0]
        offset = r0 * 1.4 + rng.uniform(4.0, 14.0)
        along = dz * normal[0] + dy * normal[1] + dx * normal[2]
        wall = expit((along - offset) / voxel) * (1.0 - inside)
        vol = vol * (1.0 - wall) + 45.0 * wall
    vol = vol + rng.normal(0.0, 20.0, vol.shape)
    mask = (rel < 1.0).astype(np.uint8)
    return vol.astype(np.float32), mask
