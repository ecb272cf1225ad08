"""The result of predicting for a set of patients with a discrete-time model."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Prediction"]


@dataclass
class Prediction:
    """Hazards and survival on the model's grid, possibly conditional on a landmark.

    Attributes
    ----------
    patient_ids
        One per row.
    cuts
        Grid ``c_0 < ... < c_K`` (time unit of the cohort); for a landmark prediction the
        grid starts at the landmark ``s`` and ``surv`` is :math:`S(t \\mid T > s)`.
    hazard
        Conditional hazard per interval, shape (n, K) — the probability of the event in
        interval k given survival to its start.
    surv
        :math:`S(c_k)` at the end of each interval, shape (n, K).
    landmark
        0 (or the baseline) for a baseline prediction, else ``s``.
    horizons
        Times at which :meth:`to_frame` reports cumulative risk.
    """

    patient_ids: list[str]
    cuts: np.ndarray
    hazard: np.ndarray
    surv: np.ndarray
    landmark: float = 0.0
    horizons: list[float] = field(default_factory=list)
    time_unit: str = "months"

    @property
    def risk(self) -> np.ndarray:
        """Cumulative risk :math:`F(c_k) = 1 - S(c_k)`, shape (n, K) (higher is worse)."""
        return 1.0 - self.surv

    def surv_at(self, times: np.ndarray | list[float]) -> np.ndarray:
        """:math:`S(t)` at ``times`` (exponential interpolation = piecewise-constant hazard)."""
        from oncofusion.survival.transforms import interpolate_survival

        return np.asarray(interpolate_survival(self.surv, self.cuts, np.asarray(times, float), beyond="hold"))

    def risk_at(self, t: float) -> np.ndarray:
        return 1.0 - self.surv_at([t])[:, 0]

    def to_frame(self) -> pd.DataFrame:
        """One row per patient: landmark, risk at each horizon, then hazards and S per interval."""
        data: dict[str, object] = {"patient_id": self.patient_ids, "landmark": self.landmark}
        for h in self.horizons:
            if self.cuts[0] < h <= self.cuts[-1]:
                data[f"risk_{h:g}"] = self.risk_at(h)
        k = self.hazard.shape[1]
        for j in range(k):
            data[f"hazard_{j + 1}"] = self.hazard[:, j]
        for j in range(k):
            data[f"surv_{self.cuts[j + 1]:g}"] = self.surv[:, j]
        return pd.DataFrame(data)
