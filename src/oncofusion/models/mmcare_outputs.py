"""What MM-Care predicts for a set of patients: OS and LC under every arm, and the decision.

:class:`ArmPredictions` holds, per patient and arm, the discrete-time OS hazards on the time
grid (so :math:`P_{OS,T}(t) = \\prod_{k: c_k \\le t} (1 - h_{T,k})`, interpolated between
cuts with a piecewise-constant hazard), the probability of local control at each LC horizon,
the propensity of each arm with the overlap flag, and optional MC-dropout draws of both.
:class:`MMCarePrediction` is the generic :class:`~oncofusion.models.prediction.Prediction`
(the curve under the arm each patient received) carrying the per-arm block, so
``oncofusion predict`` writes per-arm columns and the recommendation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.models.prediction import Prediction

__all__ = ["ArmPredictions", "MMCarePrediction"]


def _interp(surv: np.ndarray, cuts: np.ndarray, times: np.ndarray) -> np.ndarray:
    """:math:`S(t)` for ``surv`` (..., K) at ``times`` (piecewise-constant hazard, held past the grid)."""
    import torch

    from oncofusion.survival.transforms import interpolate_survival

    flat = surv.reshape(-1, surv.shape[-1])
    out = interpolate_survival(
        torch.as_tensor(flat, dtype=torch.float64), cuts, np.asarray(times, float), beyond="hold"
    )
    return np.asarray(out).reshape(*surv.shape[:-1], len(times))


@dataclass
class ArmPredictions:
    """Per-patient, per-arm outcomes (arrays have the arms on axis 1, in ``arms`` order).

    Attributes
    ----------
    patient_ids, arms
        Row and arm labels.
    cuts
        OS grid :math:`c_0 < \\dots < c_K` (cohort time unit).
    os_hazard
        (n, A, K) conditional OS hazards per interval.
    lc_horizons
        (J,) LC horizons.
    lc_control
        (n, A, J) probability of local control at each LC horizon (higher is better).
    received
        (n,) the arm received, ``""`` when unknown (a new patient).
    propensity
        (n, A) propensity of each arm (from the training propensity model).
    outside_support
        (n,) True when some arm's propensity lies outside the overlap bounds.
    os_horizons
        Horizons reported by :meth:`to_frame`.
    os_surv_draws, lc_control_draws
        MC-dropout draws, (D, n, A, K) and (D, n, A, J), or None.
    """

    patient_ids: list[str]
    arms: list[str]
    cuts: np.ndarray
    os_hazard: np.ndarray
    lc_horizons: np.ndarray
    lc_control: np.ndarray
    received: np.ndarray
    propensity: np.ndarray
    outside_support: np.ndarray
    os_horizons: list[float] = field(default_factory=list)
    time_unit: str = "months"
    os_surv_draws: np.ndarray | None = None
    lc_control_draws: np.ndarray | None = None

    @property
    def os_surv(self) -> np.ndarray:
        """(n, A, K) :math:`P_{OS}(c_k)` at the end of each interval."""
        return np.cumprod(1.0 - self.os_hazard, axis=-1)

    def os_at(self, times: Any) -> np.ndarray:
        """(n, A, T) probability of being alive at ``times`` under each arm."""
        return _interp(self.os_surv, self.cuts, np.atleast_1d(np.asarray(times, float)))

    def lc_at(self, horizon: float) -> np.ndarray:
        """(n, A) probability of local control at ``horizon`` (one of :attr:`lc_horizons`)."""
        return self.lc_control[:, :, self._lc_index(horizon)]

    def _lc_index(self, horizon: float) -> int:
        hit = np.flatnonzero(np.isclose(self.lc_horizons, float(horizon)))
        if hit.size == 0:
            raise ConfigError(
                f"local control is predicted at {self.lc_horizons.tolist()} {self.time_unit}, not at {horizon:g}. "
                "Fix: use one of those horizons."
            )
        return int(hit[0])

    def draws_at(self, horizon: float) -> tuple[np.ndarray, np.ndarray] | None:
        """MC draws of :math:`P_{OS}` and :math:`P_{LC}` at ``horizon``, each (D, n, A), or None."""
        if self.os_surv_draws is None or self.lc_control_draws is None:
            return None
        os_d = _interp(self.os_surv_draws, self.cuts, np.array([float(horizon)]))[..., 0]
        return os_d, self.lc_control_draws[..., self._lc_index(horizon)]

    def received_index(self) -> np.ndarray:
        """(n,) index of the received arm, -1 when unknown."""
        lookup = {a: i for i, a in enumerate(self.arms)}
        return np.array([lookup.get(str(r), -1) for r in self.received], dtype=int)

    def recommend(
        self, *, alpha: float, beta: float, horizon: float, ci: float = 0.9
    ) -> pd.DataFrame:
        """The recommendation of :func:`oncofusion.decide.recommend` at ``horizon``.

        ``beta = 0`` (or a model without LC) uses OS alone. Columns: those of ``recommend``
        plus ``p_os_<arm>``, ``p_lc_<arm>``, ``propensity_<arm>`` and ``outside_support``.
        """
        from oncofusion.decide import recommend

        p_os = self.os_at([horizon])[..., 0]
        has_lc = self.lc_control.shape[-1] > 0 and beta > 0
        p_lc = self.lc_at(horizon) if has_lc else None
        draws = self.draws_at(horizon) if has_lc else None
        kwargs: dict[str, Any] = {}
        if draws is not None:
            kwargs = {"p_os_draws": draws[0], "p_lc_draws": draws[1]}
        elif self.os_surv_draws is not None:
            kwargs = {
                "p_os_draws": _interp(self.os_surv_draws, self.cuts, np.array([float(horizon)]))[
                    ..., 0
                ]
            }
        rec = recommend(
            p_os,
            p_lc,
            self.arms,
            alpha=alpha,
            beta=beta if has_lc else 0.0,
            ci=ci,
            patient_ids=self.patient_ids,
            **kwargs,
        )
        for j, a in enumerate(self.arms):
            rec[f"p_os_{a}"] = p_os[:, j]
            if p_lc is not None:
                rec[f"p_lc_{a}"] = p_lc[:, j]
            rec[f"propensity_{a}"] = self.propensity[:, j]
        rec["outside_support"] = self.outside_support
        rec.attrs["horizon"] = float(horizon)
        return rec

    def received_prediction(self) -> MMCarePrediction:
        """The curve under the arm each patient received (NaN rows for an unknown arm)."""
        idx = self.received_index()
        n, _, k = self.os_hazard.shape
        hazard = np.full((n, k), np.nan)
        known = idx >= 0
        hazard[known] = self.os_hazard[np.flatnonzero(known), idx[known]]
        surv = np.cumprod(1.0 - hazard, axis=1)
        return MMCarePrediction(
            list(self.patient_ids),
            self.cuts,
            hazard,
            surv,
            landmark=float(self.cuts[0]),
            horizons=list(self.os_horizons),
            time_unit=self.time_unit,
            per_arm=self,
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per patient: received arm, per-arm OS at the OS horizons and LC at the
        LC horizons, propensities and the overlap flag."""
        data: dict[str, Any] = {"patient_id": self.patient_ids, "received_arm": self.received}
        hs = [h for h in self.os_horizons if self.cuts[0] < h <= self.cuts[-1]]
        os_h = self.os_at(hs) if hs else np.zeros((len(self.patient_ids), len(self.arms), 0))
        for j, a in enumerate(self.arms):
            for t, h in enumerate(hs):
                data[f"os_{a}_{h:g}"] = os_h[:, j, t]
            for t, h in enumerate(self.lc_horizons):
                data[f"lc_{a}_{h:g}"] = self.lc_control[:, j, t]
            data[f"propensity_{a}"] = self.propensity[:, j]
        data["outside_support"] = self.outside_support
        return pd.DataFrame(data)


