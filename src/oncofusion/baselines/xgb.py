"""XGBoost survival comparators: Cox-gradient boosting and accelerated failure time.

* :class:`XGBCoxBaseline` (``objective="survival:cox"``): the boosted ensemble is the log
  relative hazard :math:`f(x)`; survival comes from a Breslow baseline hazard on the
  training data, :math:`S(t\\mid x) = \\exp\\{-\\hat H_0(t)\\, e^{f(x)}\\}`.
* :class:`XGBAFTBaseline` (``objective="survival:aft"``):
  :math:`\\log T = f(x) + \\sigma\\varepsilon`, so

  .. math:: S(t\\mid x) = 1 - F_\\varepsilon\\!\\left(\\frac{\\log t - f(x)}{\\sigma}\\right)

  with :math:`F_\\varepsilon` the standard normal, logistic or (minimum) extreme-value
  CDF (``distribution``; extreme gives a Weibull model).

Saved in XGBoost's own JSON model format (``xgb_model.json``) plus JSON state; predictions
after load are identical. Training uses one thread so the same seed and data give the
same booster.

References
----------
Chen T, Guestrin C. XGBoost: a scalable tree boosting system. KDD 2016.
Barnwal A, Cho H, Hocking T. Survival regression with accelerated failure time model in
XGBoost. J Comput Graph Stat 2022;31(4):1292-1302.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._common import breslow_cumulative_hazard, step_matrix
from oncofusion.baselines._ensemble import TabularEnsembleBaseline
from oncofusion.errors import ConfigError, ModelLoadError
from oncofusion.registry import look_up_option

__all__ = ["AFT_DISTRIBUTIONS", "XGBAFTBaseline", "XGBCoxBaseline", "XGBSurvival"]

AFT_DISTRIBUTIONS = ("normal", "logistic", "extreme")


def _aft_sf(z: np.ndarray, distribution: str) -> np.ndarray:
    """:math:`1 - F(z)` of the standardised AFT error distribution."""
    from scipy.special import expit
    from scipy.stats import norm

    if distribution == "normal":
        return norm.sf(z)
    if distribution == "logistic":
        return expit(-z)
    return np.exp(-np.exp(z))  # extreme (minimum Gumbel): F(z) = 1 - exp(-exp(z))


class XGBSurvival:
    """An XGBoost booster for right-censored survival, with its survival function.

    Parameters
    ----------
    objective
        ``"survival:cox"`` or ``"survival:aft"``.
    params
        Booster parameters (``eta``, ``max_depth``, ``seed``, ...); ``nthread`` is set to 1.
    num_boost_round
        Number of trees.
    """

    def __init__(self, objective: str, params: dict[str, Any], num_boost_round: int) -> None:
        self.objective = look_up_option(
            objective, ["survival:cox", "survival:aft"], what="xgboost objective"
        )
        self.params = dict(params)
        self.num_boost_round = int(num_boost_round)
        self.booster: Any = None
        self.base_times = np.zeros(0)
        self.base_cumhaz = np.zeros(0)

    def _booster_params(self) -> dict[str, Any]:
        p = {"objective": self.objective, "nthread": 1, "verbosity": 0, **self.params}
        if self.objective == "survival:cox":
            p.setdefault("eval_metric", "cox-nloglik")
        return p

    def fit(self, X: pd.DataFrame | np.ndarray, time: np.ndarray, event: np.ndarray) -> XGBSurvival:
        import xgboost as xgb

        X = np.asarray(X, dtype=np.float64)
        time = np.asarray(time, dtype=np.float64)
        event = np.asarray(event, dtype=bool)
        # times of 0 would be ambiguous (a censored 0 reads as an event for survival:cox and
        # log 0 is undefined for AFT): move them to a tiny positive time
        pos = time[time > 0]
        eps = float(pos.min()) * 1e-3 if pos.size else 1e-6
        t = np.where(time > 0, time, eps)
        if self.objective == "survival:cox":
            d = xgb.DMatrix(X, label=np.where(event, t, -t))
        else:
            d = xgb.DMatrix(X)
            d.set_float_info("label_lower_bound", t)
            d.set_float_info("label_upper_bound", np.where(event, t, np.inf))
        params = self._booster_params()
        if self.objective == "survival:aft":
            # start from the geometric mean follow-up (base_score is on the time scale for AFT)
            params.setdefault("base_score", float(np.exp(np.mean(np.log(t)))))
        self.booster = xgb.train(params, d, num_boost_round=self.num_boost_round)
        if self.objective == "survival:cox":
            self.base_times, self.base_cumhaz = breslow_cumulative_hazard(
                time, event, self.margin(X)
            )
        return self

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Raw score: log relative hazard (cox, higher is worse) or mean log time (aft)."""
        import xgboost as xgb

        return np.asarray(
            self.booster.predict(xgb.DMatrix(np.asarray(X, dtype=np.float64)), output_margin=True),
            dtype=np.float64,
        )

    def survival(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        """:math:`S(t\\mid x)` of shape ``(n, len(times))``."""
        f = self.margin(X)
        times = np.asarray(times, dtype=np.float64)
        if self.objective == "survival:cox":
            H0 = step_matrix(self.base_times, self.base_cumhaz[None, :], times, before=0.0)[0]
            return np.exp(-np.exp(f)[:, None] * H0[None, :])
        dist = self.params.get("aft_loss_distribution", "normal")
        sigma = float(self.params.get("aft_loss_distribution_scale", 1.0))
        with np.errstate(divide="ignore"):
            logt = np.log(times)
        z = (logt[None, :] - f[:, None]) / sigma
        return np.clip(_aft_sf(z, dist), 0.0, 1.0)

    def dump(self, run_dir: Path, prefix: str = "") -> dict[str, Any]:
        path = run_dir / f"{prefix}xgb_model.json"
        self.booster.save_model(str(path))
        return {
            "objective": self.objective,
            "params": self.params,
            "num_boost_round": self.num_boost_round,
            "model_file": path.name,
            "base_times": self.base_times.tolist(),
            "base_cumhaz": self.base_cumhaz.tolist(),
        }

    @classmethod
    def restore(cls, state: dict[str, Any], run_dir: Path) -> XGBSurvival:
        import xgboost as xgb

        obj = cls(state["objective"], state["params"], state["num_boost_round"])
        path = run_dir / state["model_file"]
        if not path.is_file():
            raise ModelLoadError(
                f"run file '{path}' is missing. Fix: point to a complete run directory."
            )
        obj.booster = xgb.Booster()
        obj.booster.load_model(str(path))
        obj.base_times = np.asarray(state["base_times"], dtype=np.float64)
        obj.base_cumhaz = np.asarray(state["base_cumhaz"], dtype=np.float64)
        return obj


class _XGBBaseline(TabularEnsembleBaseline):
    objective = ""
    model_class = XGBSurvival
    model_key = "xgb"

    def __init__(
        self,
        use: str | Sequence[str] | None,
        n_estimators: int,
        learning_rate: float,
        max_depth: int,
        subsample: float,
        colsample_bytree: float,
        min_child_weight: float,
        reg_lambda: float,
        seed: int,
        landmark: float,
    ) -> None:
        super().__init__(use, n_estimators, seed, landmark)
        if not float(learning_rate) > 0:
            raise ConfigError(f"learning_rate must be > 0, got {learning_rate}.")
        self.learning_rate = float(learning_rate)
        self.max_depth = int(max_depth)
        self.subsample = float(subsample)
        self.colsample_bytree = float(colsample_bytree)
        self.min_child_weight = float(min_child_weight)
        self.reg_lambda = float(reg_lambda)

    def _xgb_params(self) -> dict[str, Any]:
        return {
            "eta": self.learning_rate,
            "max_depth": self.max_depth,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "seed": self.seed,
        }

    def _new_model(self) -> XGBSurvival:
        return XGBSurvival(self.objective, self._xgb_params(), self.n_estimators)


class XGBCoxBaseline(_XGBBaseline):
    """XGBoost with the Cox partial likelihood and a Breslow baseline hazard.

    Parameters
    ----------
    use
        Modalities; ``None`` = all tabular modalities the cohort declares.
    n_estimators, learning_rate, max_depth, subsample, colsample_bytree, min_child_weight, reg_lambda
        Booster settings (``num_boost_round``, ``eta``, ``max_depth``, ...).
    seed
        Booster seed.
    landmark
        Biomarker summaries use visits at or before this time.
    """

    name = "xgb_cox"
    objective = "survival:cox"

    def __init__(
        self,
        use: str | Sequence[str] | None = None,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        seed: int = 0,
        landmark: float = 0.0,
    ) -> None:
        super().__init__(
            use, n_estimators, learning_rate, max_depth, subsample, colsample_bytree,
            min_child_weight, reg_lambda, seed, landmark,
        )  # fmt: skip


class XGBAFTBaseline(_XGBBaseline):
    """XGBoost accelerated failure time model.

    Parameters
    ----------
    distribution
        Error distribution of :math:`\\varepsilon`: ``"normal"`` (log-normal T),
        ``"logistic"`` (log-logistic T) or ``"extreme"`` (Weibull T).
    sigma
        Scale :math:`\\sigma` of the error distribution.
    use, n_estimators, learning_rate, max_depth, subsample, colsample_bytree, min_child_weight, reg_lambda, seed, landmark
        As in :class:`XGBCoxBaseline`.
    """

    name = "xgb_aft"
    objective = "survival:aft"

    def __init__(
        self,
        use: str | Sequence[str] | None = None,
        distribution: str = "normal",
        sigma: float = 1.0,
        n_estimators: int = 200,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        seed: int = 0,
        landmark: float = 0.0,
    ) -> None:
        super().__init__(
            use, n_estimators, learning_rate, max_depth, subsample, colsample_bytree,
            min_child_weight, reg_lambda, seed, landmark,
        )  # fmt: skip
        self.distribution = look_up_option(
            str(distribution), list(AFT_DISTRIBUTIONS), what="AFT distribution"
        )
        if not float(sigma) > 0:
            raise ConfigError(f"sigma must be > 0, got {sigma}.")
        self.sigma = float(sigma)

    def _xgb_params(self) -> dict[str, Any]:
        return {
            **super()._xgb_params(),
            "aft_loss_distribution": self.distribution,
            "aft_loss_distribution_scale": self.sigma,
        }
