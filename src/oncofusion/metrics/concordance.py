"""Harrell's and Uno's concordance index in O(n log n).

Conventions are scikit-survival's (``concordance_index_censored``, ``concordance_index_ipcw``),
which match R ``survival::concordance`` on untied data:

* a pair (i, j) is comparable when ``i`` had an event and ``j`` was observed longer
  (:math:`y_j > y_i`), or was censored at the same time (:math:`y_j = y_i`, :math:`\\delta_j=0`);
  two events at the same time are not comparable;
* a comparable pair is concordant when ``risk_i > risk_j`` (``risk``: higher means worse);
  risks within ``tied_tol`` of each other count 1/2.

The pair counts come from :mod:`oncofusion.metrics._pairs` (a vectorised merge-sort dominance
count), not from a loop over pairs, so a million samples take about a second.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from oncofusion.errors import NoComparablePairsError, SurvivalInputError
from oncofusion.metrics._checks import check_tied_tol, check_train
from oncofusion.metrics._pairs import PairLevels, comparable_pairs
from oncofusion.metrics.ipcw import CensoringSurvival, censoring_survival, kaplan_meier_rows
from oncofusion.survival.target import check_risk, check_survival_target

__all__ = ["ConcordanceResult", "concordance_index", "concordance_index_uno"]

_DIRECTION_HINT = (
    "A C-index this far below 0.5 usually means the score points the wrong way: 'risk' must be "
    "higher-is-worse. Fix: pass -predicted_survival_time, or 1 - S(t), or a hazard."
)


@dataclass(frozen=True)
class ConcordanceResult:
    """A concordance index with the pair counts behind it (as scikit-survival returns them).

    Attributes
    ----------
    value
        The C-index in [0, 1]; ``float(result)`` gives it.
    concordant, discordant, tied_risk
        Comparable pairs where the earlier event has the higher, lower or a tied risk.
    tied_time
        Comparable pairs of an event and a censoring at the same time.
    comparable
        All comparable pairs, ``concordant + discordant + tied_risk``.
    """

    value: float
    concordant: int
    discordant: int
    tied_risk: int
    tied_time: int
    comparable: int

    def __float__(self) -> float:
        return float(self.value)


def _check_inputs(time: Any, event: Any, risk: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t, e = check_survival_target(time, event)
    r = check_risk(risk, t.shape[0])
    return t, e, r


def _no_pairs(event: np.ndarray, extra: str = "") -> NoComparablePairsError:
    if not event.any():
        why = "all samples are censored"
    else:
        why = "no event is followed by a longer (or tied censored) follow-up time"
    return NoComparablePairsError(
        f"the concordance index is undefined: there is no comparable pair ({why}{extra}). "
        "Fix: evaluate on data with at least one event and a sample observed beyond it."
    )


def _warn_if_reversed(value: float, comparable: int) -> None:
    if comparable >= 10 and value < 0.25:
        warnings.warn(f"C-index = {value:.3f}. {_DIRECTION_HINT}", UserWarning, stacklevel=3)


def concordance_index(
    time: Any, event: Any, risk: Any, *, tied_tol: float = 1e-8
) -> ConcordanceResult:
    """Harrell's concordance index for right-censored data.

    .. math::

        C = \\frac{\\sum_{i,j} \\delta_i \\, I(y_i < y_j)\\,
            [I(r_i > r_j) + \\tfrac12 I(r_i = r_j)]}{\\sum_{i,j} \\delta_i \\, I(y_i < y_j)}

    where pairs with :math:`y_i = y_j`, :math:`\\delta_i = 1`, :math:`\\delta_j = 0` also count
    as comparable and :math:`r_i = r_j` means :math:`|r_i - r_j| \\le` ``tied_tol``.

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up times.
    event : array-like, shape (n,)
        1 (or True) for an event, 0 for a censoring.
    risk : array-like, shape (n,)
        Predicted risk score; **higher means worse** (earlier event). Do not pass survival
        times or survival probabilities; pass their negative or ``1 - S(t)``.
    tied_tol : float
        Risks closer than this are tied and count 1/2.

    Returns
    -------
    ConcordanceResult
        ``value`` and the pair counts ``concordant, discordant, tied_risk, tied_time,
        comparable`` (equal to scikit-survival's ``concordance_index_censored``).

    Raises
    ------
    NoComparablePairsError
        When no pair is comparable (for instance, all samples censored).

    References
    ----------
    Harrell FE, Califf RM, Pryor DB, Lee KL, Rosati RA. Evaluating the yield of medical tests.
    JAMA 1982; 247(18):2543-2546. Harrell FE, Lee KL, Mark DB. Multivariable prognostic models.
    Statistics in Medicine 1996; 15(4):361-387.
    """
    t, e, r = _check_inputs(time, event, risk)
    tol = check_tied_tol(tied_tol)
    pc = comparable_pairs(t, e, r, tol)
    comparable = int(pc.comparable.sum())
    if comparable == 0:
        raise _no_pairs(e)
    concordant = int(pc.below.sum())
    tied = int(pc.below_or_tied.sum()) - concordant
    value = (concordant + 0.5 * tied) / comparable
    _warn_if_reversed(value, comparable)
    return ConcordanceResult(
        value=float(value),
        concordant=concordant,
        discordant=comparable - concordant - tied,
        tied_risk=tied,
        tied_time=int(pc.tied_time.sum()),
        comparable=comparable,
    )


def _check_tau(tau: float | None) -> float:
    if tau is None:
        return np.inf
    tau_f = float(tau)
    if np.isnan(tau_f):
        raise SurvivalInputError(
            "'tau' must be a number or None, got NaN. Fix: pass the truncation time or None."
        )
    return tau_f


def _uno_event_weights(
    cens: CensoringSurvival, t_ev: np.ndarray, tau: float, *, train_given: bool
) -> np.ndarray:
    """:math:`\\hat G(y_i)^{-2}` for events with :math:`y_i < \\tau`, 0 otherwise."""
    inside = t_ev < tau
    fix = (
        "pass 'tau' at or below that time so later events are not weighted"
        if train_given
        else "pass a smaller 'tau'"
    )
    g = np.ones_like(t_ev)
    g[inside] = cens.at(t_ev[inside], what="event time", fix=fix)
    zero = inside & (g <= 0)
    if zero.any():
        raise NoComparablePairsError(
            f"Uno's C is undefined: the censoring survival G estimated from {cens.source} is 0 "
            f"at event time(s) {np.unique(t_ev[zero])[:5].tolist()}, so the weight 1/G^2 is "
            "infinite. Fix: pass 'tau' below the first of those times."
        )
    w = np.zeros_like(t_ev)
    w[inside] = 1.0 / np.square(g[inside])
    return w


def concordance_index_uno(
    time: Any,
    event: Any,
    risk: Any,
    tau: float | None = None,
    train_time: Any = None,
    train_event: Any = None,
    *,
    tied_tol: float = 1e-8,
) -> ConcordanceResult:
    """Uno's IPCW concordance index, truncated at ``tau``.

    .. math::

        C_\\tau = \\frac{\\sum_{i,j} \\delta_i \\hat G(y_i)^{-2} I(y_i < y_j, y_i < \\tau)
            [I(r_i > r_j) + \\tfrac12 I(r_i = r_j)]}
            {\\sum_{i,j} \\delta_i \\hat G(y_i)^{-2} I(y_i < y_j, y_i < \\tau)}

    with the comparability and tie rules of :func:`concordance_index` and :math:`\\hat G` the
    Kaplan-Meier estimate of the censoring survival (:mod:`oncofusion.metrics.ipcw`).

    Parameters
    ----------
    time, event : array-like, shape (n,)
        The evaluation data.
    risk : array-like, shape (n,)
        Predicted risk score; **higher means worse**.
    tau : float, optional
        Truncation time: only events before ``tau`` get weight. Choose it so that censoring
        can still happen after it, :math:`\\hat G(\\tau) > 0`. ``None``: no truncation.
    train_time, train_event : array-like, optional
        The censoring reference. Without them, :math:`\\hat G` is estimated from the
        evaluation data itself. With them, every weighted event time (those below ``tau``)
        must lie within the training follow-up, or an error asks for a smaller ``tau``.
    tied_tol : float
        Risks closer than this are tied and count 1/2.

    Returns
    -------
    ConcordanceResult
        ``value`` and the (unweighted) pair counts, as scikit-survival's
        ``concordance_index_ipcw`` returns them.

    Raises
    ------
    NoComparablePairsError
        No comparable pair, no event before ``tau``, or :math:`\\hat G = 0` at an event time.
    SurvivalInputError
        An event time past the training follow-up (where :math:`\\hat G` is unknown).

    References
    ----------
    Uno H, Cai T, Pencina MJ, D'Agostino RB, Wei LJ. On the C-statistics for evaluating overall
    adequacy of risk prediction procedures with censored survival data. Statistics in Medicine
    2011; 30(10):1105-1117.
    """
    t, e, r = _check_inputs(time, event, risk)
    tol = check_tied_tol(tied_tol)
    train = check_train(train_time, train_event)
    tau_f = _check_tau(tau)
    cens = censoring_survival(t, e, train)
    pc = comparable_pairs(t, e, r, tol)
    if int(pc.comparable.sum()) == 0:
        raise _no_pairs(e)
    w = _uno_event_weights(cens, t[pc.events], tau_f, train_given=train is not None)
    below = pc.below.astype(np.float64)
    tied = pc.below_or_tied - pc.below
    den = float(np.dot(w, pc.comparable))
    if den == 0:
        raise _no_pairs(e, extra=f" before tau = {tau_f:g}")
    value = float(np.dot(w, below + 0.5 * tied)) / den
    concordant = int(pc.below.sum())
    n_tied = int(tied.sum())
    comparable = int(pc.comparable.sum())
    _warn_if_reversed(value, comparable)
    return ConcordanceResult(
        value=value,
        concordant=concordant,
        discordant=comparable - concordant - n_tied,
        tied_risk=n_tied,
        tied_time=int(pc.tied_time.sum()),
        comparable=comparable,
    )


# --------------------------------------------------------------------------------------------
# Case-weighted versions for the bootstrap: one row of weights per resample.


class ConcordanceRows:
    """Concordance for many case-weight vectors; the pair structure is built once.

    ``weights[b, i]`` is how often sample ``i`` appears in resample ``b``; the result for a
    row equals the metric on the data with each sample repeated that often.
    """

    def __init__(
        self,
        time: Any,
        event: Any,
        risk: Any,
        *,
        tied_tol: float = 1e-8,
        uno: bool = False,
        tau: float | None = None,
        train_time: Any = None,
        train_event: Any = None,
    ) -> None:
        t, e, r = _check_inputs(time, event, risk)
        self.tol = check_tied_tol(tied_tol)
        self.time, self.event = t, e
        self.levels = PairLevels(t, e, r, self.tol, keep=True)
        key = self.levels.key
        self.key_order = np.argsort(key, kind="stable")
        ks = key[self.key_order]
        self.key_starts = np.flatnonzero(np.r_[True, ks[1:] != ks[:-1]])
        self.key_rank = np.searchsorted(ks[self.key_starts], key)  # dense rank of key
        self.uno = uno
        self.tau = _check_tau(tau)
        self.train = check_train(train_time, train_event)
        self.t_ev = t[self.levels.events]
        self.static_w: np.ndarray | None = None
        if uno and self.train is not None:
            cens = censoring_survival(t, e, self.train)
            inside = self.t_ev < self.tau
            g = np.ones_like(self.t_ev)
            beyond = inside & (self.t_ev > cens.last_time) & (cens.km.surv[-1] > 0)
            ok = inside & ~beyond
            g[ok] = cens.at(self.t_ev[ok], what="event time", fix="")
            self.bad_ev = beyond | (inside & (g <= 0))
            w = np.zeros_like(self.t_ev)
            good = inside & ~self.bad_ev
            w[good] = 1.0 / np.square(g[good])
            self.static_w = w
        if uno and self.train is None:
            inv = np.unique(t, return_inverse=True)[1]
            self.inv_ev = inv[self.levels.events]

    def evaluate(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        """Per-row ``value`` (NaN where the metric is undefined) and pair counts."""
        w = np.asarray(weights, dtype=np.float64)
        ev = self.levels.events
        below, bot = self.levels.weighted(w)
        sums = np.add.reduceat(w[:, self.key_order], self.key_starts, axis=1)
        at_or_below = np.cumsum(sums, axis=1)
        total = at_or_below[:, -1:]
        kr = self.key_rank[ev]
        comparable = total - at_or_below[:, kr]
        # censored samples at the same time sit at the next key, when it exists
        nxt = self.levels.key[ev] + 1
        ks_unique = self.levels.key[self.key_order][self.key_starts]
        pos = np.searchsorted(ks_unique, nxt)
        has = (pos < ks_unique.size) & (ks_unique[np.clip(pos, 0, ks_unique.size - 1)] == nxt)
        tied_time = np.where(has, sums[:, np.clip(pos, 0, ks_unique.size - 1)], 0.0)
        w_ev = w[:, ev]
        valid = np.ones(w.shape[0], dtype=bool)
        if not self.uno:
            omega = w_ev
        elif self.static_w is not None:
            omega = w_ev * self.static_w
            valid &= (w_ev * self.bad_ev).sum(axis=1) == 0
        else:
            _, g_rows = kaplan_meier_rows(self.time, self.event, w, reverse=True)
            g_ev = g_rows[:, self.inv_ev]
            inside = self.t_ev < self.tau
            bad = (g_ev <= 0) & inside & (w_ev > 0)
            valid &= ~bad.any(axis=1)
            with np.errstate(divide="ignore"):
                omega = np.where(inside & (g_ev > 0), w_ev / np.square(g_ev), 0.0)
        num = (omega * (below + 0.5 * (bot - below))).sum(axis=1)
        den = (omega * comparable).sum(axis=1)
        valid &= den > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(valid, num / np.where(den > 0, den, 1.0), np.nan)
        conc = (w_ev * below).sum(axis=1)
        tied = (w_ev * (bot - below)).sum(axis=1)
        comp = (w_ev * comparable).sum(axis=1)
        return {
            "value": value,
            "concordant": conc,
            "discordant": comp - conc - tied,
            "tied_risk": tied,
            "tied_time": (w_ev * tied_time).sum(axis=1),
            "comparable": comp,
        }
