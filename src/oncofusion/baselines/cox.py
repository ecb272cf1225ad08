"""Cox proportional-hazards comparators.

* :class:`CoxBaseline`: the classical clinical model of DMA-Net §2.5: every variable is
  screened alone by a univariable Cox model (Wald test, kept when :math:`p <` ``screen_p``,
  0.10 by default), then one multivariable Cox model is fitted on the retained variables
  (lifelines ``CoxPHFitter``).

The elastic-net Cox model for high-dimensional inputs is in :mod:`oncofusion.baselines.coxnet`.
Both predict

.. math:: S(t \\mid x) = \\exp\\{-\\hat H_0(t)\\, \\exp(\\eta(x))\\}

with :math:`\\hat H_0` the Breslow estimate on the training data. Saved as JSON: the
coefficients, the centring vector, the baseline cumulative hazard and the feature state.

References
----------
Cox DR. Regression models and life-tables. JRSS-B 1972;34:187-220.
Simon N, Friedman J, Hastie T, Tibshirani R. Regularization paths for Cox's proportional
hazards model via coordinate descent. J Stat Softw 2011;39(5).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._common import (
    Baseline,
    breslow_cumulative_hazard,
    step_matrix,
    survival_target,
    warn_once,
)
from oncofusion.baselines.features import TabularFeatures
from oncofusion.errors import ConfigError, OncofusionError

__all__ = [
    "CoxBaseline",
    "CoxFit",
    "fit_cox",
    "resolve_use",
    "use_param",
    "wald_p",
]


def use_param(use: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Normalise a ``use`` argument to a tuple of names (``None`` stays ``None``)."""
    if use is None:
        return None
    return (str(use),) if isinstance(use, str) else tuple(str(u) for u in use)


def resolve_use(use: str | Sequence[str] | None, schema: Any) -> tuple[str, ...]:
    """``use`` as given, or (``None``) every tabular modality the cohort declares."""
    if use is not None:
        return (use,) if isinstance(use, str) else tuple(use)
    out = ["clinical"] if schema.clinical.all else []
    out += ["biomarkers"] if schema.biomarkers else []
    out += ["genomics"] if schema.genomics else []
    return tuple(out)


