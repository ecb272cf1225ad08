"""Inverse probability of censoring weights (IPCW) for the censoring-aware metrics.

The censoring survival function :math:`\\hat G(t) = P(C > t)` is the reverse Kaplan-Meier
estimate of the censoring reference: ``train_time``/``train_event`` when given, otherwise the
evaluation data itself. Conventions follow scikit-survival's ``CensoringDistributionEstimator``:
:math:`\\hat G` is right-continuous, at a time shared by events and censorings the events leave
the censoring risk set first, and past the last follow-up time of the reference
:math:`\\hat G` is unknown (an error) unless it has already dropped to 0.

References
----------
Robins JM, Rotnitzky A. Recovery of information and adjustment for dependent censoring
using surrogate markers. AIDS Epidemiology, 1992.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.nonparametric import KaplanMeier, kaplan_meier, step_at

__all__ = [
    "CensoringSurvival",
    "censoring_survival",
    "kaplan_meier_rows",
    "rows_at",
]


@dataclass(frozen=True)
class CensoringSurvival:
    """:math:`\\hat G`, with the follow-up rule applied when it is evaluated.

    ``source`` names the data it was estimated from (used in error messages).
    """

    km: KaplanMeier
    source: str

    @property
    def last_time(self) -> float:
        """The largest follow-up time of the censoring reference."""
        return float(self.km.times[-1])

    def at(self, t: np.ndarray, *, what: str, fix: str) -> np.ndarray:
        """:math:`\\hat G(t)`; raise when ``t`` is past the reference follow-up and G > 0.

        ``what`` names the times (e.g. "event time", "time point") and ``fix`` says how
        to avoid the error; both go into the message.
        """
        t = np.asarray(t, dtype=np.float64)
        g = step_at(self.km.times, self.km.surv, t)
        g_last = float(self.km.surv[-1])
        beyond = t > self.last_time
        if g_last > 0 and beyond.any():
            raise SurvivalInputError(
                f"{what} {float(t[beyond].max()):g} lies beyond the last follow-up time "
                f"{self.last_time:g} of {self.source}, where the censoring distribution is "
                f"unknown (G = {g_last:.3g} > 0 there). Fix: {fix}"
            )
        return np.where(beyond, 0.0, g)


def censoring_survival(
    time: np.ndarray,
    event: np.ndarray,
    train: tuple[np.ndarray, np.ndarray] | None,
) -> CensoringSurvival:
    """:math:`\\hat G` from ``train`` = (train_time, train_event) or from (time, event).

    .. math:: \\hat G(t) = \\prod_{s_j \\le t} \\left(1 - \\frac{c_j}{m_j}\\right)

    with :math:`c_j` censorings at :math:`s_j` and :math:`m_j` samples still at risk of
    censoring (events at :math:`s_j` excluded).
    """
    if train is None:
        return CensoringSurvival(kaplan_meier(time, event, reverse=True), "the evaluation data")
    return CensoringSurvival(
        kaplan_meier(train[0], train[1], reverse=True), "train_time/train_event"
    )


def kaplan_meier_rows(
    time: np.ndarray, event: np.ndarray, weights: np.ndarray, *, reverse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier with one row of case weights per resample, all rows at once.

    Parameters
    ----------
    time, event
        Validated survival target of length n.
    weights
        (B, n) non-negative case weights (bootstrap counts).
    reverse
        Estimate the censoring survival :math:`\\hat G` instead of :math:`\\hat S`.

    Returns
    -------
    uniq : ndarray, shape (U,)
        Distinct observed times (of the unweighted data), increasing.
    surv : ndarray, shape (B, U)
        The estimate just after each time, one row per weight vector. Identical (up to
        round-off) to :func:`~oncofusion.survival.nonparametric.kaplan_meier` on the data
        with each sample repeated ``weights[b, i]`` times.
    """
    uniq, inv = np.unique(time, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) != 0])
    w = weights[:, order]
    n_obs = np.add.reduceat(w, starts, axis=1)
    n_ev = np.add.reduceat(w * event[order], starts, axis=1)
    at_risk = np.cumsum(n_obs[:, ::-1], axis=1)[:, ::-1]
    if reverse:
        at_risk = at_risk - n_ev
        n_ev = n_obs - n_ev
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - n_ev / at_risk, 1.0)
    return uniq, np.cumprod(factor, axis=1)


def rows_at(uniq: np.ndarray, surv: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Evaluate right-continuous step rows ``surv`` (B, U) at times ``t`` -> (B, len(t))."""
    idx = np.searchsorted(uniq, np.asarray(t, dtype=np.float64), side="right") - 1
    out = surv[:, np.clip(idx, 0, None)]
    out[:, idx < 0] = 1.0
    return out
