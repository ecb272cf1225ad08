"""Elastic-net Cox comparator for high-dimensional inputs (genomics).

:class:`CoxNetBaseline` fits scikit-survival's ``CoxnetSurvivalAnalysis`` along a penalty
path and keeps the penalty with the best internal cross-validated Harrell C on the
training data only; survival comes from a Breslow baseline on the training linear
predictor. Saved as JSON (coefficients, offset, baseline hazard, feature state).

References
----------
Simon N, Friedman J, Hastie T, Tibshirani R. Regularization paths for Cox's proportional
hazards model via coordinate descent. J Stat Softw 2011;39(5).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.baselines._common import Baseline, breslow_cumulative_hazard, survival_target
from oncofusion.baselines.cox import CoxFit, resolve_use, use_param
from oncofusion.baselines.features import TabularFeatures
from oncofusion.errors import ConfigError

__all__ = ["CoxNetBaseline"]


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
        self.features_ = TabularFeatures(
            cohort.schema, resolve_use(self.use, cohort.schema), self.landmark
        ).fit(cohort)
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
        self.fit_ = CoxFit(
            names,
            coef.astype(np.float64),
            np.zeros(len(names)),
            np.zeros(0),
            np.zeros(0),
            offset=offset,
        )
        self.fit_.base_times, self.fit_.base_cumhaz = breslow_cumulative_hazard(
            time, event, self.fit_.eta(X)
        )
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