@dataclass
class CoxFit:
    """A fitted proportional-hazards model on named features.

    ``eta(x) = (x - center) @ coef - offset``; ``H(t | x) = H0(t) exp(eta(x))``.
    """

    features: list[str]
    coef: np.ndarray
    center: np.ndarray
    base_times: np.ndarray
    base_cumhaz: np.ndarray
    se: np.ndarray = field(default_factory=lambda: np.zeros(0))
    offset: float = 0.0

    def eta(self, X: np.ndarray) -> np.ndarray:
        """Linear predictor (log relative hazard; higher is worse)."""
        if not self.features:
            return np.zeros(len(X))
        return (np.asarray(X, dtype=np.float64) - self.center) @ self.coef - self.offset

    def survival(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        """:math:`S(t\\mid x)` of shape ``(n, len(times))``."""
        H0 = step_matrix(self.base_times, self.base_cumhaz[None, :], times, before=0.0)[0]
        return np.exp(-np.exp(self.eta(X))[:, None] * H0[None, :])

    def to_dict(self) -> dict[str, Any]:
        return {
            "features": self.features,
            "coef": self.coef.tolist(),
            "center": self.center.tolist(),
            "base_times": self.base_times.tolist(),
            "base_cumhaz": self.base_cumhaz.tolist(),
            "se": self.se.tolist(),
            "offset": self.offset,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CoxFit:
        return cls(
            list(d["features"]),
            np.asarray(d["coef"], dtype=np.float64),
            np.asarray(d["center"], dtype=np.float64),
            np.asarray(d["base_times"], dtype=np.float64),
            np.asarray(d["base_cumhaz"], dtype=np.float64),
            np.asarray(d.get("se", []), dtype=np.float64),
            float(d.get("offset", 0.0)),
        )


def fit_cox(
    X: pd.DataFrame,
    time: np.ndarray,
    event: np.ndarray,
    *,
    penalizer: float = 0.0,
    entry: np.ndarray | None = None,
    cluster: np.ndarray | None = None,
) -> tuple[CoxFit, Any]:
    """Fit lifelines' ``CoxPHFitter`` (Efron ties) and a Breslow baseline.

    ``entry`` gives left-truncation times (at risk on ``(entry, time]``); ``cluster`` gives
    cluster ids for the robust (sandwich) variance. Returns the :class:`CoxFit` and the
    lifelines fitter (for its summary).
    """
    from lifelines import CoxPHFitter
    from lifelines.exceptions import ConvergenceError

    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    features = [str(c) for c in X.columns]
    if not features:
        times, cumhaz = breslow_cumulative_hazard(time, event, np.zeros(len(time)), entry)
        return CoxFit([], np.zeros(0), np.zeros(0), times, cumhaz), None
    df = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=features)
    df["__T"] = time
    df["__E"] = event.astype(int)
    kw: dict[str, Any] = {}
    if entry is not None:
        df["__entry"] = np.asarray(entry, dtype=np.float64)
        kw["entry_col"] = "__entry"
    if cluster is not None:
        df["__cluster"] = np.asarray(cluster)
        kw["cluster_col"] = "__cluster"
        kw["robust"] = True
    cph = CoxPHFitter(penalizer=penalizer)
    try:
        cph.fit(df, duration_col="__T", event_col="__E", **kw)
    except ConvergenceError as e:
        raise OncofusionError(
            f"the Cox model on {features} did not converge ({str(e).splitlines()[0]}). "
            "Fix: set a small penalizer (e.g. penalizer=0.01), or drop collinear/separating variables."
        ) from e
    coef = cph.params_.reindex(features).to_numpy(dtype=np.float64)
    center = cph._norm_mean.reindex(features).to_numpy(dtype=np.float64)
    eta = (df[features].to_numpy() - center) @ coef
    times, cumhaz = breslow_cumulative_hazard(time, event, eta, entry)
    se = cph.standard_errors_.reindex(features).to_numpy(dtype=np.float64)
    return CoxFit(features, coef, center, times, cumhaz, se), cph


def wald_p(cph: Any) -> float:
    """Joint Wald test of all coefficients: :math:`W = \\hat\\beta^T \\hat V^{-1} \\hat\\beta \\sim \\chi^2_k`."""
    from scipy.stats import chi2

    b = cph.params_.to_numpy(dtype=np.float64)
    V = cph.variance_matrix_.to_numpy(dtype=np.float64)
    try:
        w = float(b @ np.linalg.solve(V, b))
    except np.linalg.LinAlgError:
        return 1.0
    return float(chi2.sf(w, df=len(b)))


class CoxBaseline(Baseline):
    """Univariable screening then a multivariable Cox model (DMA-Net §2.5).

    Parameters
    ----------
    use
        Modalities (``"clinical"``, ``"biomarkers"``, ``"genomics"``); ``None`` = all the
        cohort declares. DMA-Net's clinical model is ``use="clinical"``.
    screen_p
        A variable (all its dummies together, with its missing indicator) is retained when
        its univariable joint Wald test gives :math:`p <` ``screen_p``. ``1.0`` keeps all.
    penalizer
        lifelines' ridge/elastic penalty for the multivariable model (0: plain Cox).
    landmark
        Biomarker summaries use visits at or before this time.

    Attributes
    ----------
    screening_
        ``{variable: p}`` of the univariable tests; ``retained_`` the variables kept.
    """

    name = "cox"

    def __init__(
        self,
        use: str | Sequence[str] | None = None,
        screen_p: float = 0.10,
        penalizer: float = 0.0,
        landmark: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 < float(screen_p) <= 1.0:
            raise ConfigError(f"screen_p must be in (0, 1], got {screen_p}.")
        if float(penalizer) < 0:
            raise ConfigError(f"penalizer must be >= 0, got {penalizer}.")
        self.use = use_param(use)
        self.screen_p = float(screen_p)
        self.penalizer = float(penalizer)
        self.landmark = float(landmark)

    def fit(self, cohort: Any) -> CoxBaseline:
        time, event = survival_target(cohort)
        self.features_ = TabularFeatures(
            cohort.schema, resolve_use(self.use, cohort.schema), self.landmark, drop_first=True
        ).fit(cohort)
        X = self.features_.transform_frame(cohort)
        self.screening_: dict[str, float] = {}
        retained: list[str] = []
        for var, cols in self.features_.groups().items():
            if self.screen_p >= 1.0:
                retained.append(var)
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _, cph = fit_cox(X[cols], time, event)
                p = wald_p(cph)
            except OncofusionError:
                p = 1.0
            self.screening_[var] = p
            if p < self.screen_p:
                retained.append(var)
        if not retained:
            warn_once(
                f"cox-empty-{id(self)}",
                f"no variable passed univariable screening at p < {self.screen_p}; the Cox baseline "
                "predicts the Breslow (Nelson-Aalen) curve for everyone.",
            )
        self.retained_ = retained
        groups = self.features_.groups()
        cols = [c for v in retained for c in groups[v]]
        self.fit_, self.lifelines_ = fit_cox(X[cols], time, event, penalizer=self.penalizer)
        self._remember(cohort)
        return self

    def predict_survival(self, cohort: Any, times: Any) -> np.ndarray:
        t = self._check_times(times)
        X = self.features_.transform_frame(cohort)[self.fit_.features].to_numpy(dtype=np.float64)
        return self.fit_.survival(X, t)

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {
            "features": self.features_.to_dict(),
            "cox": self.fit_.to_dict(),
            "screening": self.screening_,
            "retained": self.retained_,
        }

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self.features_ = TabularFeatures.from_dict(state["features"])
        self.fit_ = CoxFit.from_dict(state["cox"])
        self.screening_ = dict(state["screening"])
        self.retained_ = list(state["retained"])
