"""What every classical baseline shares: the fitted-model base class, the run directory,
the Breslow baseline hazard, step-function evaluation and refit fingerprints.

A baseline is built with its hyperparameters (``CoxBaseline(screen_p=0.10)``), fitted on
the training cohort only (``.fit(train)``), and is then a
:class:`~oncofusion.models.base.FittedSurvivalModel`. Saving never pickles: parameters go
to JSON, XGBoost boosters to their own JSON format, and sklearn/sksurv tree ensembles are
refitted on load from the stored training matrix (see :class:`RefitFingerprint`).
"""

from __future__ import annotations

import abc
import inspect
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from oncofusion.errors import ConfigError, ModelLoadError, OncofusionError
from oncofusion.models.base import FittedSurvivalModel, check_times
from oncofusion.models.run import (
    check_run,
    read_json,
    start_run,
    write_checksums,
    write_json,
)
from oncofusion.survival.target import check_survival_target

__all__ = [
    "Baseline",
    "NotFittedError",
    "breslow_cumulative_hazard",
    "check_fingerprint",
    "read_matrix",
    "step_matrix",
    "survival_target",
    "write_matrix",
]


class NotFittedError(OncofusionError, ValueError):
    """A baseline was used (predict, save) before ``fit``."""


def survival_target(cohort: Any) -> tuple[np.ndarray, np.ndarray]:
    """Training ``(time, event)`` of a cohort, validated; at least one event is required."""
    p = cohort.patients
    return check_survival_target(p["time"].to_numpy(), p["event"].to_numpy(), require_event=True)


