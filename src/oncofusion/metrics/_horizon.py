"""Shared checks and helpers for metrics evaluated at one prediction horizon.

Used by calibration, decision curves and thresholds: validation of a predicted risk at a
horizon, of the horizon itself and of a number of groups; grouping by predicted risk; and
the Kaplan-Meier cumulative incidence at the horizon with its Greenwood interval.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any

import numpy as np
from scipy import stats

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.nonparametric import kaplan_meier
from oncofusion.survival.target import check_risk

__all__ = [
    "check_ci",
    "check_horizon",
    "check_n_groups",
    "check_probability",
    "km_risk_at",
    "risk_groups",
    "warn",
]

_STRATEGIES = ("quantile", "uniform")
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str) -> None:
    """Emit one :class:`UserWarning` attributed to the first caller outside this package."""
    level = 2  # stacklevel 2 = the caller of warn()
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    warnings.warn(message, UserWarning, stacklevel=level)


def check_probability(x: Any, n: int, *, name: str = "risk_at_horizon") -> np.ndarray:
    """Validate a 1-D array of probabilities in ``[0, 1]`` with one entry per sample."""
    p = check_risk(x, n, name=name)
    bad = (p < 0) | (p > 1)
    if bad.any():
        raise SurvivalInputError(
            f"'{name}' must be a probability in [0, 1] (predicted cumulative incidence "
            f"F(t) = 1 - S(t), higher is worse); positions {np.flatnonzero(bad)[:10].tolist()} "
            "are outside. Fix: pass 1 - S(t) at the horizon, not a log-hazard or a linear predictor."
        )
    return p


def check_horizon(time: np.ndarray, horizon: Any, *, name: str = "horizon") -> float:
    """Validate a positive, finite scalar horizon that some patient is followed up to.

    Raises when nobody has ``time >= horizon``: the Kaplan-Meier estimate at the horizon
    would be an extrapolation of the last observed value.
    """
    h = np.asarray(horizon)
    if h.ndim != 0 or not np.issubdtype(h.dtype, np.number) or h.dtype == bool:
        raise SurvivalInputError(
            f"'{name}' must be one number (a time in the unit of 'time'), got {horizon!r}."
        )
    hf = float(h)
    if not np.isfinite(hf) or hf <= 0:
        raise SurvivalInputError(f"'{name}' must be finite and > 0, got {hf}.")
    if not (time >= hf).any():
        raise SurvivalInputError(
            f"'{name}'={hf:g} is past the longest follow-up ({time.max():g}): nobody is observed "
            f"up to the horizon. Fix: choose a horizon <= {time.max():g}."
        )
    return hf


def check_n_groups(n_groups: Any, n: int, *, minimum: int = 2, name: str = "n_groups") -> int:
    """Validate an integer number of groups between ``minimum`` and ``n``."""
    if isinstance(n_groups, bool) or not isinstance(n_groups, (int, np.integer)):
        raise SurvivalInputError(f"'{name}' must be an integer, got {n_groups!r}.")
    g = int(n_groups)
    if g < minimum:
        raise SurvivalInputError(f"'{name}' must be >= {minimum}, got {g}.")
    if g > n:
        raise SurvivalInputError(
            f"'{name}'={g} exceeds the number of samples ({n}). Fix: use fewer groups."
        )
    return g


def check_ci(ci: Any) -> float:
    """Validate a confidence level strictly between 0 and 1."""
    if isinstance(ci, bool) or not isinstance(ci, (int, float, np.floating)):
        raise SurvivalInputError(f"'ci' must be a number in (0, 1), got {ci!r}.")
    if not 0.0 < float(ci) < 1.0:
        raise SurvivalInputError(f"'ci' must be in (0, 1) (e.g. 0.95), got {ci}.")
    return float(ci)


def risk_groups(prob: np.ndarray, n_groups: int, strategy: str = "quantile") -> np.ndarray:
    """Group labels ``0..G-1`` (increasing predicted risk) for each sample.

    ``"quantile"``: cut points at the ``k / n_groups`` sample quantiles (R's type 7),
    right-closed intervals with the lowest value included, as
    ``cut(p, unique(quantile(p, seq(0, 1, 1/g))), include.lowest = TRUE)`` in R (the
    grouping of ``ResourceSelection::hoslem.test``). ``"uniform"``: ``n_groups`` intervals
    of equal width on ``[0, 1]``. Empty intervals are dropped; a warning says when tied
    predictions leave fewer quantile groups than asked for.
    """
    if strategy not in _STRATEGIES:
        raise SurvivalInputError(f"'strategy' must be one of {_STRATEGIES}, got {strategy!r}.")
    if strategy == "quantile":
        breaks = np.unique(np.quantile(prob, np.linspace(0.0, 1.0, n_groups + 1)))
    else:
        breaks = np.linspace(0.0, 1.0, n_groups + 1)
    if len(breaks) < 2:  # every prediction identical
        return np.zeros(len(prob), dtype=np.int64)
    idx = np.clip(np.searchsorted(breaks, prob, side="left") - 1, 0, len(breaks) - 2)
    _, labels = np.unique(idx, return_inverse=True)
    n_found = int(labels.max()) + 1
    if strategy == "quantile" and n_found < n_groups:
        warn(
            f"Tied predictions leave {n_found} quantile groups instead of the {n_groups} asked "
            "for; the statistics use the groups found."
        )
    return labels.astype(np.int64)


def km_risk_at(
    time: np.ndarray, event: np.ndarray, horizon: float, ci: float = 0.95
) -> tuple[float, float, float, bool]:
    """Kaplan-Meier cumulative incidence :math:`1 - \\hat S(t)` at ``horizon`` with its CI.

    The interval is Greenwood's on the log(-log) scale (Kalbfleisch & Prentice 2002; the
    default of lifelines' ``KaplanMeierFitter``):

    .. math::

        \\hat\\sigma^2 = \\frac{\\sum_{t_j \\le t} d_j / (n_j (n_j - d_j))}{\\log^2 \\hat S(t)},
        \\qquad \\hat S(t)^{\\exp(\\pm z \\hat\\sigma)} .

    When :math:`\\hat S(t)` is 0 or 1 the interval is degenerate; the exact (Clopper-Pearson)
    bound for 0 (or all) events among the ``m`` patients whose status at ``t`` is known is
    returned instead (:math:`1 - (\\alpha/2)^{1/m}`). The last item is ``True`` in that case,
    so that the caller can warn once.
    """
    km = kaplan_meier(time, event)
    s = float(km(horizon))
    z = float(stats.norm.ppf(0.5 + ci / 2.0))
    alpha = 1.0 - ci
    if 0.0 < s < 1.0:
        keep = (km.times <= horizon) & (km.n_events > 0)
        n_j, d_j = km.n_at_risk[keep], km.n_events[keep]
        gw = float(np.sum(d_j / (n_j * (n_j - d_j))))
        sigma = np.sqrt(gw) / abs(np.log(s))
        s_low, s_high = s ** np.exp(z * sigma), s ** np.exp(-z * sigma)
        return 1.0 - s, 1.0 - s_high, 1.0 - s_low, False
    known = int(np.sum((event & (time <= horizon)) | (time >= horizon)))
    bound = 1.0 - (alpha / 2.0) ** (1.0 / known) if known > 0 else 1.0
    if s >= 1.0:
        return 0.0, 0.0, bound, True
    return 1.0, 1.0 - bound, 1.0, True
