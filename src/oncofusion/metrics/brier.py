"""Time-dependent Brier score and its integral, with inverse probability of censoring weights.

Definitions follow Graf et al. (1999) as implemented by scikit-survival's ``brier_score`` and
``integrated_brier_score``, whose values these functions reproduce.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._checks import check_surv_matrix, check_times, check_train
from oncofusion.metrics._rows import FollowUpRows
from oncofusion.metrics.ipcw import censoring_survival, kaplan_meier_rows, rows_at
from oncofusion.survival.target import check_survival_target

__all__ = ["brier_score", "integrated_brier_score"]


class _Prepared:
    """Checked inputs and the static IPCW weights."""

    def __init__(
        self,
        time: Any,
        event: Any,
        surv: Any,
        times: Any,
        train_time: Any,
        train_event: Any,
        *,
        strict: bool,
    ) -> None:
        t, e = check_survival_target(time, event)
        self.time, self.event = t, e
        self.times = check_times(times, t)
        n, k = t.shape[0], self.times.shape[0]
        self.surv = check_surv_matrix(surv, n, k)
        self.train = check_train(train_time, train_event)
        cens = censoring_survival(t, e, self.train)
        fix = f"choose 'times' at or below {cens.last_time:g}."
        self.g_times = cens.at(self.times, what="time point", fix=fix)
        self.maybe_case = e & (t <= self.times[-1])
        idx = np.flatnonzero(self.maybe_case)
        self.bad = np.zeros(n, dtype=bool)
        g_case = np.ones(n)
        if strict or self.train is None:
            g_case[idx] = cens.at(t[idx], what="event time", fix=fix)
        else:  # bootstrap: mark the samples whose weight is unknown instead of raising
            beyond = (t[idx] > cens.last_time) & (cens.km.surv[-1] > 0)
            self.bad[idx[beyond]] = True
            g_case[idx[~beyond]] = cens.at(t[idx[~beyond]], what="event time", fix="")
        self.g_case = g_case
        zero_t = self.g_times <= 0
        zero_c = self.maybe_case & (g_case <= 0)
        if strict and (zero_t.any() or zero_c.any()):
            warnings.warn(
                f"the censoring survival G estimated from {cens.source} is 0 at "
                f"{int(zero_t.sum())} time point(s) and {int(zero_c.sum())} event time(s); "
                "those samples get weight 0 (the scikit-survival convention), which biases the "
                "Brier score there. Fix: choose 'times' where censoring can still occur.",
                UserWarning,
                stacklevel=3,
            )


def _inv(g: np.ndarray) -> np.ndarray:
    """1/G with 1/0 := 0 (scikit-survival's convention)."""
    with np.errstate(divide="ignore"):
        return np.where(g > 0, 1.0 / np.where(g > 0, g, 1.0), 0.0)


def _terms(p: _Prepared, inv_g_case: np.ndarray, inv_g_times: np.ndarray) -> np.ndarray:
    """Per-sample, per-time contributions (..., n, K) to the Brier score."""
    t, e, s = p.time, p.event, p.surv
    case = e[:, None] & (t[:, None] <= p.times[None, :])
    ctrl = t[:, None] > p.times[None, :]
    return (
        np.square(s) * case * inv_g_case[..., :, None]
        + np.square(1.0 - s) * ctrl * inv_g_times[..., None, :]
    )


def brier_score(
    time: Any,
    event: Any,
    surv: Any,
    times: Any,
    train_time: Any = None,
    train_event: Any = None,
) -> np.ndarray:
    """IPCW Brier score of predicted survival probabilities at each time point.

    .. math::

        BS(t) = \\frac1n \\sum_{i=1}^n \\left[
            \\frac{\\hat S(t|x_i)^2 \\, I(y_i \\le t, \\delta_i = 1)}{\\hat G(y_i)}
            + \\frac{(1 - \\hat S(t|x_i))^2 \\, I(y_i > t)}{\\hat G(t)} \\right]

    Parameters
    ----------
    time, event : array-like, shape (n,)
        The evaluation data.
    surv : array-like, shape (n, len(times)); or (n,) for a single time
        Predicted **survival probabilities** :math:`\\hat S(t_k | x_i) = P(T > t_k)`, in [0, 1]
        and non-increasing across ``times``. Not a risk score.
    times : array-like, shape (K,)
        Strictly increasing time points within the evaluation follow-up,
        :math:`\\min y \\le t < \\max y`.
    train_time, train_event : array-like, optional
        The censoring reference for :math:`\\hat G`; the evaluation data when omitted. The time
        points and the event times up to ``times[-1]`` must lie within its follow-up.

    Returns
    -------
    ndarray, shape (K,)
        The Brier score at each time point (lower is better).

    Notes
    -----
    Where :math:`\\hat G = 0` the weight is set to 0, as scikit-survival does, with a warning.
    scikit-survival also raises when *any* evaluation time lies past the training follow-up;
    only the times that enter the score are checked here.

    References
    ----------
    Graf E, Schmoor C, Sauerbrei W, Schumacher M. Assessment and comparison of prognostic
    classification schemes for survival data. Statistics in Medicine 1999; 18:2529-2545.
    """
    p = _Prepared(time, event, surv, times, train_time, train_event, strict=True)
    terms = _terms(p, _inv(p.g_case), _inv(p.g_times))
    return terms.mean(axis=0)


def integrated_brier_score(
    time: Any,
    event: Any,
    surv: Any,
    times: Any,
    train_time: Any = None,
    train_event: Any = None,
) -> float:
    """Integrated Brier score: the trapezoid integral of :func:`brier_score` over ``times``.

    .. math:: IBS = \\frac{1}{t_K - t_1} \\int_{t_1}^{t_K} BS(t) \\, dt

    Parameters are those of :func:`brier_score`; at least two time points are needed, and
    ``surv`` must hold **survival probabilities**. Lower is better.

    References
    ----------
    Graf E, Schmoor C, Sauerbrei W, Schumacher M. Statistics in Medicine 1999; 18:2529-2545.
    """
    t_arr = np.atleast_1d(np.asarray(times))
    if t_arr.ndim == 1 and t_arr.shape[0] < 2:
        raise SurvivalInputError(
            f"'times' must hold at least two time points to integrate the Brier score, got "
            f"{t_arr.shape[0]}. Fix: pass a grid of time points, or use brier_score."
        )
    bs = brier_score(time, event, surv, times, train_time, train_event)
    tt = check_times(times, check_survival_target(time, event)[0])
    return float(np.trapezoid(bs, tt) / (tt[-1] - tt[0]))


class BrierRows(FollowUpRows):
    """Brier score and IBS for many case-weight vectors (one row per bootstrap resample)."""

    p: _Prepared

    def __init__(
        self,
        time: Any,
        event: Any,
        surv: Any,
        times: Any,
        train_time: Any = None,
        train_event: Any = None,
    ) -> None:
        super().__init__(_Prepared(time, event, surv, times, train_time, train_event, strict=False))

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Per-row ``brier`` (B, K) and ``ibs`` (B,); NaN where undefined."""
        p = self.p
        w = np.asarray(weights, dtype=np.float64)
        valid = self._follow_up_valid(w)
        if p.train is None:
            uniq, g = kaplan_meier_rows(p.time, p.event, w, reverse=True)
            inv_case = _inv(g[:, self.inv])
            inv_times = _inv(rows_at(uniq, g, p.times))
        else:
            inv_case = np.broadcast_to(_inv(p.g_case), w.shape)
            inv_times = np.broadcast_to(_inv(p.g_times), (w.shape[0], p.times.shape[0]))
            valid &= (w * p.bad).sum(axis=1) == 0
        t, e, s = p.time, p.event, p.surv
        brier = np.empty((w.shape[0], p.times.shape[0]))
        total = w.sum(axis=1)
        for k, tk in enumerate(p.times):
            case = e & (t <= tk)
            ctrl = t > tk
            brier[:, k] = (
                (w * case * inv_case) @ np.square(s[:, k])
                + (w * ctrl) @ np.square(1.0 - s[:, k]) * inv_times[:, k]
            ) / total
        brier[~valid] = np.nan
        if p.times.shape[0] >= 2:
            ibs = np.trapezoid(brier, p.times, axis=1) / (p.times[-1] - p.times[0])
        else:
            ibs = np.full(w.shape[0], np.nan)
        return {"brier": brier, "ibs": ibs}