def breslow_cumulative_hazard(
    time: np.ndarray,
    event: np.ndarray,
    lp: np.ndarray,
    entry: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Breslow estimator of the baseline cumulative hazard.

    .. math::

        \\hat H_0(t) = \\sum_{t_j \\le t} \\frac{d_j}{\\sum_{i:\\, e_i < t_j \\le T_i} \\exp(\\eta_i)}

    where :math:`t_j` are the distinct event times, :math:`d_j` the number of events at
    :math:`t_j`, :math:`\\eta_i` the linear predictor (log relative hazard) and :math:`e_i`
    the entry time (0 without left truncation; with it, a subject is at risk on
    :math:`(e_i, T_i]`).

    Returns
    -------
    (times, cumhaz)
        The distinct event times (increasing) and :math:`\\hat H_0` at them.

    References
    ----------
    Breslow NE. Discussion of "Regression models and life-tables" by D.R. Cox. JRSS-B 1972.
    """
    time = np.asarray(time, dtype=np.float64)
    event = np.asarray(event, dtype=bool)
    risk = np.exp(np.asarray(lp, dtype=np.float64))
    ev_times = np.unique(time[event])
    if ev_times.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(time, kind="stable")
    t_sorted, r_sorted = time[order], risk[order]
    # sum of risk over {i: T_i >= t} for each event time t
    tail = np.concatenate([np.cumsum(r_sorted[::-1])[::-1], [0.0]])
    at_risk = tail[np.searchsorted(t_sorted, ev_times, side="left")]
    if entry is not None:
        entry = np.asarray(entry, dtype=np.float64)
        eo = np.argsort(entry, kind="stable")
        e_sorted, re_sorted = entry[eo], risk[eo]
        # subtract those not yet entered: {i: e_i >= t}
        etail = np.concatenate([np.cumsum(re_sorted[::-1])[::-1], [0.0]])
        at_risk = at_risk - etail[np.searchsorted(e_sorted, ev_times, side="left")]
    deaths = np.bincount(np.searchsorted(ev_times, time[event]), minlength=ev_times.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        inc = np.where(at_risk > 0, deaths / at_risk, 0.0)
    return ev_times, np.cumsum(inc)


def step_matrix(
    knots: np.ndarray, values: np.ndarray, times: np.ndarray, *, before: float = 1.0
) -> np.ndarray:
    """Evaluate right-continuous step functions (rows of ``values`` on ``knots``) at ``times``.

    ``values`` has shape ``(n, len(knots))``; before the first knot the value is ``before``.
    """
    values = np.atleast_2d(values)
    idx = np.searchsorted(np.asarray(knots), np.asarray(times, dtype=np.float64), side="right") - 1
    out = np.full((values.shape[0], len(idx)), before, dtype=np.float64)
    ok = idx >= 0
    if ok.any() and values.shape[1] > 0:
        out[:, ok] = values[:, idx[ok]]
    return out


def write_matrix(path: Path, frame: pd.DataFrame) -> None:
    """Write a numeric training matrix as Parquet (column names kept, no index)."""
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    frame.to_parquet(path, index=False)


def read_matrix(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise ModelLoadError(
            f"run file '{path}' is missing. Fix: point to a complete run directory."
        )
    return pd.read_parquet(path)


def check_fingerprint(
    stored: list[list[float]], refit: np.ndarray, what: str, *, atol: float = 1e-9
) -> None:
    """Raise :class:`ModelLoadError` when a refitted model's predictions differ from those stored.

    Tree ensembles from scikit-learn/scikit-survival cannot be saved portably without
    pickle, so they are refitted on load from the stored training matrix, hyperparameters
    and seed; the predictions on the first training rows, stored at save time, must come
    back identical.
    """
    ref = np.asarray(stored, dtype=np.float64)
    if ref.shape != refit.shape or not np.allclose(ref, refit, rtol=0.0, atol=atol):
        diff = float(np.max(np.abs(ref - refit))) if ref.shape == refit.shape else float("nan")
        raise ModelLoadError(
            f"the refitted {what} does not reproduce the saved predictions (max difference {diff:.3g}); "
            "the installed scikit-survival/scikit-learn/xgboost version likely differs from the one "
            "that trained it (see run.json 'versions'). Fix: install those versions, or retrain."
        )


_WARNED: set[str] = set()


def warn_once(key: str, message: str, *, stacklevel: int = 3) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, UserWarning, stacklevel=stacklevel)


def _yaml_safe(v: Any) -> Any:
    if isinstance(v, tuple | list):
        return [_yaml_safe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _yaml_safe(x) for k, x in v.items()}
    if isinstance(v, np.generic):
        return v.item()
    return v


class Baseline(FittedSurvivalModel):
    """Base of every classical comparator: hyperparameters, fit, save/load.

    Subclasses set ``name``, define ``__init__`` with keyword hyperparameters stored under
    the same attribute names, and implement ``fit``, ``predict_survival``, ``_get_state`` and
    ``_set_state``.

    Run directory written by :meth:`save`::

        run.json          format version, model name, library versions
        config.yaml       {model: name, params: constructor arguments}
        schema.json       the training cohort's schema
        model.json        fitted parameters and preprocessing state (JSON)
        ...               model-specific files (XGBoost JSON, Parquet training matrix)
        checksums.json
    """

    name: str = ""

    def __init__(self) -> None:
        self.schema_: Any = None

    # -- hyperparameters -------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor arguments (what ``config.yaml`` stores)."""
        sig = inspect.signature(type(self).__init__)
        return {k: getattr(self, k) for k in sig.parameters if k != "self"}

    # -- fitting ---------------------------------------------------------------------------
    @abc.abstractmethod
    def fit(self, cohort: Any) -> Baseline:
        """Fit on the training cohort (all of its patients) and return ``self``."""

    def _remember(self, cohort: Any) -> None:
        self.schema_ = cohort.schema
        self.time_unit = cohort.schema.time_unit

    def _check_fitted(self) -> None:
        if self.schema_ is None:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted. Fix: call .fit(train_cohort) first."
            )

    def _check_times(self, times: Any) -> np.ndarray:
        self._check_fitted()
        return check_times(times)

    # -- persistence -----------------------------------------------------------------------
    @abc.abstractmethod
    def _get_state(self, run_dir: Path) -> dict[str, Any]:
        """Fitted state as JSON-able dict; may write extra files into ``run_dir``."""

    @abc.abstractmethod
    def _set_state(self, state: dict[str, Any], run_dir: Path) -> None:
        """Restore what :meth:`_get_state` returned."""

    def save(self, run_dir: str | Path) -> None:
        self._check_fitted()
        run_dir = start_run(
            run_dir,
            self.name,
            {"kind": "baseline", "time_unit": self.time_unit},
            {"model": self.name, "params": _yaml_safe(self.get_params())},
        )
        write_json(run_dir / "schema.json", self.schema_.model_dump())
        write_json(run_dir / "model.json", self._get_state(run_dir))
        write_checksums(run_dir)

    @classmethod
    def load(cls, run_dir: str | Path) -> Baseline:
        from oncofusion.data.schema import CohortSchema

        run_dir = Path(run_dir)
        check_run(run_dir, cls.name)
        try:
            config = yaml.safe_load((run_dir / "config.yaml").read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ModelLoadError(
                f"run file '{run_dir / 'config.yaml'}' cannot be read ({e})."
            ) from e
        try:
            model = cls(**config["params"])
        except (TypeError, ConfigError) as e:
            raise ModelLoadError(
                f"run '{run_dir}': config.yaml parameters do not fit {cls.__name__} ({e})."
            ) from e
        model.schema_ = CohortSchema(**read_json(run_dir / "schema.json"))
        model.time_unit = model.schema_.time_unit
        model._set_state(read_json(run_dir / "model.json"), run_dir)
        return model
