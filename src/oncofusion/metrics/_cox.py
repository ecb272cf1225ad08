"""A small Cox model (Efron ties) and restricted cubic splines for calibration curves.

Only what the flexible calibration model of Austin, Harrell & van Klaveren (2020) needs:
a few covariates, Newton-Raphson with step halving, the Efron baseline hazard, and
:math:`\\hat S(t \\mid x)` at one time. Kept dependency-free (no lifelines at run time);
``tests/metrics/test_calibration.py`` checks it against lifelines' ``CoxPHFitter``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from oncofusion.errors import SurvivalInputError

__all__ = ["CoxFit", "fit_cox", "rcs_basis", "rcs_knots"]

# Harrell's default knot quantiles (rms::rcspline.eval), by number of knots.
_KNOT_QUANTILES = {
    3: (0.10, 0.50, 0.90),
    4: (0.05, 0.35, 0.65, 0.95),
    5: (0.05, 0.275, 0.50, 0.725, 0.95),
}


def rcs_knots(x: np.ndarray, n_knots: int) -> np.ndarray:
    """Knots at Harrell's default quantiles of ``x`` (duplicates dropped)."""
    if n_knots not in _KNOT_QUANTILES:
        raise SurvivalInputError(f"'n_knots' must be 3, 4 or 5, got {n_knots!r}.")
    return np.unique(np.quantile(x, _KNOT_QUANTILES[n_knots]))


def rcs_basis(x: np.ndarray, knots: np.ndarray) -> np.ndarray:
    """Restricted cubic spline basis: ``x`` then ``k - 2`` non-linear terms.

    .. math::

        x_{(j)} = \\frac{(x - t_j)_+^3 - (x - t_{k-1})_+^3 \\frac{t_k - t_j}{t_k - t_{k-1}}
        + (x - t_k)_+^3 \\frac{t_{k-1} - t_j}{t_k - t_{k-1}}}{(t_k - t_1)^2},
        \\quad j = 1, \\dots, k-2

    (Harrell, *Regression Modeling Strategies*, 2nd ed., 2015, §2.4.5; ``norm = 2``).
    Fewer than 3 distinct knots give the linear term only.
    """
    cols = [x]
    k = len(knots)
    if k >= 3:
        t_k, t_k1, t_1 = knots[-1], knots[-2], knots[0]
        scale = (t_k - t_1) ** 2

        def cube(v: np.ndarray) -> np.ndarray:
            return np.maximum(v, 0.0) ** 3

        for t_j in knots[: k - 2]:
            term = (
                cube(x - t_j)
                - cube(x - t_k1) * (t_k - t_j) / (t_k - t_k1)
                + cube(x - t_k) * (t_k1 - t_j) / (t_k - t_k1)
            )
            cols.append(term / scale)
    return np.column_stack(cols)


@dataclass(frozen=True)
class CoxFit:
    """A fitted Cox model: coefficients, the centring and the baseline hazard steps."""

    beta: np.ndarray
    center: np.ndarray
    event_times: np.ndarray
    baseline_hazard: np.ndarray  # increments at ``event_times`` (covariates at ``center``)
    converged: bool

    def survival_at(self, X: np.ndarray, t: float) -> np.ndarray:
        """:math:`\\hat S(t \\mid x) = \\exp(-\\hat H_0(t)\\, e^{(x - \\bar x)^\\top \\hat\\beta})`."""
        h0 = float(self.baseline_hazard[self.event_times <= t].sum())
        return np.exp(-h0 * np.exp((X - self.center) @ self.beta))


