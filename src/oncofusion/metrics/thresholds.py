"""Classification at a horizon: the binary outcome under censoring, Youden's threshold and
sensitivity, specificity, predictive values and likelihood ratios with confidence intervals.

A patient is positive when ``risk_at_horizon >= threshold``. The outcome at horizon ``t``:

- case: an event at :math:`T_i \\le t`;
- control: known event-free at ``t`` (:math:`T_i > t`, or censored at exactly ``t``);
- unknown: censored before ``t``.

``method="exclude"`` (default) drops the unknown patients: simple and transparent, but
biased when censoring before ``t`` is common (cases are over-represented).
``method="ipcw"`` weights cases by :math:`1/\\hat G(T_i-)` and controls by
:math:`1/\\hat G(t-)`, with :math:`\\hat G` the Kaplan-Meier estimate of the censoring
distribution in the same data (unknown patients get weight 0), as in Uno et al. (2007) and
Blanche et al. (2013); counts are then weighted (they estimate the counts in a cohort of
``n`` without censoring) and Wilson intervals use the Kish effective sample size.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._horizon import check_ci, check_horizon, check_probability, warn
from oncofusion.metrics._wilson import likelihood_ratio_interval, wilson_interval
from oncofusion.survival.nonparametric import censoring_kaplan_meier
from oncofusion.survival.target import check_survival_target

__all__ = [
    "Estimate",
    "ThresholdMetrics",
    "YoudenThreshold",
    "outcome_at_horizon",
    "threshold_metrics",
    "youden_threshold",
]

_METHODS = ("exclude", "ipcw")


class Estimate(NamedTuple):
    """A point estimate with its confidence interval."""

    estimate: float
    low: float
    high: float

    def __float__(self) -> float:
        """The point estimate."""
        return float(self.estimate)


class YoudenThreshold(NamedTuple):
    """The threshold maximising Youden's J, with J, sensitivity and specificity there."""

    threshold: float
    youden_index: float
    sensitivity: float
    specificity: float

    def __float__(self) -> float:
        """The threshold (e.g. for :func:`oncofusion.metrics.bootstrap`)."""
        return float(self.threshold)


@dataclass(frozen=True)
class ThresholdMetrics:
    """Counts and accuracy measures of ``risk_at_horizon >= threshold`` at ``horizon``.

    ``tp, fp, tn, fn`` are counts (weighted sums with ``method="ipcw"``); ``n_excluded``
    counts patients censored before the horizon.
    """

    threshold: float
    horizon: float
    method: str
    tp: float
    fp: float
    tn: float
    fn: float
    n_excluded: int
    sensitivity: Estimate
    specificity: Estimate
    ppv: Estimate
    npv: Estimate
    lr_positive: Estimate
    lr_negative: Estimate

    def to_frame(self) -> pd.DataFrame:
        """One row per measure with columns ``estimate, low, high``."""
        names = ["sensitivity", "specificity", "ppv", "npv", "lr_positive", "lr_negative"]
        return pd.DataFrame(
            [tuple(getattr(self, k)) for k in names], index=names, columns=list(Estimate._fields)
        )


def outcome_at_horizon(
    time: Any, event: Any, horizon: float, method: str = "exclude"
) -> tuple[np.ndarray, np.ndarray]:
    """Binary outcome at ``horizon`` and its weight (0 for patients censored before it).

    .. math::

        Y_i = [T_i \\le t,\\ \\delta_i = 1], \\qquad
        w_i = \\begin{cases} 1/\\hat G(T_i-) & \\text{case} \\\\ 1/\\hat G(t-) &
        \\text{control} \\\\ 0 & \\text{censored before } t \\end{cases}

    for ``method="ipcw"``; with ``method="exclude"`` the weights are 1 for cases and
    controls.

    Returns
    -------
    (y, weight)
        ``y`` is boolean (True = event by ``horizon``); ``weight`` is float.

    References
    ----------
    Uno H, Cai T, Tian L, Wei LJ. Evaluating prediction rules for t-year survivors with
    censored regression models. JASA 2007;102:527-537.
    Blanche P, Dartigues JF, Jacqmin-Gadda H. Review and comparison of ROC curve estimators
    for a time-dependent outcome with marker-dependent censoring. Biom J 2013;55:687-704.
    """
    t, e = check_survival_target(time, event)
    h = check_horizon(t, horizon)
    if method not in _METHODS:
        raise SurvivalInputError(f"'method' must be one of {_METHODS}, got {method!r}.")
    case = e & (t <= h)
    control = (t > h) | ((t == h) & ~e)
    if method == "exclude":
        return case, (case | control).astype(np.float64)
    g = censoring_kaplan_meier(t, e)
    g_case = g.left_limit(t)
    g_ctrl = float(g.left_limit(h))
    used_g = np.where(case, g_case, g_ctrl)[case | control]
    if np.any(used_g <= 0):
        raise SurvivalInputError(
            f"method='ipcw': the censoring survival reaches 0 before horizon={h:g}, so the "
            "inverse-probability weights are infinite. Fix: use method='exclude' or an earlier "
            "horizon."
        )
    w = np.zeros(len(t))
    w[case] = 1.0 / g_case[case]
    w[control] = 1.0 / g_ctrl
    return case, w


