"""The fitted-model interface shared by deep models and classical baselines.

Every fitted model predicts survival probabilities at any times for the patients of a
:class:`~oncofusion.data.cohort.Cohort`, saves itself to a run directory (JSON/YAML and
torch state_dicts, never pickle) and loads back with :func:`oncofusion.load`.
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Any

import numpy as np

from oncofusion.errors import CohortError, SurvivalInputError

__all__ = ["FittedSurvivalModel", "check_schema_matches"]


class FittedSurvivalModel(abc.ABC):
    """A model fitted on a cohort.

    Attributes
    ----------
    name
        Registered model name (``"cox"``, ``"rsf"``, ``"dmanet"``, ...).
    time_unit
        The cohort's time unit; all times passed in and out are in it.
    """

    name: str = ""
    time_unit: str = "months"

    @abc.abstractmethod
    def predict_survival(self, cohort: Any, times: np.ndarray | list[float]) -> np.ndarray:
        """Survival probabilities :math:`S_i(t)` of shape ``(n_patients, len(times))``.

        Rows follow ``cohort.patients`` order; values are non-increasing along ``times``.
        """

    def predict_risk(self, cohort: Any, horizon: float) -> np.ndarray:
        """Cumulative risk :math:`F_i(t) = 1 - S_i(t)` at ``horizon`` (higher is worse)."""
        return 1.0 - self.predict_survival(cohort, [horizon])[:, 0]

    @abc.abstractmethod
    def save(self, run_dir: str | Path) -> None:
        """Write the model into ``run_dir`` (config, weights/parameters, preprocessing)."""

    @classmethod
    @abc.abstractmethod
    def load(cls, run_dir: str | Path) -> FittedSurvivalModel:
        """Rebuild the model saved by :meth:`save`."""


def check_times(times: Any) -> np.ndarray:
    """Validate prediction times: 1-D, finite, non-negative, non-decreasing."""
    t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if t.ndim != 1 or not np.isfinite(t).all() or (t < 0).any():
        raise SurvivalInputError(f"'times' must be finite non-negative numbers, got {times!r}.")
    if (np.diff(t) < 0).any():
        raise SurvivalInputError("'times' must be sorted in increasing order. Fix: pass np.sort(times).")
    return t


#: schema parts a model can require to be unchanged, and how to read them
_SCHEMA_PARTS = {
    "clinical columns": lambda s: list(s.clinical.all),
    "biomarkers": lambda s: list(s.biomarkers),
    "genomics": lambda s: list(s.genomics),
    "arms": lambda s: list(s.arms),
    "time unit": lambda s: [s.time_unit],
}


def check_schema_matches(trained: Any, given: Any, parts: tuple[str, ...]) -> None:
    """Raise a :class:`CohortError` when ``given``'s schema differs from ``trained``'s in ``parts``."""
    for what in parts:
        a, b = _SCHEMA_PARTS[what](trained), _SCHEMA_PARTS[what](given)
        if a != b:
            raise CohortError(
                f"the cohort's {what} {b} differ from the model's {a}.",
                file="cohort.yaml",
                fix="predict on a cohort in the format the model was trained on (same columns, arms and units).",
            )