def _efron_terms(
    X: np.ndarray, eta: np.ndarray, order: dict[str, np.ndarray]
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """Efron log partial likelihood, gradient, information and per-event-row denominators."""
    w = np.exp(eta)
    inv, first, ev_rows, ev_group, frac = (
        order["inv"],
        order["first"],
        order["ev_rows"],
        order["ev_group"],
        order["frac"],
    )
    p = X.shape[1]
    # risk-set sums S0, S1, S2 at each distinct time (everyone with time >= u_j)
    wx = w[:, None] * X
    wxx = wx[:, :, None] * X[:, None, :]
    rev = order["sort_desc"]
    s0 = np.cumsum(w[rev])[::-1]
    s1 = np.cumsum(wx[rev], axis=0)[::-1]
    s2 = np.cumsum(wxx[rev], axis=0)[::-1]
    # value at the first (earliest) sample of each distinct time, in ascending order
    s0_g, s1_g, s2_g = s0[first], s1[first], s2[first]
    n_groups = len(first)
    e0 = np.bincount(inv[ev_rows], weights=w[ev_rows], minlength=n_groups)
    e1 = np.zeros((n_groups, p))
    e2 = np.zeros((n_groups, p, p))
    np.add.at(e1, inv[ev_rows], wx[ev_rows])
    np.add.at(e2, inv[ev_rows], wxx[ev_rows])
    g = ev_group
    den = s0_g[g] - frac * e0[g]
    m1 = (s1_g[g] - frac[:, None] * e1[g]) / den[:, None]
    m2 = (s2_g[g] - frac[:, None, None] * e2[g]) / den[:, None, None]
    loglik = float(eta[ev_rows].sum() - np.log(den).sum())
    grad = X[ev_rows].sum(axis=0) - m1.sum(axis=0)
    info = (m2 - m1[:, :, None] * m1[:, None, :]).sum(axis=0)
    return loglik, grad, info, den


def fit_cox(
    time: np.ndarray, event: np.ndarray, X: np.ndarray, *, max_iter: int = 100, tol: float = 1e-9
) -> CoxFit:
    """Maximise the Efron partial likelihood by Newton-Raphson with step halving.

    Stops when no coefficient moves by more than ``tol`` (or the log-likelihood stalls).

    .. math::

        \\ell(\\beta) = \\sum_j \\Big[\\sum_{i \\in D_j} \\eta_i - \\sum_{l=0}^{d_j - 1}
        \\log\\Big(\\sum_{i \\in R_j} e^{\\eta_i} - \\tfrac{l}{d_j}\\sum_{i \\in D_j}
        e^{\\eta_i}\\Big)\\Big]

    The baseline hazard is Efron's: :math:`\\Delta \\hat H_0(u_j) = \\sum_l 1/\\text{den}_{jl}`
    (the default of R's ``survfit.coxph`` after an Efron fit; equal to Breslow's without
    ties).

    References
    ----------
    Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977;
    72:557-565.
    """
    center = X.mean(axis=0)
    Xc = X - center
    uniq, inv = np.unique(time, return_inverse=True)
    sort_desc = np.argsort(-time, kind="stable")
    # first index (in the descending cumulative sums) of each distinct time = its last row
    pos_in_desc = np.empty(len(time), dtype=np.int64)
    pos_in_desc[sort_desc] = np.arange(len(time))
    first = np.full(len(uniq), -1, dtype=np.int64)
    np.maximum.at(first, inv, pos_in_desc)
    # reversed cumsum was flipped: entry i of s0 (after [::-1]) sums rows rev[n-1-i..]
    first = len(time) - 1 - first
    ev_rows = np.flatnonzero(event)
    ev_group = inv[ev_rows]
    # rank of each event among the tied events of its time: 0, 1, ..., d_j - 1
    order_ev = np.argsort(ev_group, kind="stable")
    d_j = np.bincount(ev_group, minlength=len(uniq))
    starts = np.concatenate([[0], np.cumsum(d_j)])[ev_group[order_ev]]
    rank = np.empty(len(ev_rows), dtype=np.float64)
    rank[order_ev] = np.arange(len(ev_rows)) - starts
    frac = rank / d_j[ev_group]
    order = {
        "inv": inv,
        "first": first,
        "ev_rows": ev_rows,
        "ev_group": ev_group,
        "frac": frac,
        "sort_desc": sort_desc,
    }
    beta = np.zeros(X.shape[1])
    loglik, grad, info, den = _efron_terms(Xc, Xc @ beta, order)
    converged = False
    for _ in range(max_iter):
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, grad, rcond=None)[0]
        halving = 0
        while True:
            cand = beta + step
            ll_c, g_c, i_c, den_c = _efron_terms(Xc, Xc @ cand, order)
            if np.isfinite(ll_c) and ll_c >= loglik - 1e-12:
                break
            step = step / 2.0
            halving += 1
            if halving > 30:
                break
        done = bool(np.max(np.abs(cand - beta)) < tol) or abs(ll_c - loglik) < 1e-14 * (
            abs(loglik) + 1.0
        )
        beta, loglik, grad, info, den = cand, ll_c, g_c, i_c, den_c
        if done:
            converged = True
            break
    increments = np.bincount(ev_group, weights=1.0 / den, minlength=len(uniq))
    has_ev = d_j > 0
    return CoxFit(
        beta=beta,
        center=center,
        event_times=uniq[has_ev],
        baseline_hazard=increments[has_ev],
        converged=converged,
    )
