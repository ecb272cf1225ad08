"""Calibration of a predicted risk at one horizon.

Every function takes ``time, event, risk_at_horizon, horizon``: ``risk_at_horizon`` is the
predicted cumulative incidence :math:`\\hat F_i(t) = 1 - \\hat S_i(t)` at ``t = horizon``
(a probability; higher is worse). Goodness-of-fit tests (Hosmer-Lemeshow,
D'Agostino-Nam, D-calibration) live in :mod:`oncofusion.metrics._gof` and are
re-exported here.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import optimize

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._cox import fit_cox, rcs_basis, rcs_knots
from oncofusion.metrics._gof import (
    DCalibrationResult,
    GoodnessOfFit,
    d_calibration,
    dagostino_nam,
    hosmer_lemeshow,
)
from oncofusion.metrics._horizon import (
    check_ci,
    check_horizon,
    check_n_groups,
    check_probability,
    km_risk_at,
    risk_groups,
    warn,
)
from oncofusion.metrics._pseudo import km_pseudo_values
from oncofusion.survival.target import check_survival_target

__all__ = [
    "AbsoluteCalibrationError",
    "CalibrationSlopeIntercept",
    "DCalibrationResult",
    "GoodnessOfFit",
    "ICIResult",
    "absolute_calibration_error",
    "calibration_slope_intercept",
    "calibration_table",
    "d_calibration",
    "dagostino_nam",
    "hosmer_lemeshow",
    "ici",
    "smoothed_observed_risk",
]

_EPS = 1e-10


class CalibrationSlopeIntercept(NamedTuple):
    """Recalibration coefficients on the complementary log-log scale, with sandwich SEs."""

    slope: float
    intercept: float
    slope_se: float
    intercept_se: float

    def __float__(self) -> float:
        """The slope (the headline number, e.g. for :func:`oncofusion.metrics.bootstrap`)."""
        return float(self.slope)


class ICIResult(NamedTuple):
    """Integrated calibration index and the 50th / 90th percentiles and maximum of the error."""

    ici: float
    e50: float
    e90: float
    emax: float

    def __float__(self) -> float:
        """The ICI (the headline number, e.g. for :func:`oncofusion.metrics.bootstrap`)."""
        return float(self.ici)


class AbsoluteCalibrationError(NamedTuple):
    """Median and interquartile range of the per-patient absolute calibration error."""

    median: float
    q25: float
    q75: float

    def __float__(self) -> float:
        """The median error (the headline number, e.g. for the bootstrap)."""
        return float(self.median)


def _inputs(
    time: Any, event: Any, risk_at_horizon: Any, horizon: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    t, e = check_survival_target(time, event)
    p = check_probability(risk_at_horizon, len(t))
    h = check_horizon(t, horizon)
    return t, e, p, h


def _cloglog(p: np.ndarray) -> np.ndarray:
    """:math:`\\log(-\\log(1 - p))`, with ``p`` clipped to ``[1e-10, 1 - 1e-10]`` (warned)."""
    clipped = np.clip(p, _EPS, 1.0 - _EPS)
    if np.any(clipped != p):
        warn(
            f"{int(np.sum(clipped != p))} predicted risk(s) equal 0 or 1 were clipped to "
            f"[{_EPS:g}, 1 - {_EPS:g}] to take the complementary log-log."
        )
    return np.log(-np.log1p(-clipped))


def _require_events(t: np.ndarray, e: np.ndarray, h: float) -> None:
    if not np.any(e & (t <= h)):
        raise SurvivalInputError(
            f"'event': no event happens by horizon={h:g}, so the observed risk is 0 and the "
            "calibration model cannot be fitted. Fix: use a later horizon or more follow-up."
        )


def calibration_table(
    time: Any,
    event: Any,
    risk_at_horizon: Any,
    horizon: float,
    n_groups: int = 10,
    strategy: str = "quantile",
    ci: float = 0.95,
) -> pd.DataFrame:
    """Observed versus predicted risk at ``horizon`` by group of predicted risk.

    In each group :math:`g`, the predicted risk is :math:`\\bar F_g = \\frac{1}{n_g}
    \\sum_{i \\in g} \\hat F_i(t)` and the observed risk is the Kaplan-Meier cumulative
    incidence :math:`1 - \\hat S_g(t)` of the group, with Greenwood's interval on the
    log(-log) scale (see :func:`oncofusion.metrics._horizon.km_risk_at`).

    Parameters
    ----------
    time, event
        Follow-up time and event indicator (1 = event, 0 = censored).
    risk_at_horizon
        Predicted :math:`F(t) = 1 - S(t)` at ``horizon``; higher is worse.
    horizon
        The time ``t`` (same unit as ``time``).
    n_groups
        Number of groups (deciles by default).
    strategy
        ``"quantile"`` (groups of about equal size) or ``"uniform"`` (equal-width bins on
        [0, 1]; empty bins are dropped).
    ci
        Confidence level of the observed-risk interval.

    Returns
    -------
    pandas.DataFrame
        One row per group with columns ``group, n, n_events, predicted, observed,
        observed_low, observed_high``; ``n_events`` counts events by ``horizon``.

    Warns
    -----
    UserWarning
        Once, naming the groups whose Kaplan-Meier risk is 0 or 1 at ``horizon`` (their
        interval is the exact binomial bound among patients with known status) or whose
        follow-up ends before ``horizon`` (their estimate is carried forward).

    References
    ----------
    Steyerberg EW. *Clinical Prediction Models*, 2nd ed. Springer 2019, ch. 15.
    Royston P, Altman DG. External validation of a Cox prognostic model: principles and
    methods. BMC Med Res Methodol 2013;13:33.
    """
    t, e, p, h = _inputs(time, event, risk_at_horizon, horizon)
    g = check_n_groups(n_groups, len(t))
    level = check_ci(ci)
    labels = risk_groups(p, g, strategy)
    rows, degenerate, short = [], [], []
    for k in range(int(labels.max()) + 1):
        m = labels == k
        obs, low, high, is_deg = km_risk_at(t[m], e[m], h, level)
        if is_deg:
            degenerate.append(k)
        if t[m].max() < h and obs < 1.0:
            short.append(k)
        rows.append(
            {
                "group": k,
                "n": int(m.sum()),
                "n_events": int(np.sum(e[m] & (t[m] <= h))),
                "predicted": float(p[m].mean()),
                "observed": obs,
                "observed_low": low,
                "observed_high": high,
            }
        )
    if degenerate:
        warn(
            f"calibration_table: groups {degenerate} have an observed risk of 0 or 1 at "
            f"horizon={h:g}; their interval is the exact binomial bound. Fix: use fewer groups."
        )
    if short:
        warn(
            f"calibration_table: follow-up in groups {short} ends before horizon={h:g}; their "
            "Kaplan-Meier risk is carried forward from the last observed time."
        )
    return pd.DataFrame(rows)


def calibration_slope_intercept(
    time: Any, event: Any, risk_at_horizon: Any, horizon: float
) -> CalibrationSlopeIntercept:
    """Calibration slope and intercept at ``horizon`` on the complementary log-log scale.

    The recalibration model of van Houwelingen (2000), fitted to jackknife
    pseudo-observations :math:`\\hat\\theta_i` of the Kaplan-Meier cumulative incidence at
    :math:`t` (so that censoring is handled without a proportional-hazards assumption; the
    approach of Royston 2014 and Andersen & Perme 2010):

    .. math::

        E[\\hat\\theta_i] = 1 - \\exp\\{-\\exp(a + b\\,\\text{cloglog}\\,\\hat F_i(t))\\},
        \\qquad \\text{cloglog}\\,p = \\log(-\\log(1 - p)),

    estimated by the independence GEE with identity variance (non-linear least squares);
    standard errors are the robust sandwich. A perfectly calibrated model has ``slope`` 1 and
    ``intercept`` 0; ``slope < 1`` means predictions too extreme (overfitting), ``intercept >
    0`` means risks under-estimated overall. If the predicted risks come from a proportional
    hazards model, :math:`\\text{cloglog}\\,\\hat F_i(t) = \\log \\hat H_0(t) + \\hat\\eta_i`
    and ``b`` is the usual calibration slope of the linear predictor.

    Assumes censoring independent of the predicted risk (as every Kaplan-Meier-based
    calibration measure here).

    Parameters
    ----------
    time, event, risk_at_horizon, horizon
        See :func:`calibration_table`.

    Returns
    -------
    CalibrationSlopeIntercept
        ``(slope, intercept, slope_se, intercept_se)``; a tuple, so usable with the bootstrap.

    References
    ----------
    van Houwelingen HC. Validation, calibration, revision and combination of prognostic
    survival models. Stat Med 2000;19:3401-3415.
    Royston P. Tools for checking calibration of a Cox model in external validation:
    approach based on individual event probabilities. Stata J 2014;14:738-755.
    Andersen PK, Perme MP. Pseudo-observations in survival analysis. Stat Methods Med Res
    2010;19:71-99.
    """
    t, e, p, h = _inputs(time, event, risk_at_horizon, horizon)
    _require_events(t, e, h)
    if np.ptp(p) == 0:
        raise SurvivalInputError(
            "'risk_at_horizon' is the same for every patient, so the calibration slope is "
            "undefined. Fix: pass individual predictions."
        )
    y = km_pseudo_values(t, e, h)
    x = _cloglog(p)
    X = np.column_stack([np.ones_like(x), x])

    def resid(beta: np.ndarray) -> np.ndarray:
        return y - (1.0 - np.exp(-np.exp(X @ beta)))

    def jac(beta: np.ndarray) -> np.ndarray:
        eta = X @ beta
        return -(np.exp(eta - np.exp(eta)))[:, None] * X

    fit = optimize.least_squares(resid, x0=np.array([0.0, 1.0]), jac=jac, method="lm")
    if not fit.success:
        warn(f"calibration_slope_intercept: the fit did not converge ({fit.message}).")
    r, D = resid(fit.x), -jac(fit.x)
    bread = np.linalg.pinv(D.T @ D)
    meat = (D * (r**2)[:, None]).T @ D
    se = np.sqrt(np.diag(bread @ meat @ bread))
    return CalibrationSlopeIntercept(
        slope=float(fit.x[1]),
        intercept=float(fit.x[0]),
        slope_se=float(se[1]),
        intercept_se=float(se[0]),
    )


def smoothed_observed_risk(
    time: Any, event: Any, risk_at_horizon: Any, horizon: float, n_knots: int = 3
) -> np.ndarray:
    """Per-patient smoothed observed risk at ``horizon`` (flexible calibration curve).

    Follow-up is censored administratively at :math:`t` and a Cox model is fitted on a
    restricted cubic spline (``n_knots`` knots at Harrell's default quantiles) of
    :math:`x_i = \\text{cloglog}\\,\\hat F_i(t)`; the smoothed observed risk is

    .. math:: \\tilde F_i(t) = 1 - \\hat S_0(t)^{\\exp(f(x_i))} .

    Plotting :math:`\\tilde F_i` against :math:`\\hat F_i` gives the calibration curve of
    Austin, Harrell & van Klaveren (2020) (their Cox-based smoother; R:
    ``cph(Surv(time, event) ~ rcs(cll, 3))`` then ``1 - survest(..., times = t)$surv``).

    References
    ----------
    Austin PC, Harrell FE Jr, van Klaveren D. Graphical calibration curves and the integrated
    calibration index (ICI) for survival models. Stat Med 2020;39:2714-2742.
    """
    t, e, p, h = _inputs(time, event, risk_at_horizon, horizon)
    _require_events(t, e, h)
    x = _cloglog(p)
    knots = rcs_knots(x, n_knots)
    if len(knots) < n_knots:
        warn(
            f"smoothed_observed_risk: tied predictions leave {len(knots)} distinct knots of "
            f"the {n_knots} asked for; the spline has fewer terms."
        )
    X = rcs_basis(x, knots)
    fit = fit_cox(np.minimum(t, h), e & (t <= h), X)
    if not fit.converged:
        warn("smoothed_observed_risk: the Cox calibration model did not converge.")
    return 1.0 - fit.survival_at(X, h)


def _abs_errors(time: Any, event: Any, risk: Any, horizon: float, n_knots: int) -> np.ndarray:
    observed = smoothed_observed_risk(time, event, risk, horizon, n_knots)
    return np.abs(np.asarray(risk, dtype=np.float64) - observed)


def ici(time: Any, event: Any, risk_at_horizon: Any, horizon: float, n_knots: int = 3) -> ICIResult:
    """Integrated calibration index (ICI), E50, E90 and Emax at ``horizon``.

    .. math::

        \\text{ICI} = \\frac{1}{n}\\sum_i |\\hat F_i(t) - \\tilde F_i(t)|, \\qquad
        E50, E90 = \\text{50th, 90th percentiles of } |\\hat F_i(t) - \\tilde F_i(t)|

    with :math:`\\tilde F_i(t)` from :func:`smoothed_observed_risk`.

    References
    ----------
    Austin PC, Harrell FE Jr, van Klaveren D. Graphical calibration curves and the integrated
    calibration index (ICI) for survival models. Stat Med 2020;39:2714-2742.
    """
    err = _abs_errors(time, event, risk_at_horizon, horizon, n_knots)
    return ICIResult(
        ici=float(err.mean()),
        e50=float(np.median(err)),
        e90=float(np.quantile(err, 0.9)),
        emax=float(err.max()),
    )


def absolute_calibration_error(
    time: Any, event: Any, risk_at_horizon: Any, horizon: float, n_knots: int = 3
) -> AbsoluteCalibrationError:
    """Median and IQR of the per-patient absolute calibration error at ``horizon``.

    The per-patient error is :math:`|\\hat F_i(t) - \\tilde F_i(t)|` of :func:`ici` (so the
    median is E50); this is the "absolute calibration error (median, IQR)" of DMA-Net's
    Table 4. The errors themselves are
    ``abs(risk_at_horizon - smoothed_observed_risk(...))``.

    .. math:: \\big(Q_{0.5},\\, Q_{0.25},\\, Q_{0.75}\\big) \\text{ of } |\\hat F_i(t) - \\tilde F_i(t)|

    References
    ----------
    Austin PC, Harrell FE Jr, van Klaveren D. Stat Med 2020;39:2714-2742.
    """
    err = _abs_errors(time, event, risk_at_horizon, horizon, n_knots)
    q25, q50, q75 = np.quantile(err, [0.25, 0.5, 0.75])
    return AbsoluteCalibrationError(median=float(q50), q25=float(q25), q75=float(q75))
