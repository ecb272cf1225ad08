"""Kaplan-Meier estimators of the event and the censoring distributions.

Shared by the metrics (IPCW weights, calibration by group, decision curves) and the
simulators. Vectorised; optional case weights (for the weighted bootstrap).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncofusion.survival.target import check_survival_target

__all__ = ["KaplanMeier", "kaplan_meier", "censoring_kaplan_meier", "step_at"]


@dataclass(frozen=True)
class KaplanMeier:
    """A right-continuous step function :math:`\\hat S(t)` with its risk-set counts.

    ``times`` are the distinct observed times (events and censorings), increasing;
    ``surv[j]`` is :math:`\\hat S(t)` for ``times[j] <= t < times[j+1]``; ``n_at_risk[j]``
    and ``n_events[j]`` are the (weighted) counts at ``times[j]``.
    """

    times: np.ndarray
    surv: np.ndarray
    n_at_risk: np.ndarray
    n_events: np.ndarray

    def __call__(self, t: np.ndarray | float) -> np.ndarray:
        """:math:`\\hat S(t)` (right-continuous)."""
        return step_at(self.times, self.surv, t, left_limit=False)

    def left_limit(self, t: np.ndarray | float) -> np.ndarray:
        """:math:`\\hat S(t-)`, the value just before ``t`` (used for IPCW weights)."""
        return step_at(self.times, self.surv, t, left_limit=True)


def step_at(
    knots: np.ndarray, values: np.ndarray, t: np.ndarray | float, *, left_limit: bool = False
) -> np.ndarray:
    """Evaluate a right-continuous step function starting at 1 before the first knot.

    With ``left_limit`` the value just before ``t`` is returned.
    """
    t = np.asarray(t, dtype=np.float64)
    idx = np.searchsorted(knots, t, side="left" if left_limit else "right") - 1
    out = np.where(idx >= 0, values[np.clip(idx, 0, None)] if len(values) else 1.0, 1.0)
    return out


def kaplan_meier(
    time: np.ndarray,
    event: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    reverse: bool = False,
) -> KaplanMeier:
    """Kaplan-Meier product-limit estimator.

    .. math:: \\hat S(t) = \\prod_{t_j \\le t} \\left(1 - \\frac{d_j}{n_j}\\right)

    With ``reverse=True`` the roles of events and censorings swap, giving the censoring
    survival :math:`\\hat G(t)`; at a time shared by events and censorings the events
    happen first and leave the censoring risk set (the convention of scikit-survival's
    ``CensoringDistributionEstimator`` and of R's ``prodlim(..., reverse=TRUE)``).

    References
    ----------
    Kaplan EL, Meier P. Nonparametric estimation from incomplete observations. JASA 1958.
    """
    t, e = check_survival_target(time, event)
    w = np.ones_like(t) if weights is None else np.asarray(weights, dtype=np.float64)
    d = (~e if reverse else e).astype(np.float64) * w
    uniq, inv = np.unique(t, return_inverse=True)
    n_obs = np.bincount(inv, weights=w, minlength=len(uniq))
    n_ev = np.bincount(inv, weights=d, minlength=len(uniq))
    at_risk = np.cumsum(n_obs[::-1])[::-1]
    if reverse:
        # events tied with a censoring time happen first: they leave the censoring risk set
        at_risk = at_risk - np.bincount(inv, weights=e.astype(np.float64) * w, minlength=len(uniq))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - n_ev / at_risk, 1.0)
    surv = np.cumprod(factor)
    return KaplanMeier(times=uniq, surv=surv, n_at_risk=at_risk, n_events=n_ev)


def censoring_kaplan_meier(time: np.ndarray, event: np.ndarray) -> KaplanMeier:
    """Kaplan-Meier estimate :math:`\\hat G` of the censoring survival function."""
    return kaplan_meier(time, event, reverse=True)
