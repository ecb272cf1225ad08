"""Goodness-of-fit tests: Hosmer-Lemeshow, D'Agostino-Nam (and its Greenwood variant),
D-calibration. Re-exported by :mod:`oncofusion.metrics.calibration`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._horizon import (
    check_horizon,
    check_n_groups,
    check_probability,
    risk_groups,
    warn,
)
from oncofusion.survival.nonparametric import kaplan_meier
from oncofusion.survival.target import check_survival_target

__all__ = [
    "DCalibrationResult",
    "GoodnessOfFit",
    "d_calibration",
    "dagostino_nam",
    "hosmer_lemeshow",
]

_VARIANCES = ("binomial", "greenwood")
_INTERPOLATIONS = ("linear", "step")


class GoodnessOfFit(NamedTuple):
    """A chi-square goodness-of-fit test: statistic, degrees of freedom and p-value."""

    statistic: float
    df: int
    p_value: float

    def __float__(self) -> float:
        """The test statistic (e.g. for :func:`oncofusion.metrics.bootstrap`)."""
        return float(self.statistic)


class DCalibrationResult(NamedTuple):
    """D-calibration chi-square test and the (fractional) count of patients in each bin."""

    statistic: float
    df: int
    p_value: float
    bin_counts: np.ndarray

    def __float__(self) -> float:
        """The test statistic (e.g. for :func:`oncofusion.metrics.bootstrap`)."""
        return float(self.statistic)


def _chi2(stat: float, df: int) -> GoodnessOfFit:
    return GoodnessOfFit(float(stat), int(df), float(stats.chi2.sf(stat, df)))


def hosmer_lemeshow(y_binary: Any, prob: Any, n_groups: int = 10) -> GoodnessOfFit:
    """Hosmer-Lemeshow test of a predicted probability for a binary outcome.

    Patients are cut into ``n_groups`` groups at the quantiles of ``prob`` (see
    :func:`oncofusion.metrics._horizon.risk_groups`); with :math:`O_g` observed events,
    :math:`E_g = \\sum_{i \\in g} p_i` expected events and :math:`n_g` patients in group g,

    .. math::

        \\hat C = \\sum_{g=1}^{G} \\frac{(O_g - E_g)^2}{E_g (1 - E_g / n_g)}
        \\sim \\chi^2_{G - 2}.

    Matches R's ``ResourceSelection::hoslem.test(y, prob, g = n_groups)``, except that when
    tied predictions leave fewer than ``n_groups`` groups the degrees of freedom use the
    groups actually formed (with a warning) rather than ``n_groups - 2``.

    Parameters
    ----------
    y_binary
        Observed outcome, 0/1.
    prob
        Predicted probability of ``y_binary == 1``.
    n_groups
        Number of risk groups (at least 3).

    References
    ----------
    Hosmer DW, Lemeshow S. Goodness of fit tests for the multiple logistic regression model.
    Commun Stat Theory Methods 1980;9:1043-1069.
    """
    y = np.asarray(y_binary)
    if y.ndim != 1 or y.size == 0 or not np.isin(y, (0, 1)).all():
        raise SurvivalInputError(
            "'y_binary' must be a non-empty 1-D array of 0/1 outcomes. Fix: for a survival "
            "target use dagostino_nam(time, event, risk_at_horizon, horizon) instead."
        )
    y = y.astype(np.float64)
    p = check_probability(prob, len(y), name="prob")
    g = check_n_groups(n_groups, len(y), minimum=3)
    labels = risk_groups(p, g, "quantile")
    n_g = np.bincount(labels).astype(np.float64)
    o_g = np.bincount(labels, weights=y)
    e_g = np.bincount(labels, weights=p)
    var = e_g * (1.0 - e_g / n_g)
    if np.any(var <= 0):
        raise SurvivalInputError(
            "'prob': a risk group has all predictions equal to 0 or 1, so its binomial "
            "variance is 0 and the Hosmer-Lemeshow statistic is undefined. Fix: use fewer groups."
        )
    n_found = len(n_g)
    if n_found < 3:
        raise SurvivalInputError(
            f"'prob': only {n_found} distinct risk groups can be formed; the test needs 3."
        )
    return _chi2(float(np.sum((o_g - e_g) ** 2 / var)), n_found - 2)


def dagostino_nam(
    time: Any,
    event: Any,
    risk_at_horizon: Any,
    horizon: float,
    n_groups: int = 10,
    variance: str = "binomial",
) -> GoodnessOfFit:
    """D'Agostino-Nam goodness-of-fit test for a predicted risk at ``horizon``.

    Patients are cut at the quantiles of the predicted risk; in group g, with
    :math:`\\hat F_g^{KM}(t)` the Kaplan-Meier cumulative incidence and
    :math:`\\bar F_g` the mean predicted risk,

    .. math::

        \\chi^2 = \\sum_{g=1}^{G} \\frac{(\\hat F_g^{KM}(t) - \\bar F_g)^2}{V_g}
        \\sim \\chi^2_{G - 1},

    where :math:`V_g = \\bar F_g (1 - \\bar F_g) / n_g` (``variance="binomial"``: D'Agostino
    & Nam 2004) or the Greenwood variance of :math:`\\hat F_g^{KM}(t)`
    (``variance="greenwood"``: the Greenwood-Nam-D'Agostino test of Demler et al. 2015, which
    keeps its size under heavy censoring).

    Warns
    -----
    UserWarning
        Once if a group has fewer than 5 events by ``horizon`` (Demler et al. advise
        collapsing such groups; pass a smaller ``n_groups``).

    References
    ----------
    D'Agostino RB, Nam BH. Evaluation of the performance of survival analysis models:
    discrimination and calibration measures. In: Handbook of Statistics 23, Elsevier 2004,
    pp. 1-25.
    Demler OV, Paynter NP, Cook NR. Tests of calibration and goodness-of-fit in the survival
    setting. Stat Med 2015;34:1659-1680.
    """
    if variance not in _VARIANCES:
        raise SurvivalInputError(f"'variance' must be one of {_VARIANCES}, got {variance!r}.")
    t, e = check_survival_target(time, event)
    p = check_probability(risk_at_horizon, len(t))
    h = check_horizon(t, horizon)
    g = check_n_groups(n_groups, len(t))
    labels = risk_groups(p, g, "quantile")
    stat, few, zero_var = 0.0, [], []
    n_found = int(labels.max()) + 1
    for k in range(n_found):
        m = labels == k
        km = kaplan_meier(t[m], e[m])
        s = float(km(h))
        if np.sum(e[m] & (t[m] <= h)) < 5:
            few.append(k)
        f_bar = float(p[m].mean())
        if variance == "binomial":
            v = f_bar * (1.0 - f_bar) / m.sum()
        else:
            keep = (km.times <= h) & (km.n_events > 0) & (km.n_at_risk > km.n_events)
            n_j, d_j = km.n_at_risk[keep], km.n_events[keep]
            v = s * s * float(np.sum(d_j / (n_j * (n_j - d_j))))
        if v <= 0:
            zero_var.append(k)
            continue
        stat += ((1.0 - s) - f_bar) ** 2 / v
    if zero_var:
        raise SurvivalInputError(
            f"dagostino_nam: groups {zero_var} have zero variance at horizon={h:g} (no event, "
            "or every prediction 0 or 1), so the statistic is undefined. Fix: use fewer groups"
            + (" or variance='binomial'." if variance == "greenwood" else ".")
        )
    if few:
        warn(
            f"dagostino_nam: groups {few} have fewer than 5 events by horizon={h:g}; the "
            "chi-square approximation may be poor. Fix: use fewer groups."
        )
    return _chi2(stat, n_found - 1)


def _surv_at_own_time(
    time: np.ndarray, surv: np.ndarray, times: np.ndarray, interpolation: str
) -> np.ndarray:
    """:math:`\\hat S_i(T_i)` from a survival matrix on a time grid (S = 1 at time 0)."""
    grid = times
    values = surv
    if grid[0] > 0:
        grid = np.concatenate([[0.0], grid])
        values = np.column_stack([np.ones(len(surv)), surv])
    rows = np.arange(len(time))
    j = np.clip(np.searchsorted(grid, time, side="right") - 1, 0, len(grid) - 1)
    left = values[rows, j]
    if interpolation == "step":
        return left
    j1 = np.minimum(j + 1, len(grid) - 1)
    span = grid[j1] - grid[j]
    w = np.where(span > 0, (time - grid[j]) / np.where(span > 0, span, 1.0), 0.0)
    return left + np.clip(w, 0.0, 1.0) * (values[rows, j1] - left)


def d_calibration(
    time: Any,
    event: Any,
    surv: np.ndarray | Callable[[np.ndarray], np.ndarray],
    times: Any = None,
    n_bins: int = 10,
    interpolation: str = "linear",
) -> DCalibrationResult:
    """D-calibration test: are the predicted :math:`S_i(T_i)` uniform on [0, 1]?

    For a calibrated model, :math:`S_i(T_i) \\sim U(0, 1)`. Each uncensored patient adds 1
    to the bin :math:`[b_{k}, b_{k+1})` holding :math:`s_i = \\hat S_i(T_i)`; a patient
    censored at :math:`C_i` with :math:`c_i = \\hat S_i(C_i)` only knows :math:`s_i \\le c_i`
    and is spread uniformly over :math:`[0, c_i]`: the bin holding :math:`c_i` gets
    :math:`(c_i - b_k)/c_i` and each bin below it :math:`(b_{k+1} - b_k)/c_i`. Then, with
    :math:`N_k` the bin counts and B bins,

    .. math:: \\chi^2 = \\sum_{k=1}^{B} \\frac{(N_k - n/B)^2}{n/B} \\sim \\chi^2_{B-1}.

    Parameters
    ----------
    time, event
        Follow-up time and event indicator.
    surv
        Either the predicted survival matrix of shape ``(n, len(times))`` (probabilities,
        non-increasing in time) or a callable mapping ``time`` to :math:`\\hat S_i(T_i)`.
    times
        Strictly increasing time grid of ``surv`` (required for a matrix). Before
        ``times[0]`` the survival is 1 at time 0; past ``times[-1]`` it is held (warned).
    n_bins
        Number of equal-width bins on [0, 1].
    interpolation
        ``"linear"`` between grid times or ``"step"`` (right-continuous).

    References
    ----------
    Haider H, Hoehn B, Davis S, Greiner R. Effective ways to build and evaluate individual
    survival distributions. JMLR 2020;21(85):1-63, §4.2 and Appendix B.
    """
    t, e = check_survival_target(time, event)
    b = check_n_groups(n_bins, 10**9, name="n_bins")
    if interpolation not in _INTERPOLATIONS:
        raise SurvivalInputError(
            f"'interpolation' must be one of {_INTERPOLATIONS}, got {interpolation!r}."
        )
    if callable(surv):
        s = check_probability(surv(t), len(t), name="surv(time)")
    else:
        sm = np.asarray(surv, dtype=np.float64)
        if times is None or sm.ndim != 2:
            raise SurvivalInputError(
                "'surv' must be a callable or a 2-D survival matrix (n, len(times)) with its "
                "'times' grid."
            )
        grid = np.asarray(times, dtype=np.float64)
        if grid.ndim != 1 or sm.shape != (len(t), len(grid)):
            raise SurvivalInputError(
                f"'surv' must have shape (len(time), len(times)) = ({len(t)}, {grid.size}), "
                f"got {sm.shape}."
            )
        if not np.all(np.isfinite(grid)) or np.any(np.diff(grid) <= 0) or grid[0] < 0:
            raise SurvivalInputError("'times' must be finite, >= 0 and strictly increasing.")
        check_probability(sm.ravel(), sm.size, name="surv")
        if t.max() > grid[-1]:
            warn(
                f"d_calibration: {int(np.sum(t > grid[-1]))} follow-up time(s) exceed the last "
                f"grid time {grid[-1]:g}; their survival is held at its last value."
            )
        s = _surv_at_own_time(t, sm, grid, interpolation)
    edges = np.linspace(0.0, 1.0, b + 1)
    k = np.clip(np.floor(s * b).astype(np.int64), 0, b - 1)
    counts = np.bincount(k[e], minlength=b).astype(np.float64)
    c, kc = s[~e], k[~e]
    pos = c > 0
    # censored at S = 0: all its mass is in the first bin
    counts[0] += np.sum(~pos)
    c, kc = c[pos], kc[pos]
    np.add.at(counts, kc, (c - edges[kc]) / c)
    below = np.arange(b)[None, :] < kc[:, None]
    counts += (below * (1.0 / b) / c[:, None]).sum(axis=0)
    expected = len(t) / b
    stat = float(np.sum((counts - expected) ** 2 / expected))
    df = b - 1
    return DCalibrationResult(stat, df, float(stats.chi2.sf(stat, df)), counts)
