"""Propensity of treatment: a logistic model of the received arm (JSON state, no pickle).

In observational data (surgery vs SBRT) the arm a patient received depends on their
condition; a per-arm outcome model trained on the observed arm only is weighted by the
inverse probability of the arm received, so that every arm's training set resembles the whole
cohort (Rosenbaum & Rubin 1983; Austin & Stuart 2015). The fitted model is plain JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import softmax

from oncofusion.decide._checks import arm_indices, check_arm_names
from oncofusion.decide.weighting import effective_sample_size, iptw_weights, overlap_diagnostic
from oncofusion.errors import ConfigError, ModelLoadError, SurvivalInputError

# the weighting functions are re-exported here: they are used together with the model
__all__ = ["PropensityModel", "effective_sample_size", "iptw_weights", "overlap_diagnostic"]

_FORMAT_VERSION = 1


def _features(X: Any, feature_names: Sequence[str] | None, *, name: str = "X") -> np.ndarray:
    """A finite float matrix (n, p); a DataFrame is reordered to ``feature_names``."""
    if isinstance(X, pd.DataFrame):
        if feature_names is not None:
            missing = [c for c in feature_names if c not in X.columns]
            if missing:
                raise SurvivalInputError(
                    f"'{name}' lacks the feature column(s) {missing} the propensity model was "
                    "fitted on. Fix: pass the same clinical columns as at fitting."
                )
            X = X[list(feature_names)]
        X = X.to_numpy(dtype=np.float64)
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim != 2:
        raise SurvivalInputError(
            f"'{name}' must be a 2-D (n_patients, n_features) array, got shape {arr.shape}."
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise SurvivalInputError(
            f"'{name}' must have at least one patient and one feature, got {arr.shape}."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))[:10].tolist()
        raise SurvivalInputError(
            f"'{name}' has NaN or inf in row(s) {rows}. Fix: impute first, e.g. with "
            "oncofusion.data.TabularPreprocessor (training medians, one-hot categories)."
        )
    return arr


class PropensityModel:
    """Logistic regression of the received arm on baseline features (binary or multinomial).

    Features are standardised with the training mean and standard deviation (``ddof=0``; a
    constant column keeps scale 1), then scikit-learn's ``LogisticRegression`` (L2 penalty,
    lbfgs) is fitted. The fitted state (arm names, feature names, mean, scale, coefficients)
    is JSON; :meth:`predict_proba` evaluates it with NumPy, so a loaded model needs no
    scikit-learn and no pickle:

    .. math:: e_k(x) = P(A = k \\mid x) = \\frac{\\exp(\\beta_{k0} + \\beta_k^\\top z)}
              {\\sum_j \\exp(\\beta_{j0} + \\beta_j^\\top z)}, \\qquad z = (x - \\mu) / s

    For two arms the first arm is the reference (:math:`\\beta_0 = 0`), which is the binary
    logistic model :math:`e_1(x) = \\mathrm{expit}(\\beta_{10} + \\beta_1^\\top z)`.

    Parameters
    ----------
    C
        Inverse L2-penalty strength (scikit-learn's ``C``). The mild default keeps
        propensities away from exactly 0 or 1 when a feature separates the arms.
    max_iter
        Iterations of the lbfgs solver.

    References
    ----------
    Rosenbaum PR, Rubin DB. The central role of the propensity score in observational studies
    for causal effects. Biometrika 1983;70:41-55.
    """

    def __init__(self, *, C: float = 1.0, max_iter: int = 1000) -> None:
        if not isinstance(C, int | float) or not C > 0:
            raise ConfigError(
                f"'C' must be a positive number (inverse penalty strength), got {C!r}."
            )
        if int(max_iter) != max_iter or max_iter < 1:
            raise ConfigError(f"'max_iter' must be a positive integer, got {max_iter!r}.")
        self.C = float(C)
        self.max_iter = int(max_iter)
        self._state: dict[str, Any] | None = None

    # -------------------------------------------------------------------------- fit / predict

    def fit(
        self,
        X: Any,
        arm: Any,
        *,
        arms: Sequence[str] | None = None,
        feature_names: Sequence[str] | None = None,
    ) -> PropensityModel:
        """Fit on training patients' features ``X`` (n, p) and received arms ``arm`` (n,).

        ``arms`` fixes the column order of :meth:`predict_proba` (default: sorted names seen
        in ``arm``). ``feature_names`` defaults to the DataFrame's columns or ``x0, x1, ...``.
        """
        from sklearn.linear_model import LogisticRegression

        if isinstance(X, pd.DataFrame) and feature_names is None:
            feature_names = [str(c) for c in X.columns]
        x = _features(X, feature_names)
        if arms is None:
            arms = sorted({str(a) for a in np.asarray(arm, dtype=object)})
        names = check_arm_names(arms)
        a = arm_indices(arm, names, x.shape[0], name="arm")
        counts = np.bincount(a, minlength=len(names))
        if (counts == 0).any():
            absent = [names[k] for k in np.flatnonzero(counts == 0)]
            raise SurvivalInputError(
                f"'arm' has no training patient in arm(s) {absent}, so their propensity cannot "
                f"be estimated. Fix: drop them from 'arms' or add patients who received them."
            )
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(x.shape[1])]
        if len(feature_names) != x.shape[1]:
            raise SurvivalInputError(
                f"'feature_names' has {len(feature_names)} names for {x.shape[1]} columns of 'X'."
            )
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 1e-12, scale, 1.0)
        clf = LogisticRegression(C=self.C, max_iter=self.max_iter)
        clf.fit((x - mean) / scale, a)
        coef, intercept = clf.coef_, clf.intercept_
        if len(names) == 2:  # scikit-learn keeps one row for two classes: arm 0 is the reference
            coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
            intercept = np.array([0.0, float(intercept[0])])
        self._state = {
            "format_version": _FORMAT_VERSION,
            "arms": names,
            "feature_names": [str(f) for f in feature_names],
            "mean": mean.tolist(),
            "scale": scale.tolist(),
            "coef": np.asarray(coef, dtype=np.float64).tolist(),
            "intercept": np.asarray(intercept, dtype=np.float64).tolist(),
            "C": self.C,
            "n_train": int(x.shape[0]),
            "train_counts": counts.astype(int).tolist(),
        }
        return self

    def _fitted(self) -> dict[str, Any]:
        if self._state is None:
            raise ConfigError("this PropensityModel is not fitted. Fix: call .fit(X, arm) first.")
        return self._state

    @property
    def arms(self) -> list[str]:
        """Arm names, in the column order of :meth:`predict_proba`."""
        return list(self._fitted()["arms"])

    @property
    def feature_names(self) -> list[str]:
        return list(self._fitted()["feature_names"])

    def decision_function(self, X: Any) -> np.ndarray:
        """Linear predictors :math:`\\beta_{k0} + \\beta_k^\\top z`, shape (n, n_arms)."""
        st = self._fitted()
        x = _features(X, st["feature_names"] if isinstance(X, pd.DataFrame) else None)
        if x.shape[1] != len(st["feature_names"]):
            raise SurvivalInputError(
                f"'X' has {x.shape[1]} columns; the model was fitted on {len(st['feature_names'])} "
                f"({st['feature_names']})."
            )
        z = (x - np.asarray(st["mean"])) / np.asarray(st["scale"])
        return z @ np.asarray(st["coef"]).T + np.asarray(st["intercept"])

    def predict_proba(self, X: Any) -> np.ndarray:
        """Propensities :math:`e_k(x)`, shape (n, n_arms), rows summing to 1."""
        return softmax(self.decision_function(X), axis=1)

    # -------------------------------------------------------------------------- JSON state

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._fitted()))

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PropensityModel:
        need = {"format_version", "arms", "feature_names", "mean", "scale", "coef", "intercept"}
        missing = sorted(need - set(state))
        if missing:
            raise ModelLoadError(
                f"propensity state lacks the key(s) {missing}; it was not written by PropensityModel."
            )
        if state["format_version"] != _FORMAT_VERSION:
            raise ModelLoadError(
                f"propensity state has format_version {state['format_version']}; this version "
                f"reads {_FORMAT_VERSION}. Fix: refit the propensity model."
            )
        k, p = len(state["arms"]), len(state["feature_names"])
        if np.shape(state["coef"]) != (k, p) or np.shape(state["intercept"]) != (k,):
            raise ModelLoadError(
                "propensity state has coefficients whose shape does not match its arms and features."
            )
        model = cls(C=float(state.get("C", 1.0)))
        model._state = dict(state)
        return model

    def to_json(self) -> str:
        return json.dumps(self._fitted(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> PropensityModel:
        return cls.from_dict(json.loads(text))

    def __repr__(self) -> str:
        if self._state is None:
            return f"PropensityModel(C={self.C}, unfitted)"
        return (
            f"PropensityModel(C={self.C}, arms={self.arms}, n_features={len(self.feature_names)})"
        )
