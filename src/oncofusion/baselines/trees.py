"""Tree-ensemble comparators from scikit-survival: random survival forest and
gradient-boosted Cox trees.

* :class:`RSFBaseline`: ``RandomSurvivalForest`` (Ishwaran et al. 2008): the survival
  function is the average over trees of the Kaplan-Meier estimate in the leaf a patient
  falls into.
* :class:`GBSABaseline`: ``GradientBoostingSurvivalAnalysis`` with the Cox partial
  likelihood loss (Ridgeway 1999; Hothorn et al. 2006); survival via its Breslow baseline.

Saving without pickle: scikit-learn/scikit-survival trees have no portable format, so the
run stores the training feature matrix and target (``<prefix>train_matrix.parquet``), the
hyperparameters and the seed, and the model is **refitted deterministically on load**
(``n_jobs=1``, fixed ``random_state``). To prove the refit is the saved model, the survival
predictions for the first training rows at fixed times are stored at save time and must
come back identical (max abs difference ``<= 1e-9``), else
:class:`~oncofusion.errors.ModelLoadError`. Note the run directory thus holds training
features (de-identified numbers, no ids): treat it as patient data.

References
----------
Ishwaran H, Kogalur UB, Blackstone EH, Lauer MS. Random survival forests. Ann Appl Stat 2008.
Hothorn T, Bühlmann P, Dudoit S, Molinaro A, van der Laan MJ. Survival ensembles. Biostatistics 2006.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from oncofusion.baselines._common import (
    check_fingerprint,
    read_matrix,
    step_matrix,
    write_matrix,
)
from oncofusion.baselines._ensemble import TabularEnsembleBaseline
from oncofusion.errors import ConfigError

__all__ = ["GBSABaseline", "RSFBaseline", "SksurvEnsemble"]

_FINGERPRINT_ROWS = 25


class SksurvEnsemble:
    """A scikit-survival ensemble that saves as training data + hyperparameters + seed.

    Parameters
    ----------
    kind
        ``"rsf"`` (RandomSurvivalForest) or ``"gbsa"`` (GradientBoostingSurvivalAnalysis).
    params
        Keyword arguments of the estimator (``random_state`` included).
    """

    def __init__(self, kind: str, params: dict[str, Any]) -> None:
        if kind not in ("rsf", "gbsa"):
            raise ConfigError(f"unknown ensemble kind '{kind}'; use 'rsf' or 'gbsa'.")
        self.kind = kind
        self.params = dict(params)
        self.estimator: Any = None

    def _make(self) -> Any:
        if self.kind == "rsf":
            from sksurv.ensemble import RandomSurvivalForest

            return RandomSurvivalForest(n_jobs=1, **self.params)
        from sksurv.ensemble import GradientBoostingSurvivalAnalysis

        return GradientBoostingSurvivalAnalysis(loss="coxph", **self.params)

    def fit(self, X: pd.DataFrame, time: np.ndarray, event: np.ndarray) -> SksurvEnsemble:
        from sksurv.util import Surv

        self.columns = [str(c) for c in X.columns]
        self.X = pd.DataFrame(np.asarray(X, dtype=np.float64), columns=self.columns)
        self.time = np.asarray(time, dtype=np.float64)
        self.event = np.asarray(event, dtype=bool)
        self.estimator = self._make().fit(
            self.X.to_numpy(), Surv.from_arrays(self.event, self.time)
        )
        return self

    def survival(self, X: np.ndarray, times: np.ndarray) -> np.ndarray:
        """:math:`S(t\\mid x)` of shape ``(n, len(times))`` (1 before the first event time)."""
        X = np.asarray(X, dtype=np.float64)
        surv = self.estimator.predict_survival_function(X, return_array=True)
        return np.clip(step_matrix(self.estimator.unique_times_, surv, times), 0.0, 1.0)

    def risk(self, X: np.ndarray) -> np.ndarray:
        """The estimator's own risk score (higher is worse)."""
        return np.asarray(self.estimator.predict(np.asarray(X, dtype=np.float64)), dtype=np.float64)

    def _fingerprint(self) -> tuple[list[float], np.ndarray]:
        ft = np.quantile(self.time, [0.1, 0.3, 0.5, 0.7, 0.9]).tolist()
        return ft, self.survival(self.X.to_numpy()[:_FINGERPRINT_ROWS], np.asarray(ft))

    def dump(self, run_dir: Path, prefix: str = "") -> dict[str, Any]:
        """Write ``<prefix>train_matrix.parquet``; return the JSON state (with fingerprint)."""
        frame = self.X.copy()
        frame["__time"] = self.time
        frame["__event"] = self.event.astype(np.int64)
        write_matrix(run_dir / f"{prefix}train_matrix.parquet", frame)
        ft, fp = self._fingerprint()
        return {
            "kind": self.kind,
            "params": self.params,
            "columns": self.columns,
            "matrix": f"{prefix}train_matrix.parquet",
            "fingerprint_times": ft,
            "fingerprint": fp.tolist(),
        }

    @classmethod
    def restore(cls, state: dict[str, Any], run_dir: Path) -> SksurvEnsemble:
        """Refit from the stored matrix and check the fingerprint."""
        frame = read_matrix(run_dir / state["matrix"])
        obj = cls(state["kind"], state["params"])
        obj.fit(
            frame[state["columns"]],
            frame["__time"].to_numpy(),
            frame["__event"].to_numpy().astype(bool),
        )
        _, fp = obj._fingerprint()
        check_fingerprint(state["fingerprint"], fp, f"{state['kind']} ensemble")
        return obj


