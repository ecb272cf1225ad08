"""Small synthetic test/validation sets with survival predictions of known quality.

The true event time is exponential with rate :math:`e^{0.8 x}/15` (months); censoring is
uniform on [6, 20] months and administrative at 14 months. A model's survival curve is
:math:`S(t) = \\exp(-e^{0.8x + \\sigma \\epsilon} t / 15)` on the grid 1..12 months: the
smaller ``noise`` (σ), the better the model.
"""

from __future__ import annotations

import numpy as np

from oncofusion.evaluation import PredictionSet

GRID = np.arange(1.0, 13.0)
HORIZONS = [3.0, 6.0, 9.0, 12.0]


def cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, time, event) of ``n`` patients."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_true = rng.exponential(np.exp(-0.8 * x) * 15.0)
    cens = np.minimum(rng.uniform(6.0, 20.0, n), 14.0)
    return x, np.minimum(t_true, cens), t_true <= cens


TRAIN = cohort(150, 99)[1:]


def predset(
    name: str,
    noise: float,
    *,
    n: int = 80,
    data_seed: int = 1,
    noise_seed: int = 3,
    train: bool = True,
    grid: np.ndarray = GRID,
    horizons: list[float] | None = None,
) -> PredictionSet:
    """Predictions of a model with the given ``noise`` on the cohort drawn with ``data_seed``."""
    x, t, e = cohort(n, data_seed)
    lp = 0.8 * x + noise * np.random.default_rng(noise_seed).normal(size=n)
    surv = np.exp(-np.outer(np.exp(lp), grid) / 15.0)
    return PredictionSet(
        model=name,
        patient_ids=[f"p{i:03d}" for i in range(n)],
        time=t,
        event=e,
        surv=surv,
        grid=grid,
        horizons=HORIZONS if horizons is None else horizons,
        train_time=TRAIN[0] if train else None,
        train_event=TRAIN[1] if train else None,
    )


def models(n: int = 80, data_seed: int = 1) -> list[PredictionSet]:
    """A full model, an ablation and a weak comparator on the same patients."""
    return [
        predset("full", 0.2, n=n, data_seed=data_seed),
        predset("no_imaging", 0.8, n=n, data_seed=data_seed, noise_seed=4),
        predset("cox", 1.5, n=n, data_seed=data_seed, noise_seed=5),
    ]
