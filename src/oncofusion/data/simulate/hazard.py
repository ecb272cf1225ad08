"""Piecewise-constant hazards and Gauss-Hermite nodes, shared by the simulators and oracles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PiecewiseHazard", "gauss_hermite"]


def gauss_hermite(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes :math:`x_w` and weights :math:`\\omega_w` with :math:`E f(X) \\approx \\sum_w \\omega_w f(x_w)`, :math:`X \\sim N(0, 1)`."""
    x, w = np.polynomial.hermite_e.hermegauss(k)
    return x, w / w.sum()


@dataclass(frozen=True)
class PiecewiseHazard:
    """A baseline hazard :math:`\\lambda_0(t) = \\lambda_k` on :math:`(e_k, e_{k+1}]`, the last rate continuing.

    With a log relative hazard :math:`\\eta`, :math:`\\Lambda(t) = \\Lambda_0(t) e^{\\eta}` and
    :math:`S(t) = e^{-\\Lambda(t)}`.

    Parameters
    ----------
    edges
        Interval starts :math:`e_0 = 0 < e_1 < \\dots < e_{K-1}`, shape (K,).
    rates
        :math:`\\lambda_k > 0`, shape (K,); the last holds after :math:`e_{K-1}`.
    """

    edges: np.ndarray
    rates: np.ndarray

    def cumhaz(self, t: np.ndarray | float) -> np.ndarray:
        """:math:`\\Lambda_0(t)` (``inf`` stays ``inf``)."""
        t = np.asarray(t, dtype=np.float64)
        ends = np.r_[self.edges[1:], np.inf]
        width = np.clip(t[..., None] - self.edges, 0.0, ends - self.edges)
        width = np.where(np.isinf(t)[..., None], ends - self.edges, width)
        return (width * self.rates).sum(axis=-1)

    def inverse(self, target: np.ndarray) -> np.ndarray:
        """The time :math:`t` with :math:`\\Lambda_0(t) =` ``target`` (``target >= 0``)."""
        target = np.asarray(target, dtype=np.float64)
        knots = self.cumhaz(self.edges)
        k = np.clip(np.searchsorted(knots, target, side="right") - 1, 0, len(self.edges) - 1)
        return self.edges[k] + (target - knots[k]) / self.rates[k]

    def log_bin_probs(self, eta: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
        """:math:`\\log P(b_j < T \\le b_{j+1} \\mid \\eta)` for consecutive bins plus a tail bin.

        Parameters
        ----------
        eta
            Log relative hazards, any shape ``S``.
        bin_edges
            Increasing, starting at 0, shape (J + 1,).

        Returns
        -------
        ndarray, shape ``S + (J + 1,)``
            The J finite bins, then the tail :math:`T > b_J`.
        """
        cum = self.cumhaz(bin_edges)
        lam = np.exp(np.asarray(eta, dtype=np.float64))[..., None] * cum
        d = np.diff(lam, axis=-1)
        with np.errstate(divide="ignore"):
            finite = -lam[..., :-1] + np.log(-np.expm1(-d))
        return np.concatenate([finite, -lam[..., -1:]], axis=-1)

    def prob_event_before_censoring(
        self, eta: np.ndarray, censoring_rate: float, horizon: float
    ) -> np.ndarray:
        """:math:`P(T \\le \\min(C, \\tau))` with :math:`C \\sim \\mathrm{Exp}(c)` independent of :math:`T`.

        .. math::

            \\sum_k \\frac{\\lambda_k e^\\eta}{\\lambda_k e^\\eta + c}
                \\Big[e^{-\\Lambda(a_k) - c a_k} - e^{-\\Lambda(b_k) - c b_k}\\Big]

        over the pieces :math:`(a_k, b_k]` of :math:`(0, \\tau]`.
        """
        cuts = np.unique(np.r_[self.edges[self.edges < horizon], horizon])
        a, b = cuts[:-1], cuts[1:]
        k = np.searchsorted(self.edges, a, side="right") - 1
        e = np.exp(np.asarray(eta, dtype=np.float64))[..., None]
        rate = self.rates[k] * e
        surv_a = np.exp(-self.cumhaz(a) * e - censoring_rate * a)
        surv_b = np.exp(-self.cumhaz(b) * e - censoring_rate * b)
        return (rate / (rate + censoring_rate) * (surv_a - surv_b)).sum(axis=-1)