class _TreeBaseline(TabularEnsembleBaseline):
    kind = ""
    model_class = SksurvEnsemble
    model_key = "ensemble"

    @abc.abstractmethod
    def _params(self) -> dict[str, Any]:
        """The scikit-survival estimator's keyword arguments."""

    def _new_model(self) -> SksurvEnsemble:
        return SksurvEnsemble(self.kind, self._params())


class RSFBaseline(_TreeBaseline):
    """Random survival forest (scikit-survival) on tabular features.

    .. math:: \\hat S(t\\mid x) = \\frac{1}{B}\\sum_{b=1}^{B} \\hat S_{b,\\ell_b(x)}(t)

    where :math:`\\hat S_{b,\\ell}` is the Kaplan-Meier estimate of leaf :math:`\\ell` of tree
    :math:`b` (Ishwaran et al. 2008).

    Parameters
    ----------
    use
        Modalities; ``None`` = all tabular modalities the cohort declares.
    n_estimators, min_samples_leaf, min_samples_split, max_features, max_depth
        As in ``sksurv.ensemble.RandomSurvivalForest``.
    seed
        ``random_state`` (the same seed and data give the same forest).
    landmark
        Biomarker summaries use visits at or before this time.
    """

    name = "rsf"
    kind = "rsf"

    def __init__(
        self,
        use: str | Sequence[str] | None = None,
        n_estimators: int = 100,
        min_samples_leaf: int = 3,
        min_samples_split: int = 6,
        max_features: str | float | None = "sqrt",
        max_depth: int | None = None,
        seed: int = 0,
        landmark: float = 0.0,
    ) -> None:
        super().__init__(use, n_estimators, seed, landmark)
        self.min_samples_leaf = int(min_samples_leaf)
        self.min_samples_split = int(min_samples_split)
        self.max_features = max_features
        self.max_depth = max_depth

    def _params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "min_samples_leaf": self.min_samples_leaf,
            "min_samples_split": self.min_samples_split,
            "max_features": self.max_features,
            "max_depth": self.max_depth,
            "random_state": self.seed,
        }


class GBSABaseline(_TreeBaseline):
    """Gradient-boosted regression trees on the Cox partial likelihood (scikit-survival).

    The ensemble :math:`f(x) = \\sum_m \\nu\\, h_m(x)` is the log relative hazard and
    :math:`S(t\\mid x) = \\exp\\{-\\hat H_0(t) e^{f(x)}\\}` with the Breslow :math:`\\hat H_0`.

    Parameters
    ----------
    use
        Modalities; ``None`` = all tabular modalities the cohort declares.
    n_estimators, learning_rate, max_depth, subsample, min_samples_leaf
        As in ``sksurv.ensemble.GradientBoostingSurvivalAnalysis``.
    seed
        ``random_state``.
    landmark
        Biomarker summaries use visits at or before this time.
    """

    name = "gbsa"
    kind = "gbsa"

    def __init__(
        self,
        use: str | Sequence[str] | None = None,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        max_depth: int = 3,
        subsample: float = 1.0,
        min_samples_leaf: int = 1,
        seed: int = 0,
        landmark: float = 0.0,
    ) -> None:
        super().__init__(use, n_estimators, seed, landmark)
        self.learning_rate = float(learning_rate)
        self.max_depth = int(max_depth)
        self.subsample = float(subsample)
        self.min_samples_leaf = int(min_samples_leaf)

    def _params(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "subsample": self.subsample,
            "min_samples_leaf": self.min_samples_leaf,
            "random_state": self.seed,
        }
