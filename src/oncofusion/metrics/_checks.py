"""Input checks shared by the metrics: evaluation times, prediction matrices, train data.

Every failure raises :class:`~oncofusion.errors.SurvivalInputError` naming the argument, the
rule and the fix. The survival target itself is checked by
:func:`oncofusion.survival.target.check_survival_target` (the one validator).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.target import check_survival_target

__all__ = [
    "SURV_MONOTONE_TOL",
    "check_risk_matrix",
    "check_surv_matrix",
    "check_tied_tol",
    "check_times",
    "check_train",
    "to_numpy",
]

#: Tolerance for ``surv`` increasing across times (float32 round-off of a model's output).
SURV_MONOTONE_TOL = 1e-7


def to_numpy(x: Any) -> np.ndarray:
    """An ndarray from array-likes and torch tensors (no copy when possible)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def check_tied_tol(tied_tol: float) -> float:
    """``tied_tol`` must be a finite non-negative number."""
    tol = float(tied_tol)
    if not np.isfinite(tol) or tol < 0:
        raise SurvivalInputError(
            f"'tied_tol' must be a finite number >= 0, got {tied_tol!r}. Fix: pass e.g. 1e-8."
        )
    return tol


def check_times(times: Any, time: np.ndarray, *, name: str = "times") -> np.ndarray:
    """Evaluation times: 1-D, finite, strictly increasing, within the follow-up of ``time``.

    The rule is scikit-survival's: :math:`\\min_i y_i \\le t < \\max_i y_i` for every ``t`` in
    ``times`` (at the largest follow-up time nobody is left at risk, so the metric is undefined).
    """
    t = np.atleast_1d(to_numpy(times))
    if t.ndim != 1 or t.shape[0] == 0:
        raise SurvivalInputError(
            f"'{name}' must be a non-empty 1-D array of time points, got shape {t.shape}."
        )
    if not np.issubdtype(t.dtype, np.number) or t.dtype == bool:
        raise SurvivalInputError(f"'{name}' must be numeric, got dtype {t.dtype}.")
    t = t.astype(np.float64, copy=False)
    if not np.isfinite(t).all():
        raise SurvivalInputError(f"'{name}' must be finite; it contains NaN or inf.")
    if t.shape[0] > 1 and not (np.diff(t) > 0).all():
        raise SurvivalInputError(
            f"'{name}' must be strictly increasing, got {t.tolist()[:10]}. Fix: sort the time "
            "points, drop duplicates and reorder the prediction columns to match."
        )
    lo, hi = float(time.min()), float(time.max())
    if t[0] < lo or t[-1] >= hi:
        raise SurvivalInputError(
            f"all '{name}' must lie within the follow-up of the evaluation data, "
            f"[{lo:g}; {hi:g}[ (smallest observed time included, largest excluded), got "
            f"[{t[0]:g}; {t[-1]:g}]. Fix: choose time points inside that range, e.g. below the "
            "largest follow-up time."
        )
    return t


def _as_matrix(pred: Any, n: int, n_times: int, name: str) -> np.ndarray:
    p = to_numpy(pred)
    if not np.issubdtype(p.dtype, np.number) or p.dtype == bool:
        raise SurvivalInputError(f"'{name}' must be numeric, got dtype {p.dtype}.")
    p = p.astype(np.float64, copy=False)
    if p.ndim == 1:
        if p.shape[0] != n:
            raise SurvivalInputError(
                f"'{name}' must have one entry per sample of 'time' ({n}), got {p.shape[0]}."
            )
        return p[:, None]
    if p.ndim != 2 or p.shape[0] != n or p.shape[1] != n_times:
        raise SurvivalInputError(
            f"'{name}' must have shape (n_samples, n_times) = ({n}, {n_times}), got {p.shape}."
        )
    return p


def check_risk_matrix(risk: Any, n: int, n_times: int) -> np.ndarray:
    """Risk scores (higher means worse): 1-D (the same at every time) or (n, n_times).

    Returns an (n, n_times) view.
    """
    r = _as_matrix(risk, n, n_times, "risk")
    if not np.isfinite(r).all():
        raise SurvivalInputError("'risk' must be finite; it contains NaN or inf.")
    return np.broadcast_to(r, (n, n_times)) if r.shape[1] == 1 else r


def check_surv_matrix(surv: Any, n: int, n_times: int) -> np.ndarray:
    """Survival probabilities of shape (n, n_times); 1-D accepted when there is one time.

    Rules: every entry in [0, 1]; each row non-increasing across ``times`` (up to
    ``SURV_MONOTONE_TOL``).
    """
    s = _as_matrix(surv, n, n_times, "surv")
    if s.shape[1] != n_times:
        raise SurvivalInputError(
            f"'surv' is 1-D but there are {n_times} time points. Fix: pass survival "
            f"probabilities of shape (n_samples, n_times) = ({n}, {n_times})."
        )
    if not np.isfinite(s).all():
        raise SurvivalInputError("'surv' must be finite; it contains NaN or inf.")
    bad = (s < 0) | (s > 1)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))[:10].tolist()
        raise SurvivalInputError(
            f"'surv' must hold survival probabilities in [0, 1]; rows {rows} do not. Fix: pass "
            "S(t) = P(T > t), not a risk score or a log-hazard."
        )
    if n_times > 1:
        rise = np.diff(s, axis=1) > SURV_MONOTONE_TOL
        if rise.any():
            rows = np.flatnonzero(rise.any(axis=1))[:10].tolist()
            raise SurvivalInputError(
                f"'surv' must be non-increasing across 'times' (a survival curve); rows {rows} "
                "increase. Fix: pass S(t) at increasing times, not a cumulative risk 1 - S(t)."
            )
    return s


def check_train(train_time: Any, train_event: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The censoring reference: both ``train_time`` and ``train_event`` or neither."""
    if train_time is None and train_event is None:
        return None
    if train_time is None or train_event is None:
        missing = "train_event" if train_event is None else "train_time"
        raise SurvivalInputError(
            f"'{missing}' is missing: pass both 'train_time' and 'train_event' (the censoring "
            "reference), or neither to estimate censoring from the evaluation data."
        )
    return check_survival_target(
        train_time, train_event, name_time="train_time", name_event="train_event"
    )
