"""Cox proportional-hazards comparators.

* :class:`CoxBaseline`: the classical clinical model of DMA-Net §2.5: every variable is
  screened alone by a univariable Cox model (Wald test, kept when :math:`p <` ``screen_p``,
  0.10 by default), then one multivariable Cox model is fitted on the retained variables
  (lifelines ``CoxPHFitter``).
* :class:`CoxNetBaseline`: elastic-net Cox for high-dimensional inputs (genomics), with
  the penalty :math:`\\alpha` chosen by internal cross-validation on the training data only
  (scikit-survival ``CoxnetSurvivalAnalysis``).

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

from oncofusion.baselines._common import Baseline, breslow_cumulative_hazard, step_matrix, survival_target, warn_once
from oncofusion.baselines.features import TabularFeatures
from oncofusion.errors import ConfigError, OncofusionError

__all__ = ["CoxFit", "fit_cox", "wald_p", "CoxBaseline", "CoxNetBaseline", "resolve_use", "use_param"]


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


class CoxNetBaseline(Baseline):
    """Elastic-net Cox model with the penalty chosen by internal cross-validation.

    The penalised partial likelihood

    .. math:: \\max_\\beta\\; \\ell(\\beta) - \\alpha\\{r \\lVert\\beta\\rVert_1 + \\tfrac{1-r}{2}\\lVert\\beta\\rVert_2^2\\}

    (``r`` = ``l1_ratio``) is fitted along a path of ``n_alphas`` penalties; the one with
    the best mean Harrell C over ``cv_folds`` folds of the training data (ties: the larger,
    sparser penalty) is kept.

    Parameters
    ----------
    use
        Modalities; ``None`` = all the cohort declares.
    l1_ratio
        Elastic-net mixing :math:`r \\in (0, 1]`.
    n_alphas, cv_folds, seed
        Size of the penalty path, number of CV folds and the seed of the fold split.
    """

    name = "coxnet"

    def __init__(
        self,
        use: str | Sequence[str] | None = None,
        l1_ratio: float = 0.5,
        n_alphas: int = 30,
        cv_folds: int = 5,
        seed: int = 0,
        landmark: float = 0.0,
    ) -> None:
        super().__init__()
        if not 0.0 < float(l1_ratio) <= 1.0:
            raise ConfigError(f"l1_ratio must be in (0, 1], got {l1_ratio}.")
        if int(cv_folds) < 2:
            raise ConfigError(f"cv_folds must be >= 2, got {cv_folds}.")
        self.use = use_param(use)
        self.l1_ratio = float(l1_ratio)
        self.n_alphas = int(n_alphas)
        self.cv_folds = int(cv_folds)
        self.seed = int(seed)
        self.landmark = float(landmark)

    def _estimator(self, alphas: np.ndarray | None = None) -> Any:
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        return CoxnetSurvivalAnalysis(
            l1_ratio=self.l1_ratio,
            n_alphas=self.n_alphas,
            alphas=alphas,
            fit_baseline_model=False,
            max_iter=100000,
        )

    def fit(self, cohort: Any) -> CoxNetBaseline:
        from sklearn.model_selection import KFold, StratifiedKFold
        from sksurv.metrics import concordance_index_censored
        from sksurv.util import Surv

        time, event = survival_target(cohort)
        self.features_ = TabularFeatures(cohort.schema, resolve_use(self.use, cohort.schema), self.landmark).fit(
            cohort
        )
        X = self.features_.transform(cohort)
        y = Surv.from_arrays(event, time)
        path = self._estimator().fit(X, y)
        alphas = path.alphas_
        n_ev = int(event.sum())
        k = min(self.cv_folds, max(2, n_ev))
        split = (
            StratifiedKFold(k, shuffle=True, random_state=self.seed).split(X, event)
            if min(n_ev, len(event) - n_ev) >= k
            else KFold(k, shuffle=True, random_state=self.seed).split(X)
        )
        scores = np.full((k, len(alphas)), np.nan)
        for f, (tr, va) in enumerate(split):
            if not event[tr].any() or not event[va].any():
                scores[f] = np.nan
                continue
            try:
                m = self._estimator(alphas).fit(X[tr], y[tr])
            except (ArithmeticError, ValueError):
                scores[f] = np.nan
                continue
            for j in range(m.coef_.shape[1]):
                r = X[va] @ m.coef_[:, j]
                scores[f, j] = concordance_index_censored(event[va], time[va], r)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(scores, axis=0)
        mean = np.where(np.isfinite(mean), mean, -np.inf)
        best = int(np.flatnonzero(mean == mean.max())[0])  # alphas decrease: first = largest
        self.alpha_ = float(alphas[best])
        self.cv_scores_ = mean.tolist()
        self.alphas_ = alphas.tolist()
        coef = path.coef_[:, best]
        offset = float(path.offset_[best])
        names = self.features_.feature_names
        # eta = X @ coef - offset  (scikit-survival's centring)
        self.fit_ = CoxFit(names, coef.astype(np.float64), np.zeros(len(names)), np.zeros(0), np.zeros(0), offset=offset)
        self.fit_.base_times, self.fit_.base_cumhaz = breslow_cumulative_hazard(time, event, self.fit_.eta(X))
        self._remember(cohort)
        return self

    def predict_survival(self, cohort: Any, times: Any) -> np.ndarray:
        t = self._check_times(times)
        return self.fit_.survival(self.features_.transform(cohort), t)

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {
            "features": self.features_.to_dict(),
            "cox": self.fit_.to_dict(),
            "alpha": self.alpha_,
            "alphas": self.alphas_,
            "cv_scores": self.cv_scores_,
        }

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self.features_ = TabularFeatures.from_dict(state["features"])
        self.fit_ = CoxFit.from_dict(state["cox"])
        self.alpha_ = float(state["alpha"])
        self.alphas_ = list(state["alphas"])
        self.cv_scores_ = list(state["cv_scores"])
