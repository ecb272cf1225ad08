"""A model's test-set predictions, the unit every evaluation table and figure is built from.

A :class:`PredictionSet` holds one model's survival curves on a time grid for the test
patients, their outcomes, and (optionally) the training outcomes used as the censoring
reference of the IPCW metrics. :func:`surv_at` reads :math:`S(t)` between the grid points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.survival.target import check_survival_target

__all__ = ["PredictionSet", "align_predictions", "surv_at"]

_METHODS = ("exponential", "step")
_MONOTONE_TOL = 1e-7  # float32 round-off of a model's survival output


def _as_float(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach"):  # torch tensor
        x = x.detach().cpu().numpy()
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.number) or arr.dtype == bool:
        raise SurvivalInputError(f"'{name}' must be numeric, got dtype {arr.dtype}.")
    return arr.astype(np.float64)


@dataclass(kw_only=True)
class PredictionSet:
    """One model's predictions for the patients of an evaluation (test) set.

    Parameters
    ----------
    model
        The model's name, used as the row label of every table and in figure legends.
    patient_ids
        One id per patient (rows of ``surv``); models are aligned on them.
    time, event
        Test outcomes: follow-up time (in ``time_unit``) and 1 = event, 0 = censored.
    surv
        Survival probabilities :math:`S_i(t) = P(T_i > t)`, shape ``(n, len(grid))``,
        non-increasing along the grid (rises up to 1e-7, float32 round-off, are flattened).
    grid
        Strictly increasing, non-negative times of the columns of ``surv``; :math:`S(0) = 1`
        is implied when ``grid[0] > 0``.
    risk
        Optional overall risk score, **higher means worse**, used by the C-index. Default:
        :math:`1 - S(t)` at the last horizon.
    train_time, train_event
        Training outcomes, the censoring reference :math:`\\hat G` of the IPCW metrics.
        Never pass test outcomes here. When omitted, :math:`\\hat G` is estimated from the
        test data (the convention of :mod:`oncofusion.metrics`).
    horizons
        Prediction horizons (e.g. ``[3, 6, 9, 12]``) in ``time_unit``; default: ``grid``.
    time_unit
        ``"days"``, ``"months"`` or ``"years"``; used in table headers and axis labels.
    """

    model: str
    patient_ids: Any
    time: Any
    event: Any
    surv: Any
    grid: Any
    risk: Any = None
    train_time: Any = None
    train_event: Any = None
    horizons: Any = None
    time_unit: str = "months"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ConfigError(f"'model' must be a non-empty name, got {self.model!r}.")
        t, e = check_survival_target(self.time, self.event)
        n = t.shape[0]
        ids = np.asarray(self.patient_ids)
        if ids.ndim != 1 or ids.shape[0] != n:
            raise SurvivalInputError(
                f"model {self.model!r}: 'patient_ids' must hold one id per patient ({n}), got "
                f"shape {ids.shape}."
            )
        if len(set(ids.tolist())) != n:
            raise SurvivalInputError(f"model {self.model!r}: 'patient_ids' contains duplicates.")
        grid = _as_float(self.grid, "grid").reshape(-1)
        if grid.size == 0 or not np.isfinite(grid).all() or (grid < 0).any():
            raise SurvivalInputError(
                f"model {self.model!r}: 'grid' must be non-empty, finite and >= 0."
            )
        if grid.size > 1 and not (np.diff(grid) > 0).all():
            raise SurvivalInputError(f"model {self.model!r}: 'grid' must be strictly increasing.")
        surv = _as_float(self.surv, "surv")
        if surv.ndim != 2 or surv.shape != (n, grid.size):
            raise SurvivalInputError(
                f"model {self.model!r}: 'surv' must have shape (n_patients, len(grid)) = "
                f"({n}, {grid.size}), got {surv.shape}."
            )
        if not np.isfinite(surv).all() or (surv < 0).any() or (surv > 1).any():
            raise SurvivalInputError(
                f"model {self.model!r}: 'surv' must hold survival probabilities in [0, 1] (no "
                "NaN). Fix: pass S(t) = P(T > t), not a risk score."
            )
        if (np.diff(surv, axis=1) > _MONOTONE_TOL).any():
            rows = np.flatnonzero((np.diff(surv, axis=1) > _MONOTONE_TOL).any(axis=1))
            raise SurvivalInputError(
                f"model {self.model!r}: 'surv' must be non-increasing along 'grid'; rows "
                f"{rows[:10].tolist()} increase. Fix: pass S(t), not the cumulative risk 1 - S(t)."
            )
        self.patient_ids, self.time, self.event = ids, t, e
        self.surv, self.grid = np.minimum.accumulate(surv, axis=1), grid
        hz = grid if self.horizons is None else _as_float(self.horizons, "horizons").reshape(-1)
        if hz.size == 0 or not np.isfinite(hz).all() or (hz <= 0).any():
            raise SurvivalInputError(f"model {self.model!r}: 'horizons' must be finite and > 0.")
        if hz.size > 1 and not (np.diff(hz) > 0).all():
            raise SurvivalInputError(
                f"model {self.model!r}: 'horizons' must be strictly increasing, got {hz.tolist()}."
            )
        self.horizons = hz
        if (self.train_time is None) != (self.train_event is None):
            raise SurvivalInputError(
                f"model {self.model!r}: pass both 'train_time' and 'train_event' (the censoring "
                "reference) or neither."
            )
        if self.train_time is not None:
            self.train_time, self.train_event = check_survival_target(
                self.train_time, self.train_event, name_time="train_time", name_event="train_event"
            )
        if self.risk is not None:
            r = _as_float(self.risk, "risk").reshape(-1)
            if r.shape[0] != n or not np.isfinite(r).all():
                raise SurvivalInputError(
                    f"model {self.model!r}: 'risk' must be finite with one value per patient ({n})."
                )
            self.risk = r

    @property
    def n(self) -> int:
        """Number of test patients."""
        return int(self.time.shape[0])

    @property
    def train(self) -> dict[str, np.ndarray | None]:
        """``train_time``/``train_event`` as keyword arguments for the metrics."""
        return {"train_time": self.train_time, "train_event": self.train_event}

    def overall_risk(self) -> np.ndarray:
        """``risk`` if given, else :math:`1 - S(t)` at the last horizon (higher is worse)."""
        if self.risk is not None:
            return np.asarray(self.risk)
        return 1.0 - surv_at(self, float(self.horizons[-1]))[:, 0]

    def risk_at(self, times: Any) -> np.ndarray:
        """Cumulative risk :math:`F_i(t) = 1 - S_i(t)`, shape ``(n, len(times))``."""
        return 1.0 - surv_at(self, times)


def surv_at(pred: PredictionSet, times: Any, *, method: str = "exponential") -> np.ndarray:
    """Survival probabilities at arbitrary times, shape ``(n, len(times))``.

    For :math:`t \\in [c_k, c_{k+1}]` between grid points and :math:`u = (t - c_k)/(c_{k+1}
    - c_k)`:

    * ``"exponential"`` (piecewise-constant hazard rate, DMA-Net §2.3.1):
      :math:`S(t) = S(c_k)^{1-u}\\, S(c_{k+1})^{u}`;
    * ``"step"`` (right-continuous): :math:`S(t) = S(c_j)` for the last :math:`c_j \\le t`.

    Both agree at the grid points (the formulas of
    :func:`oncofusion.survival.transforms.interpolate_survival`, computed here in numpy so
    that evaluation does not import torch). Before the first grid point the curve starts
    from :math:`S(0) = 1`.

    Raises
    ------
    SurvivalInputError
        A time is negative or past the last grid point (the model made no prediction there).
    """
    if method not in _METHODS:
        raise ConfigError(f"unknown interpolation method {method!r}; choose one of {_METHODS}.")
    t = _as_float(times, "times").reshape(-1)
    grid, surv = pred.grid, pred.surv
    if not np.isfinite(t).all() or (t < 0).any():
        raise SurvivalInputError("'times' must be finite and non-negative.")
    if (t > grid[-1] + 1e-12).any():
        raise SurvivalInputError(
            f"model {pred.model!r} predicts survival up to {grid[-1]:g} {pred.time_unit}; time "
            f"{t.max():g} is past that grid. Fix: choose times within the prediction grid."
        )
    if grid[0] > 0:
        cuts = np.r_[0.0, grid]
        full = np.concatenate([np.ones((surv.shape[0], 1)), surv], axis=1)
    else:
        cuts, full = grid, surv
    if cuts.size == 1:
        return np.repeat(full[:, :1], t.size, axis=1)
    j = np.clip(np.searchsorted(cuts, t, side="right") - 1, 0, cuts.size - 1)
    if method == "step":
        return full[:, j]
    j = np.minimum(j, cuts.size - 2)
    u = np.clip((t - cuts[j]) / (cuts[j + 1] - cuts[j]), 0.0, 1.0)
    left, right = full[:, j], full[:, j + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.power(left, 1.0 - u) * np.power(right, u)
    return np.clip(out, 0.0, 1.0)


def align_predictions(
    predsets: Mapping[str, PredictionSet] | Sequence[PredictionSet],
) -> dict[str, PredictionSet]:
    """Check that every model was evaluated on the same patients and outcomes.

    Models are returned keyed by name, each with its rows reordered to the patient order of
    the first model, so that paired comparisons use the same resamples for all models.

    Raises
    ------
    SurvivalInputError
        Two models cover different patients or record different outcomes for a patient.
    ConfigError
        No model, or a name given twice.
    """
    items = list(predsets.values()) if isinstance(predsets, Mapping) else list(predsets)
    if not items:
        raise ConfigError("no predictions to evaluate: pass at least one PredictionSet.")
    for p in items:
        if not isinstance(p, PredictionSet):
            raise ConfigError(f"expected PredictionSet objects, got {type(p).__name__}.")
    names = [p.model for p in items]
    dup = sorted({m for m in names if names.count(m) > 1})
    if dup:
        raise ConfigError(f"model names must be unique; {dup} appear more than once.")
    first = items[0]
    index = {pid: i for i, pid in enumerate(first.patient_ids.tolist())}
    out: dict[str, PredictionSet] = {first.model: first}
    for p in items[1:]:
        ids = p.patient_ids.tolist()
        if set(ids) != set(index):
            missing = sorted(set(index) ^ set(ids), key=str)[:5]
            raise SurvivalInputError(
                f"models {first.model!r} and {p.model!r} were evaluated on different patients "
                f"(e.g. {missing}). Fix: predict every model on the same test set."
            )
        order = np.argsort([index[i] for i in ids], kind="stable")
        q = _reordered(p, order)
        if not (np.array_equal(q.time, first.time) and np.array_equal(q.event, first.event)):
            raise SurvivalInputError(
                f"models {first.model!r} and {p.model!r} record different outcomes (time/event) "
                "for the same patients. Fix: take the outcomes from one test set."
            )
        out[p.model] = q
    return out


def _reordered(p: PredictionSet, order: np.ndarray) -> PredictionSet:
    if np.array_equal(order, np.arange(order.size)):
        return p
    return PredictionSet(
        model=p.model,
        patient_ids=p.patient_ids[order],
        time=p.time[order],
        event=p.event[order],
        surv=p.surv[order],
        grid=p.grid,
        risk=None if p.risk is None else np.asarray(p.risk)[order],
        train_time=p.train_time,
        train_event=p.train_event,
        horizons=p.horizons,
        time_unit=p.time_unit,
    )