@dataclass
class MMCarePrediction(Prediction):
    """:class:`Prediction` under the received arm, plus the per-arm block and the decision.

    ``hazard``/``surv`` rows are NaN for patients without a received arm.
    """

    per_arm: ArmPredictions | None = None
    recommendation: pd.DataFrame | None = None

    def surv_at(self, times: np.ndarray | list[float]) -> np.ndarray:
        t = np.asarray(times, float)
        out = np.full((self.surv.shape[0], t.size), np.nan)
        ok = np.isfinite(self.surv).all(axis=1)
        if ok.any():
            out[ok] = _interp(self.surv[ok], self.cuts, t)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Risk under the received arm at the horizons, hazards and S per interval, then the
        per-arm columns of :meth:`ArmPredictions.to_frame` and the recommendation."""
        data: dict[str, Any] = {"patient_id": self.patient_ids}
        for h in self.horizons:
            if self.cuts[0] < h <= self.cuts[-1]:
                data[f"risk_{h:g}"] = self.risk_at(h)
        for j in range(self.hazard.shape[1]):
            data[f"hazard_{j + 1}"] = self.hazard[:, j]
        for j in range(self.hazard.shape[1]):
            data[f"surv_{self.cuts[j + 1]:g}"] = self.surv[:, j]
        frame = pd.DataFrame(data)
        if self.per_arm is not None:
            frame = frame.merge(self.per_arm.to_frame(), on="patient_id", how="left", sort=False)
        if self.recommendation is not None:
            keep = ["patient_id", "recommended", "benefit", "low", "high", "preference"]
            rec = self.recommendation[keep].rename(
                columns={"low": "benefit_low", "high": "benefit_high"}
            )
            frame = frame.merge(
                rec.astype({"patient_id": str}), on="patient_id", how="left", sort=False
            )
        return frame


def check_same_patients(a: list[str], b: list[str]) -> None:
    if list(map(str, a)) != list(map(str, b)):
        raise SurvivalInputError("predictions and outcomes list different patients (or orders).")
