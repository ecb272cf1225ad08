"""Cumulative/dynamic time-dependent AUC with inverse probability of censoring weights.

Definitions and conventions follow scikit-survival's ``cumulative_dynamic_auc``: cases at
``t`` are the events with :math:`y_i \\le t`, weighted by :math:`1/\\hat G(y_i)`; controls are
the samples with :math:`y_j > t`; risks whose sorted neighbours differ by at most ``tied_tol``
form one threshold (a tie, counting 1/2); the summary ``mean_auc`` integrates AUC(t) against
the Kaplan-Meier estimate of the evaluation data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._checks import (
    check_risk_matrix,
    check_tied_tol,
    check_times,
    check_train,
)
from oncofusion.metrics._rows import FollowUpRows
from oncofusion.metrics.ipcw import censoring_survival, kaplan_meier_rows, rows_at
from oncofusion.survival.nonparametric import kaplan_meier
from oncofusion.survival.target import check_survival_target

__all__ = ["AUCResult", "time_dependent_auc"]


@dataclass(frozen=True)
class AUCResult:
    """Time-dependent AUC at each time point and its integrated mean.

    Attributes
    ----------
    times
        The time points.
    auc
        :math:`\\widehat{AUC}(t)` at each time point.
    mean_auc
        The mean AUC over ``[times[0], times[-1]]``, weighted by the drop of the Kaplan-Meier
        survival (the AUC itself when there is one time point); ``float(result)`` gives it.
    """

    times: np.ndarray
    auc: np.ndarray
    mean_auc: float

    def __float__(self) -> float:
        return float(self.mean_auc)


def _tie_groups(r_sorted_desc: np.ndarray, tol: float) -> np.ndarray:
    """Start index of each threshold group: a new group where neighbours differ by > tol."""
    d = np.abs(np.diff(r_sorted_desc))
    return np.flatnonzero(np.r_[True, d > tol])


def _auc_from_groups(case_g: np.ndarray, ctrl_g: np.ndarray) -> np.ndarray:
    """Mann-Whitney area from grouped case/control weights, groups by decreasing risk.

    Works on the last axis; returns NaN where there is no case or no control. The ratio
    of weighted sums can leave [0, 1] by a rounding error (1 + 2e-16); it is clipped back.
    """
    before = np.cumsum(case_g, axis=-1) - case_g
    num = (ctrl_g * (before + 0.5 * case_g)).sum(axis=-1)
    den = case_g.sum(axis=-1) * ctrl_g.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, np.clip(num / np.where(den > 0, den, 1.0), 0.0, 1.0), np.nan)


def _mean_auc(auc: np.ndarray, s_times: np.ndarray) -> np.ndarray:
    """:math:`\\sum_k AUC(t_k)(S(t_{k-1}) - S(t_k)) / (1 - S(t_K))`, on the last axis."""
    if auc.shape[-1] == 1:
        return auc[..., 0]
    ones = np.ones(s_times.shape[:-1] + (1,))
    d = -np.diff(np.concatenate([ones, s_times], axis=-1), axis=-1)
    den = 1.0 - s_times[..., -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, (auc * d).sum(axis=-1) / np.where(den > 0, den, 1.0), np.nan)


class _Prepared:
    """Checked inputs plus the per-time orderings and IPCW weights."""

    def __init__(
        self,
        time: Any,
        event: Any,
        risk: Any,
        times: Any,
        train_time: Any,
        train_event: Any,
        tied_tol: float,
        *,
        strict: bool,
    ) -> None:
        t, e = check_survival_target(time, event)
        self.time, self.event = t, e
        self.times = check_times(times, t)
        n, k = t.shape[0], self.times.shape[0]
        r = check_risk_matrix(risk, n, k)
        tol = check_tied_tol(tied_tol)
        self.train = check_train(train_time, train_event)
        cens = censoring_survival(t, e, self.train)
        self.maybe_case = e & (t <= self.times[-1])
        self.omega = np.zeros(n)
        self.bad = np.zeros(n, dtype=bool)
        idx = np.flatnonzero(self.maybe_case)
        if self.train is None or strict:
            g = cens.at(
                t[idx],
                what="event time",
                fix=f"choose 'times' at or below {cens.last_time:g}.",
            )
        else:  # bootstrap: mark the samples whose weight is undefined instead of raising
            g = np.zeros(idx.size)
            beyond = (t[idx] > cens.last_time) & (cens.km.surv[-1] > 0)
            g[~beyond] = cens.at(t[idx][~beyond], what="event time", fix="")
        zero = g <= 0
        if strict and zero.any():
            raise SurvivalInputError(
                f"the censoring survival G estimated from {cens.source} is 0 at event time(s) "
                f"{np.unique(t[idx][zero])[:5].tolist()}, so their weight 1/G is infinite and "
                "the AUC is undefined. Fix: choose 'times' below those event times."
            )
        self.bad[idx[zero]] = True
        self.omega[idx[~zero]] = 1.0 / g[~zero]
        # per-time ordering by decreasing risk and the threshold groups
        self.orders: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        static = r.strides[1] == 0  # a 1-D risk broadcast over the times
        for j in range(k):
            if static and j > 0:
                self.orders.append(self.orders[0])
                self.starts.append(self.starts[0])
                continue
            o = np.argsort(-r[:, j], kind="stable")
            self.orders.append(o)
            self.starts.append(_tie_groups(r[o, j], tol))


def time_dependent_auc(
    time: Any,
    event: Any,
    risk: Any,
    times: Any,
    train_time: Any = None,
    train_event: Any = None,
    *,
    tied_tol: float = 1e-8,
) -> AUCResult:
    """Cumulative/dynamic AUC at each time point, with IPCW, and its integrated mean.

    .. math::

        \\widehat{AUC}(t) = \\frac{\\sum_{i,j} I(y_j > t) I(y_i \\le t) \\delta_i
            \\hat G(y_i)^{-1} [I(r_i > r_j) + \\tfrac12 I(r_i = r_j)]}
            {\\sum_j I(y_j > t) \\; \\sum_i I(y_i \\le t) \\delta_i \\hat G(y_i)^{-1}}

    .. math::

        \\overline{AUC} = \\frac{1}{\\hat S(t_1^-) - \\hat S(t_K)}
            \\sum_k \\widehat{AUC}(t_k) \\, (\\hat S(t_{k-1}) - \\hat S(t_k)),
            \\quad \\hat S(t_0) = 1

    Parameters
    ----------
    time, event : array-like, shape (n,)
        The evaluation data.
    risk : array-like, shape (n,) or (n, len(times))
        Predicted risk; **higher means worse**. 1-D: the same score at every time; 2-D:
        ``risk[:, k]`` is the risk by ``times[k]`` (e.g. ``1 - S(times[k])``).
    times : array-like, shape (K,)
        Strictly increasing time points within the evaluation follow-up,
        :math:`\\min y \\le t < \\max y`.
    train_time, train_event : array-like, optional
        The censoring reference for :math:`\\hat G`; the evaluation data when omitted. Event
        times up to ``times[-1]`` must lie within its follow-up.
    tied_tol : float
        Neighbouring sorted risks closer than this form one threshold (a tie).

    Returns
    -------
    AUCResult
        ``auc`` per time point and ``mean_auc``; equal to scikit-survival's
        ``cumulative_dynamic_auc``.

    Raises
    ------
    SurvivalInputError
        Times outside the follow-up, no event up to a time point, or an event time where
        :math:`\\hat G` is unknown or 0.

    Notes
    -----
    scikit-survival also raises when an event *after* the last time point lies beyond the
    training follow-up; such events never enter the AUC, so they are accepted here.

    References
    ----------
    Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors with
    censored regression models. JASA 2007; 102:527-537. Hung H, Chiang CT. Estimation methods
    for time-dependent AUC models with survival data. Can J Stat 2010; 38:8-26. Lambert J,
    Chevret S. Summary measure of discrimination in survival models based on
    cumulative/dynamic time-dependent ROC curves. Stat Methods Med Res 2016; 25:2088-2102.
    """
    p = _Prepared(time, event, risk, times, train_time, train_event, tied_tol, strict=True)
    t, e = p.time, p.event
    auc = np.empty(p.times.shape[0])
    for k, tk in enumerate(p.times):
        case = e & (t <= tk)
        if not case.any():
            raise SurvivalInputError(
                f"the AUC at time {tk:g} is undefined: no event happened at or before it. "
                f"Fix: choose 'times' at or after the first event time {t[e].min():g}."
                if e.any()
                else "the AUC is undefined: all samples are censored (no event)."
            )
        o, st = p.orders[k], p.starts[k]
        case_g = np.add.reduceat((p.omega * case)[o], st)
        ctrl_g = np.add.reduceat((t > tk)[o].astype(np.float64), st)
        auc[k] = _auc_from_groups(case_g, ctrl_g)
    s_times = kaplan_meier(t, e)(p.times)
    mean = float(_mean_auc(auc, s_times))
    return AUCResult(times=p.times, auc=auc, mean_auc=mean)


class AUCRows(FollowUpRows):
    """Time-dependent AUC for many case-weight vectors (one row per bootstrap resample)."""

    p: _Prepared

    def __init__(
        self,
        time: Any,
        event: Any,
        risk: Any,
        times: Any,
        train_time: Any = None,
        train_event: Any = None,
        *,
        tied_tol: float = 1e-8,
    ) -> None:
        super().__init__(
            _Prepared(time, event, risk, times, train_time, train_event, tied_tol, strict=False)
        )

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Per-row ``auc`` (B, K) and ``mean_auc`` (B,); NaN where undefined."""
        p = self.p
        w = np.asarray(weights, dtype=np.float64)
        t, e = p.time, p.event
        valid = self._follow_up_valid(w)
        if p.train is None:
            _, g = kaplan_meier_rows(t, e, w, reverse=True)
            g_i = g[:, self.inv]
            with np.errstate(divide="ignore"):
                omega = np.where(p.maybe_case & (g_i > 0), 1.0 / g_i, 0.0)
            valid &= ~((g_i <= 0) & p.maybe_case & (w > 0)).any(axis=1)
        else:
            omega = np.broadcast_to(p.omega, w.shape)
            valid &= (w * p.bad).sum(axis=1) == 0
        auc = np.empty((w.shape[0], p.times.shape[0]))
        for k, tk in enumerate(p.times):
            o, st = p.orders[k], p.starts[k]
            case = e & (t <= tk)
            case_g = np.add.reduceat((w * omega * case)[:, o], st, axis=1)
            ctrl_g = np.add.reduceat((w * (t > tk))[:, o], st, axis=1)
            auc[:, k] = _auc_from_groups(case_g, ctrl_g)
        uniq, s = kaplan_meier_rows(t, e, w)
        mean = _mean_auc(auc, rows_at(uniq, s, p.times))
        bad_rows = ~valid | np.isnan(auc).any(axis=1)
        auc[bad_rows] = np.nan
        mean = np.where(bad_rows, np.nan, mean)
        return {"auc": auc, "mean_auc": mean}
