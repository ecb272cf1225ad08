"""A contrast-enhanced ultrasound (CEUS) perfusion model that renders tumour-centred ROI videos.

Per patient, three phases (seed paper 000, section 2.1) are rendered as (T, H, W) float32
videos: arterial (20-40 s after injection), portal venous (80-100 s) and delayed (230-250 s).

Time-intensity curve (TIC) of the tumour and of the liver parenchyma, with wash-in time
constant :math:`\\tau`, washout rate :math:`k` and peak scale :math:`A`:

.. math:: I(t) = A \\, (1 - e^{-t/\\tau})^2 \\, e^{-k t}

Two latent imaging factors set the tumour's appearance; a perfect encoder can read them
from the video (the imaging oracle is given them):

* :math:`u_1` (kinetics): higher :math:`u_1` means a brighter, earlier arterial peak and a
  faster washout (hypo-enhancement in the portal and delayed phases),
  :math:`A = 1.25 e^{0.18 u_1}`, :math:`\\tau = 8 e^{-0.15 u_1}` s, :math:`k = 0.004 e^{0.45 u_1}` /s;
* :math:`u_2` (morphology): higher :math:`u_2` means stronger rim enhancement, a central
  perfusion defect, more heterogeneous enhancement and a more irregular margin,
  each :math:`\\propto \\sigma(1.3 u_2)`.

Nuisance that carries no risk information: lesion radius and position, margin harmonics,
texture pattern, gain, breathing motion (sub-pixel translation, period 3-5 s) and
multiplicative speckle (partially developed: :math:`0.4 + 0.6 R`, :math:`R` Rayleigh with mean 1)
plus a little additive noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

__all__ = ["PHASES", "PerfusionParams", "perfusion_parameters", "render_ceus"]

#: phase name -> (start, end) of the acquisition window in seconds after injection
PHASES: dict[str, tuple[float, float]] = {
    "arterial": (20.0, 40.0),
    "portal": (80.0, 100.0),
    "delayed": (230.0, 250.0),
}


@dataclass(frozen=True)
class PerfusionParams:
    """Risk-bearing perfusion parameters of one or more lesions (arrays of equal shape)."""

    peak_enhancement: np.ndarray
    wash_in_time: np.ndarray
    washout_rate: np.ndarray
    rim_enhancement: np.ndarray
    central_defect: np.ndarray
    heterogeneity: np.ndarray
    margin_irregularity: np.ndarray

    def as_dict(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k)) for k in self.__dataclass_fields__}


def perfusion_parameters(u1: np.ndarray, u2: np.ndarray) -> PerfusionParams:
    """Deterministic map from the latent imaging factors :math:`(u_1, u_2)` to the parameters."""
    u1 = np.asarray(u1, dtype=np.float64)
    s2 = expit(1.3 * np.asarray(u2, dtype=np.float64))
    return PerfusionParams(
        peak_enhancement=1.25 * np.exp(0.18 * u1),
        wash_in_time=8.0 * np.exp(-0.15 * u1),
        washout_rate=0.004 * np.exp(0.45 * u1),
        rim_enhancement=0.55 * s2,
        central_defect=0.55 * expit(1.3 * (np.asarray(u2) - 0.5)),
        heterogeneity=0.08 + 0.32 * s2,
        margin_irregularity=0.03 + 0.22 * s2,
    )


def _tic(t: np.ndarray, peak: float, tau: float, k: float) -> np.ndarray:
    return peak * (1.0 - np.exp(-t / tau)) ** 2 * np.exp(-k * t)


def render_ceus(
    params: PerfusionParams,
    rng: np.random.Generator,
    *,
    frames: int = 8,
    size: int = 32,
) -> dict[str, np.ndarray]:
    """Render the three CEUS phases of one lesion.

    Parameters
    ----------
    params
        The lesion's perfusion parameters (scalars, i.e. 0-d arrays).
    rng
        A generator for this patient's nuisance draws (consumed).
    frames, size
        Frames per phase and the height = width of the ROI in pixels.

    Returns
    -------
    dict
        Phase name -> float32 array of shape ``(frames, size, size)``, intensities >= 0
        (linear scale, liver parenchyma peaks near 1).
    """
    if frames < 1 or size < 4:
        raise ValueError(f"frames must be >= 1 and size >= 4, got frames={frames}, size={size}")
    p = {k: float(v) for k, v in params.as_dict().items()}
    radius = rng.uniform(0.42, 0.62)
    centre = rng.normal(0.0, 0.05, 2)
    harmonics = np.arange(3, 8)
    h_amp = rng.uniform(0.3, 1.0, harmonics.size)
    h_amp /= np.sqrt((h_amp**2).sum())
    h_phase = rng.uniform(0, 2 * np.pi, harmonics.size)
    n_modes = 12
    k_mag = rng.uniform(3.0, 9.0, n_modes)
    k_ang = rng.uniform(0, 2 * np.pi, n_modes)
    k_vec = np.stack([k_mag * np.cos(k_ang), k_mag * np.sin(k_ang)], axis=1)
    k_phase = rng.uniform(0, 2 * np.pi, n_modes)
    bg_phase = rng.uniform(0, 2 * np.pi, n_modes)
    gain = float(np.exp(rng.normal(0.0, 0.1)))
    liver = (rng.uniform(0.9, 1.1), rng.uniform(16.0, 22.0), rng.uniform(0.0010, 0.0016))
    motion_amp = rng.uniform(0.01, 0.04)
    motion_period = rng.uniform(3.0, 5.0)
    motion_dir = rng.uniform(0, 2 * np.pi)
    motion_phase = rng.uniform(0, 2 * np.pi)

    axis = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    out: dict[str, np.ndarray] = {}
    for phase, (t0, t1) in PHASES.items():
        times = np.linspace(t0, t1, frames) if frames > 1 else np.array([(t0 + t1) / 2])
        shift = motion_amp * np.sin(2 * np.pi * times / motion_period + motion_phase)
        cx = centre[0] + shift * np.cos(motion_dir)
        cy = centre[1] + shift * np.sin(motion_dir)
        dx = xx[None] - cx[:, None, None]
        dy = yy[None] - cy[:, None, None]
        r = np.hypot(dx, dy)
        # margin harmonics: cos(h theta + phi) = Re(e^{i phi} (e^{i theta})^h)
        e_theta = (dx + 1j * dy) / np.maximum(r, 1e-12)
        power = e_theta ** harmonics[0]
        wobble = np.zeros_like(r)
        for amp, ph in zip(h_amp, h_phase, strict=True):
            wobble += amp * (np.exp(1j * ph) * power).real
            power = power * e_theta
        rel = r / (radius * (1.0 + p["margin_irregularity"] * wobble))
        inside = expit((1.0 - rel) / 0.06)
        ring = np.exp(-(((rel - 0.85) / 0.15) ** 2))
        core = np.exp(-((rel / 0.45) ** 2))
        # textures move with the lesion: cos(k.(x - c_t) + phi) = cos(a) cos(b_t) + sin(a) sin(b_t)
        a = np.einsum("hwd,md->mhw", np.stack([xx, yy], axis=-1), k_vec).reshape(n_modes, -1)
        b = np.stack([cx, cy], axis=1) @ k_vec.T  # (T, M)
        scale = 1.0 / np.sqrt(n_modes / 2.0)
        tex = []
        for ph in (k_phase, bg_phase):
            cos_a, sin_a = np.cos(a + ph[:, None]), np.sin(a + ph[:, None])
            tex.append(((np.cos(b) @ cos_a + np.sin(b) @ sin_a) * scale).reshape(r.shape))
        texture, bg_texture = tex
        i_t = _tic(times, p["peak_enhancement"], p["wash_in_time"], p["washout_rate"])[
            :, None, None
        ]
        i_l = _tic(times, *liver)[:, None, None]
        lesion = i_t * (1.0 + p["rim_enhancement"] * ring - p["central_defect"] * core)
        lesion = lesion * np.clip(1.0 + p["heterogeneity"] * texture, 0.0, None)
        background = i_l * (1.0 + 0.05 * bg_texture)
        clean = gain * (0.08 + inside * lesion + (1.0 - inside) * background)
        rayleigh = rng.rayleigh(np.sqrt(2.0 / np.pi), clean.shape)
        video = clean * (0.4 + 0.6 * rayleigh) + rng.normal(0.0, 0.02, clean.shape)
        out[phase] = np.clip(video, 0.0, None).astype(np.float32)
    return out