def _prepared(
    time: Any, event: Any, risk_at_horizon: Any, horizon: Any, method: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    y, w = outcome_at_horizon(time, event, horizon, method)
    p = check_probability(risk_at_horizon, len(y))
    return y, w, p, float(horizon)


def youden_threshold(
    time: Any, event: Any, risk_at_horizon: Any, horizon: float, method: str = "exclude"
) -> YoudenThreshold:
    """Threshold on ``risk_at_horizon`` that maximises Youden's index at ``horizon``.

    .. math::

        c^* = \\arg\\max_c\\ J(c), \\qquad J(c) = \\text{Se}(c) + \\text{Sp}(c) - 1,

    over the observed predicted risks ``c`` (positive means ``risk_at_horizon >= c``); among
    ties the highest threshold is returned. Choose it on a validation set and apply it,
    locked, to the test set with :func:`threshold_metrics` (DMA-Net §2.5).

    References
    ----------
    Youden WJ. Index for rating diagnostic tests. Cancer 1950;3:32-35.
    """
    y, w, p, h = _prepared(time, event, risk_at_horizon, horizon, method)
    w_pos, w_neg = w * y, w * ~y
    if w_pos.sum() <= 0 or w_neg.sum() <= 0:
        raise SurvivalInputError(
            f"youden_threshold needs both cases (event by horizon={h:g}) and controls "
            f"(event-free at {h:g}); got {int(np.sum(y & (w > 0)))} cases and "
            f"{int(np.sum(~y & (w > 0)))} controls. Fix: choose another horizon."
        )
    cand, inv = np.unique(p, return_inverse=True)
    # positives at threshold cand[k] are the patients with p >= cand[k]
    tp = np.cumsum(np.bincount(inv, weights=w_pos, minlength=len(cand))[::-1])[::-1]
    fp = np.cumsum(np.bincount(inv, weights=w_neg, minlength=len(cand))[::-1])[::-1]
    sens = tp / w_pos.sum()
    spec = 1.0 - fp / w_neg.sum()
    j = sens + spec - 1.0
    best = int(np.flatnonzero(j >= j.max() - 1e-12)[-1])
    return YoudenThreshold(float(cand[best]), float(j[best]), float(sens[best]), float(spec[best]))


def _proportion(num: float, den: float, n_eff: float, ci: float, name: str) -> Estimate:
    if den <= 0:
        warn(f"threshold_metrics: {name} is undefined (empty denominator); returned as NaN.")
        return Estimate(np.nan, np.nan, np.nan)
    est = num / den
    _, low, high = wilson_interval(est * n_eff, n_eff, ci)
    return Estimate(float(est), low, high)


def _kish(w: np.ndarray) -> float:
    s2 = float(np.sum(w**2))
    return float(np.sum(w)) ** 2 / s2 if s2 > 0 else 0.0


def threshold_metrics(
    time: Any,
    event: Any,
    risk_at_horizon: Any,
    horizon: float,
    threshold: float,
    ci: float = 0.95,
    method: str = "exclude",
) -> ThresholdMetrics:
    """Sensitivity, specificity, PPV, NPV and likelihood ratios of a locked threshold.

    With positive :math:`= [\\hat F_i(t) \\ge c]` and the outcome of
    :func:`outcome_at_horizon`,

    .. math::

        \\text{Se} = \\frac{TP}{TP + FN},\\ \\text{Sp} = \\frac{TN}{TN + FP},\\
        \\text{PPV} = \\frac{TP}{TP + FP},\\ \\text{NPV} = \\frac{TN}{TN + FN},\\
        LR^{+} = \\frac{\\text{Se}}{1 - \\text{Sp}},\\ LR^{-} = \\frac{1 - \\text{Se}}{\\text{Sp}}

    Proportions get Wilson score intervals (with the Kish effective size
    :math:`(\\sum w)^2/\\sum w^2` of the denominator under ``method="ipcw"``); likelihood
    ratios get the log-method interval of Simel et al. (1991). When a cell needed by a
    likelihood ratio is 0, 0.5 is added to all four cells for the ratios (Haldane
    correction), with a warning. An empty denominator gives NaN, with a warning.

    Parameters
    ----------
    time, event
        Follow-up time and event indicator.
    risk_at_horizon
        Predicted :math:`F(t) = 1 - S(t)`; higher is worse.
    horizon
        The time ``t`` defining the outcome.
    threshold
        The locked threshold (e.g. from :func:`youden_threshold` on a validation set).
    ci
        Confidence level.
    method
        ``"exclude"`` or ``"ipcw"`` (see the module docstring).

    References
    ----------
    Wilson EB. JASA 1927;22:209-212. Simel DL, Samsa GP, Matchar DB. J Clin Epidemiol
    1991;44:763-770.
    """
    y, w, p, h = _prepared(time, event, risk_at_horizon, horizon, method)
    level = check_ci(ci)
    c = float(np.asarray(threshold, dtype=np.float64))
    if not np.isfinite(c):
        raise SurvivalInputError(f"'threshold' must be a finite number, got {threshold!r}.")
    pos = p >= c
    tp_w, fn_w = w * (y & pos), w * (y & ~pos)
    fp_w, tn_w = w * (~y & pos), w * (~y & ~pos)
    tp, fn, fp, tn = (float(a.sum()) for a in (tp_w, fn_w, fp_w, tn_w))
    sens = _proportion(tp, tp + fn, _kish(tp_w + fn_w), level, "sensitivity")
    spec = _proportion(tn, tn + fp, _kish(tn_w + fp_w), level, "specificity")
    ppv = _proportion(tp, tp + fp, _kish(tp_w + fp_w), level, "PPV")
    npv = _proportion(tn, tn + fn, _kish(tn_w + fn_w), level, "NPV")
    if tp + fn <= 0 or tn + fp <= 0:
        nan = Estimate(np.nan, np.nan, np.nan)
        lr_pos = lr_neg = nan
        warn("threshold_metrics: likelihood ratios need cases and controls; returned as NaN.")
    else:
        # effective cells: proportions of the weighted table on the Kish sample sizes
        n1, n2 = _kish(tp_w + fn_w), _kish(tn_w + fp_w)
        a, cc = sens.estimate * n1, (1.0 - sens.estimate) * n1
        d, b = spec.estimate * n2, (1.0 - spec.estimate) * n2
        if min(a, b, cc, d) <= 0:
            warn(
                "threshold_metrics: a zero cell in the 2x2 table; 0.5 was added to every cell "
                "to compute the likelihood ratios and their intervals (Haldane correction)."
            )
            a, b, cc, d = a + 0.5, b + 0.5, cc + 0.5, d + 0.5
        lr_pos = Estimate(*likelihood_ratio_interval(a, a + cc, b, b + d, level))
        lr_neg = Estimate(*likelihood_ratio_interval(cc, a + cc, d, b + d, level))
    return ThresholdMetrics(
        threshold=c,
        horizon=h,
        method=method,
        tp=tp,
        fp=fp,
        tn=tn,
        fn=fn,
        n_excluded=int(np.sum(w == 0)),
        sensitivity=sens,
        specificity=spec,
        ppv=ppv,
        npv=npv,
        lr_positive=lr_pos,
        lr_negative=lr_neg,
    )
