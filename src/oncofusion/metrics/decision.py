"""Decision curve analysis for a time-to-event outcome at one horizon.

Net benefit of treating patients whose predicted risk at the horizon is at least a
threshold probability :math:`p_t`, with the outcome probabilities estimated by
Kaplan-Meier so that censoring is handled (Vickers et al. 2008).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._horizon import check_horizon, check_probability, warn
from oncofusion.survival.nonparametric import kaplan_meier
from oncofusion.survival.target import check_survival_target

__all__ = ["net_benefit", "net_benefit_model", "net_benefit_treat_all"]


def _check_thresholds(thresholds: Any) -> np.ndarray:
    th = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if th.ndim != 1 or th.size == 0:
        raise SurvivalInputError("'thresholds' must be a number or a non-empty 1-D array.")
    bad = ~np.isfinite(th) | (th < 0) | (th >= 1)
    if bad.any():
        raise SurvivalInputError(
            f"'thresholds' must be probabilities in [0, 1); positions "
            f"{np.flatnonzero(bad)[:10].tolist()} are not (at p_t = 1 the odds p_t/(1-p_t) "
            "are infinite). Fix: e.g. thresholds=np.arange(0.01, 0.99, 0.01)."
        )
    return th


def _target(time: Any, event: Any, horizon: Any) -> tuple[np.ndarray, np.ndarray, float]:
    t, e = check_survival_target(time, event)
    return t, e, check_horizon(t, horizon)


def net_benefit_treat_all(time: Any, event: Any, horizon: float, thresholds: Any) -> np.ndarray:
    """Net benefit of treating everyone, at each threshold probability.

    .. math::

        NB_{\\text{all}}(p_t) = \\big(1 - \\hat S(t)\\big) - \\hat S(t)\\,\\frac{p_t}{1 - p_t}

    with :math:`\\hat S` the Kaplan-Meier estimate in the whole sample and :math:`t` the
    horizon. Treating nobody has net benefit 0.

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M. Extensions to decision curve analysis, a novel
    method for evaluating diagnostic tests, prediction models and molecular markers. BMC Med
    Inform Decis Mak 2008;8:53.
    """
    t, e, h = _target(time, event, horizon)
    th = _check_thresholds(thresholds)
    s = float(kaplan_meier(t, e)(h))
    return (1.0 - s) - s * th / (1.0 - th)


def net_benefit_model(
    time: Any, event: Any, risk_at_horizon: Any, horizon: float, thresholds: Any
) -> np.ndarray:
    """Net benefit of treating patients with ``risk_at_horizon >= p_t``, per threshold.

    With :math:`x_i = [\\hat F_i(t) \\ge p_t]`, :math:`P(x = 1)` the fraction treated and
    :math:`\\hat S(t \\mid x = 1)` the Kaplan-Meier estimate among the treated,

    .. math::

        NB(p_t) = \\big(1 - \\hat S(t \\mid x=1)\\big) P(x=1)
        - \\hat S(t \\mid x=1)\\, P(x=1)\\, \\frac{p_t}{1 - p_t},

    the true-positive rate minus the false-positive rate weighted by the odds of the
    threshold. Without censoring before :math:`t` this is :math:`TP/n - FP/n \\cdot
    p_t/(1-p_t)`. It is 0 when nobody is treated.

    Warns
    -----
    UserWarning
        Once, listing the thresholds at which the treated group's follow-up ends before the
        horizon (its Kaplan-Meier estimate is then carried forward).

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M. BMC Med Inform Decis Mak 2008;8:53 (§"Decision
    curve analysis for survival data"). Vickers AJ, Elkin EB. Decision curve analysis: a
    novel method for evaluating prediction models. Med Decis Making 2006;26:565-574.
    """
    t, e, h = _target(time, event, horizon)
    p = check_probability(risk_at_horizon, len(t))
    th = _check_thresholds(thresholds)
    out = np.zeros(len(th))
    short = []
    for j, pt in enumerate(th):
        treated = p >= pt
        if not treated.any():
            continue
        s = float(kaplan_meier(t[treated], e[treated])(h))
        if t[treated].max() < h and s > 0:
            short.append(float(pt))
        frac = treated.mean()
        out[j] = (1.0 - s) * frac - s * frac * pt / (1.0 - pt)
    if short:
        warn(
            f"net_benefit: at thresholds {short[:5]}{' ...' if len(short) > 5 else ''} the "
            f"follow-up of the treated group ends before horizon={h:g}; its Kaplan-Meier "
            "estimate is carried forward from the last observed time."
        )
    return out


def net_benefit(
    time: Any, event: Any, risk_at_horizon: Any, horizon: float, thresholds: Any
) -> pd.DataFrame:
    """Decision curve at ``horizon``: net benefit of the model, treat-all and treat-none.

    .. math::

        NB_{\\text{model}}(p_t) &= \\big(1 - \\hat S(t \\mid \\hat F \\ge p_t)\\big)
            P(\\hat F \\ge p_t) - \\hat S(t \\mid \\hat F \\ge p_t)\\, P(\\hat F \\ge p_t)
            \\frac{p_t}{1 - p_t} \\\\
        NB_{\\text{all}}(p_t) &= \\big(1 - \\hat S(t)\\big) - \\hat S(t) \\frac{p_t}{1 - p_t},
        \\qquad NB_{\\text{none}} = 0

    Parameters
    ----------
    time, event
        Follow-up time and event indicator (1 = event).
    risk_at_horizon
        Predicted :math:`F(t) = 1 - S(t)` at ``horizon``; higher is worse.
    horizon
        The time ``t`` at which the outcome is defined.
    thresholds
        Threshold probabilities in [0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold, model, treat_all, treat_none``, one row per threshold.

    References
    ----------
    Vickers AJ, Cronin AM, Elkin EB, Gonen M. Extensions to decision curve analysis, a novel
    method for evaluating diagnostic tests, prediction models and molecular markers. BMC Med
    Inform Decis Mak 2008;8:53.
    """
    th = _check_thresholds(thresholds)
    model = net_benefit_model(time, event, risk_at_horizon, horizon, th)
    treat_all = net_benefit_treat_all(time, event, horizon, th)
    return pd.DataFrame(
        {"threshold": th, "model": model, "treat_all": treat_all, "treat_none": np.zeros(len(th))}
    )
