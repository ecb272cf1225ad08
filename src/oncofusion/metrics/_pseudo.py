"""Jackknife pseudo-observations of the Kaplan-Meier cumulative incidence at one time."""

from __future__ import annotations

import numpy as np

__all__ = ["km_pseudo_values"]


def _log_factors(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split factors in [0, 1] into (log of the non-zero ones, indicator of a zero)."""
    zero = f <= 0.0
    return np.where(zero, 0.0, np.log(np.where(zero, 1.0, f))), zero.astype(np.int64)


def km_pseudo_values(time: np.ndarray, event: np.ndarray, horizon: float) -> np.ndarray:
    """Pseudo-observations of :math:`F(t) = 1 - S(t)` at ``t = horizon``, in O(n log n).

    .. math::

        \\hat\\theta_i = n\\,\\hat F(t) - (n - 1)\\,\\hat F_{-i}(t)

    where :math:`\\hat F_{-i}` is the Kaplan-Meier estimate without patient ``i``. Leaving
    ``i`` out (observed at :math:`T_i`, distinct-time index :math:`k_i`) lowers the risk set
    by one at every distinct time :math:`u_j \\le T_i` and the event count by
    :math:`\\delta_i` at :math:`u_{k_i}`, so

    .. math::

        \\hat S_{-i}(t) = \\prod_{j < k_i,\\,u_j \\le t}\\Big(1 - \\frac{d_j}{n_j - 1}\\Big)
        \\Big(1 - \\frac{d_{k_i} - \\delta_i}{n_{k_i} - 1}\\Big)^{[u_{k_i} \\le t]}
        \\prod_{j > k_i,\\,u_j \\le t}\\Big(1 - \\frac{d_j}{n_j}\\Big),

    evaluated with prefix sums of logs (zeros counted apart).

    References
    ----------
    Andersen PK, Perme MP. Pseudo-observations in survival analysis. Stat Methods Med Res
    2010;19:71-99.
    """
    n = len(time)
    uniq, inv = np.unique(time, return_inverse=True)
    n_obs = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    d = np.bincount(inv, weights=event.astype(np.float64), minlength=len(uniq))
    n_risk = np.cumsum(n_obs[::-1])[::-1]
    last = int(np.searchsorted(uniq, horizon, side="right"))  # u_j <= t  <=>  j < last
    full = np.where(n_risk > 0, 1.0 - d / np.maximum(n_risk, 1.0), 1.0)
    reduced = np.where(n_risk > 1, 1.0 - d / np.maximum(n_risk - 1.0, 1.0), 1.0)
    reduced = np.clip(reduced, 0.0, 1.0)  # negative only where no patient can be left out
    s_full = float(np.prod(full[:last]))

    lf, zf = _log_factors(full[:last])
    lr, zr = _log_factors(reduced[:last])
    # prefix sums over j < k (reduced) and suffix sums over k < j < last (full)
    cum_lr = np.concatenate([[0.0], np.cumsum(lr)])
    cum_zr = np.concatenate([[0], np.cumsum(zr)])
    cum_lf = np.concatenate([[0.0], np.cumsum(lf)])
    cum_zf = np.concatenate([[0], np.cumsum(zf)])

    k = inv
    before = np.minimum(k, last)  # number of reduced factors j < min(k, last)
    log_s = cum_lr[before]
    zeros = cum_zr[before].copy()
    inside = k < last
    ki = k[inside]
    own = np.where(
        n_risk[ki] > 1,
        1.0 - (d[ki] - event[inside]) / np.maximum(n_risk[ki] - 1.0, 1.0),
        1.0,
    )
    lo, zo = _log_factors(own)
    after_l = cum_lf[last] - cum_lf[ki + 1]
    after_z = cum_zf[last] - cum_zf[ki + 1]
    log_s[inside] += lo + after_l
    zeros[inside] += zo + after_z
    s_loo = np.where(zeros > 0, 0.0, np.exp(log_s))
    return n * (1.0 - s_full) - (n - 1) * (1.0 - s_loo)
