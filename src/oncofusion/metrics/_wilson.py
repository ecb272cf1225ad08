"""Confidence intervals for proportions (Wilson) and likelihood ratios (log method)."""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["likelihood_ratio_interval", "wilson_interval"]


def _z(ci: float) -> float:
    return float(stats.norm.ppf(0.5 + ci / 2.0))


def wilson_interval(successes: float, n: float, ci: float = 0.95) -> tuple[float, float, float]:
    """Proportion ``successes / n`` with its Wilson score interval.

    .. math::

        \\frac{\\hat p + z^2/(2n)}{1 + z^2/n} \\pm
        \\frac{z}{1 + z^2/n}\\sqrt{\\frac{\\hat p(1-\\hat p)}{n} + \\frac{z^2}{4n^2}}

    ``n`` may be a (Kish) effective sample size, hence a float. Returns
    ``(estimate, low, high)``; the caller handles ``n == 0``.

    References
    ----------
    Wilson EB. Probable inference, the law of succession, and statistical inference.
    JASA 1927;22:209-212. Newcombe RG. Two-sided confidence intervals for the single
    proportion: comparison of seven methods. Stat Med 1998;17:857-872.
    """
    p = successes / n
    z = _z(ci)
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z / denom * np.sqrt(max(p * (1.0 - p), 0.0) / n + z * z / (4.0 * n * n))
    # exact 0 and 1 at the boundaries (round-off would otherwise leave 1e-17 around p)
    low = 0.0 if p <= 0.0 else min(max(centre - half, 0.0), p)
    high = 1.0 if p >= 1.0 else max(min(centre + half, 1.0), p)
    return float(p), float(low), float(high)


def likelihood_ratio_interval(
    x1: float, n1: float, x2: float, n2: float, ci: float = 0.95
) -> tuple[float, float, float]:
    """Ratio of two independent proportions ``(x1/n1) / (x2/n2)`` with the log-method CI.

    ``LR+ = sens / (1 - spec)`` is ``x1 = TP, n1 = TP + FN, x2 = FP, n2 = FP + TN``;
    ``LR- = (1 - sens) / spec`` is ``x1 = FN, n1 = TP + FN, x2 = TN, n2 = FP + TN``:

    .. math::

        \\widehat{SE}(\\log \\widehat{LR}) = \\sqrt{\\frac{1}{x_1} - \\frac{1}{n_1} +
        \\frac{1}{x_2} - \\frac{1}{n_2}}, \\qquad
        \\widehat{LR}\\,\\exp(\\pm z\\,\\widehat{SE}).

    All four numbers must be > 0 (the caller applies a continuity correction otherwise).

    References
    ----------
    Simel DL, Samsa GP, Matchar DB. Likelihood ratios with confidence: sample size
    estimation for diagnostic test studies. J Clin Epidemiol 1991;44:763-770.
    """
    lr = (x1 / n1) / (x2 / n2)
    se = np.sqrt(max(1.0 / x1 - 1.0 / n1 + 1.0 / x2 - 1.0 / n2, 0.0))
    z = _z(ci)
    return float(lr), float(lr * np.exp(-z * se)), float(lr * np.exp(z * se))
