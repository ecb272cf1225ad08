"""What the tree-ensemble comparators share: fit, predict, save and load of one ensemble on
a feature matrix.

:class:`EnsembleBaseline` holds that flow; a subclass says how the features are made
(:class:`TabularEnsembleBaseline`: the tabular modalities; the radiomics comparators add
image features) and which ensemble is fitted on them
(:class:`~oncofusion.baselines.trees.SksurvEnsemble` or
:class:`~oncofusion.baselines.xgb.XGBSurvival`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from oncofusion.baselines._common import Baseline, survival_target
from oncofusion.baselines.cox import resolve_use, use_param
from oncofusion.baselines.features import TabularFeatures
from oncofusion.errors import ConfigError

__all__ = ["EnsembleBaseline", "TabularEnsembleBaseline"]


class EnsembleBaseline(Baseline):
    """A comparator whose fitted model ``model_`` is a tree ensemble on a feature matrix.

    Subclasses set ``model_class`` (a class with ``fit(X, time, event)``,
    ``survival(X, times)``, ``dump(run_dir)`` and ``restore(state, run_dir)``) and
    ``model_key`` (the entry of ``model.json`` that holds the ensemble's state), and define
    :meth:`_new_model` and the feature hooks (:meth:`_fit_features`, :meth:`_features`,
    :meth:`_features_state`, :meth:`_set_features_state`).

    Parameters
    ----------
    use
        Modalities (normalised to a tuple; ``None`` stays ``None``).
    n_estimators
        Number of trees (>= 1).
    seed
        Seed of the ensemble.
    """

    model_class: ClassVar[Any]
    model_key: ClassVar[str]

    def __init__(self, use: str | Sequence[str] | None, n_estimators: int, seed: int) -> None:
        super().__init__()
        if int(n_estimators) < 1:
            raise ConfigError(f"n_estimators must be >= 1, got {n_estimators}.")
        self.use = use_param(use)
        self.n_estimators = int(n_estimators)
        self.seed = int(seed)

    @abc.abstractmethod
    def _new_model(self) -> Any:
        """The unfitted ensemble with this comparator's hyperparameters."""

    @abc.abstractmethod
    def _fit_features(self, cohort: Any) -> pd.DataFrame:
        """Fit the feature transform on the training cohort; return its feature frame."""

    @abc.abstractmethod
    def _features(self, cohort: Any) -> np.ndarray:
        """The feature matrix of ``cohort`` under the fitted transform."""

    @abc.abstractmethod
    def _features_state(self) -> dict[str, Any]:
        """The fitted feature transform as JSON-able entries of ``model.json``."""

    @abc.abstractmethod
    def _set_features_state(self, state: dict[str, Any]) -> None:
        """Restore the feature transform from ``model.json``."""

    def fit(self, cohort: Any) -> Self:
        time, event = survival_target(cohort)
        X = self._fit_features(cohort)
        self.model_ = self._new_model().fit(X, time, event)
        self._remember(cohort)
        return self

    def predict_survival(self, cohort: Any, times: Any) -> np.ndarray:
        t = self._check_times(times)
        return self.model_.survival(self._features(cohort), t)

    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        return {**self._features_state(), self.model_key: self.model_.dump(run_dir)}

    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        self._set_features_state(state)
        self.model_ = self.model_class.restore(state[self.model_key], run_dir)


class TabularEnsembleBaseline(EnsembleBaseline):
    """An ensemble on the (unstandardised) tabular features of the modalities in ``use``.

    ``use=None`` means every tabular modality the cohort declares; biomarker summaries use
    the visits at or before ``landmark``.
    """

    def __init__(
        self, use: str | Sequence[str] | None, n_estimators: int, seed: int, landmark: float
    ) -> None:
        super().__init__(use, n_estimators, seed)
        self.landmark = float(landmark)

    def _fit_features(self, cohort: Any) -> pd.DataFrame:
        self.features_ = TabularFeatures(
            cohort.schema,
            resolve_use(self.use, cohort.schema),
            self.landmark,
            standardize=False,
        ).fit(cohort)
        return self.features_.transform_frame(cohort)

    def _features(self, cohort: Any) -> np.ndarray:
        return self.features_.transform(cohort)

    def _features_state(self) -> dict[str, Any]:
        return {"features": self.features_.to_dict()}

    def _set_features_state(self, state: dict[str, Any]) -> None:
        self.features_ = TabularFeatures.from_dict(state["features"])
