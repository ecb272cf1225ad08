"""Negative Cox partial log-likelihood, Efron or Breslow ties, in O(n log n)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from oncofusion.errors import SurvivalInputError
from oncofusion.registry import look_up_option
from oncofusion.survival.losses._checks import check_prediction, connected_zero, warn_degenerate
from oncofusion.survival.losses._reduction import check_reduction, reduce
from oncofusion.survival.target import check_survival_target

__all__ = ["cox_partial_likelihood"]

_TIES = ["efron", "breslow"]


def cox_partial_likelihood(
    time: Any,
    event: Any,
    log_hz: torch.Tensor,
    *,
    ties: str = "efron",
    strata: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Negative partial log-likelihood of the Cox model (DeepSurv's loss).

    With :math:`\\eta_i` = ``log_hz`` (log relative hazard, higher = worse), distinct event
    times :math:`t_g`, the :math:`m_g` events :math:`H_g` at :math:`t_g`, the risk set
    :math:`R_g = \\{j: T_j \\ge t_g\\}`, :math:`D_g = \\sum_{j \\in R_g} e^{\\eta_j}` and
    :math:`E_g = \\sum_{j \\in H_g} e^{\\eta_j}`:

    .. math::

        -\\log PL = -\\sum_g \\left[ \\sum_{i \\in H_g} \\eta_i
          - \\sum_{r=0}^{m_g - 1} \\log\\left(D_g - \\tfrac{r}{m_g} E_g\\right) \\right]
          \\quad \\text{(Efron)},

    and with :math:`m_g \\log D_g` as the last term for Breslow. Without ties both are
    Cox's partial likelihood. With ``strata`` the risk sets are formed within each stratum
    and the log-likelihoods add (Therneau & Grambsch 2000, §3.2).

    One sort, then a reverse ``logcumsumexp`` for every :math:`\\log D_g` and segment sums
    (``index_add``) over tied events: :math:`O(n \\log n)` time, :math:`O(n)` memory,
    stable for any range of ``log_hz`` (nothing is exponentiated unshifted).

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up time (event or censoring).
    event : array-like of {0, 1}, shape (n,)
    log_hz : torch.Tensor, shape (n,) or (n, 1)
        Log relative hazard (risk score, higher = worse).
    ties : {"efron", "breslow"}
    strata : array-like, shape (n,), optional
        Stratum label per sample (any hashable numeric/str values).
    reduction : {"mean", "sum", "none"}
        ``"none"``: each sample's contribution, shape (n,): 0 for a censored sample, and
        for an event :math:`-(\\eta_i - \\frac{1}{m_g}\\sum_r \\log(D_g - \\frac{r}{m_g} E_g))`
        (each tie group's term split evenly over its events), so the entries sum to
        the negative log-likelihood. ``"sum"``: that sum. ``"mean"``: the sum divided by
        the number of events (as lifelines' and torchsurv's no-tie convention; with tied
        event times torchsurv divides by the number of distinct event times instead).

    Returns
    -------
    torch.Tensor
        The loss. A batch without events warns (:class:`DegenerateBatchWarning`) and
        returns a zero connected to the graph; so does a batch of one sample (its partial
        likelihood is 1 whatever the prediction).

    References
    ----------
    Cox DR. Regression models and life-tables. JRSS B 1972;34:187-220.
    Efron B. The efficiency of Cox's likelihood function for censored data. JASA 1977.
    Breslow N. Covariance analysis of censored survival data. Biometrics 1974.
    Katzman JL et al. DeepSurv. BMC Medical Research Methodology 2018;18:24.
    """
    reduction = check_reduction(reduction)
    ties = look_up_option(ties, _TIES, what="ties method")
    t, e = check_survival_target(time, event)
    n = t.shape[0]
    x = check_prediction(log_hz, "log_hz", ndim=1, n=n, squeeze_last=True)
    if not e.any():
        warn_degenerate(
            "cox_partial_likelihood: the batch has no event, so the partial likelihood is "
            "undefined; the loss is zero for this batch. Fix: use larger batches or an "
            "event-balanced sampler."
        )
        return connected_zero(x, reduction, n)
    if n == 1:
        warn_degenerate(
            "cox_partial_likelihood: a batch of one sample carries no information (its partial "
            "likelihood is 1); the loss is zero for this batch."
        )
        return connected_zero(x, reduction, n)
    order, bounds = _sort_order(t, strata, n)
    return _neg_log_likelihood(
        x, t[order], e[order], order, bounds, ties, reduction, float(e.sum())
    )


def _sort_order(t: np.ndarray, strata: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Order by stratum, then *decreasing* time; and the stratum boundaries ``[0, ..., n]``.

    In decreasing time the risk set of a time is a prefix (up to the end of its run of tied
    times), so one forward cumulative sum gives every risk-set sum. The sort need not be
    stable: each tie group's Efron term is shared evenly by its events.
    """
    if strata is None:
        return np.argsort(-t), np.array([0, n])
    s = strata.detach().cpu().numpy() if isinstance(strata, torch.Tensor) else np.asarray(strata)
    if s.ndim != 1 or s.shape[0] != n:
        raise SurvivalInputError(
            f"'strata' must be 1-D with one label per sample ({n}), got shape {s.shape}."
        )
    _, codes = np.unique(s, return_inverse=True)
    codes = codes.reshape(-1)
    order = np.lexsort((-t, codes))
    cs = codes[order]
    starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
    return order, np.r_[starts, n]


def _log_prefix_sums(xs: torch.Tensor, bounds: np.ndarray) -> torch.Tensor:
    """:math:`\\log \\sum_{j \\le i} e^{x_j}` within each segment, in float64.

    Fast path: shift by the segment's maximum and take a cumulative sum of
    :math:`e^{x - m} \\in (0, 1]` (sums of positive terms: no cancellation). If a prefix
    sum falls below 1e-280 (log-hazards spread over more than ~640), the exact
    ``logcumsumexp`` is used for that segment instead.
    """
    xd = xs.to(torch.float64)
    parts = []
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        seg = xd[a:b]
        m = seg.detach().max()
        csum = torch.cumsum(torch.exp(seg - m), dim=0)
        if float(csum[0].detach()) < 1e-280:
            parts.append(torch.logcumsumexp(seg, dim=0))
        else:
            parts.append(torch.log(csum) + m)
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def _neg_log_likelihood(
    x: torch.Tensor,
    t_sorted: np.ndarray,
    e_sorted: np.ndarray,
    order: np.ndarray,
    bounds: np.ndarray,
    ties: str,
    reduction: str,
    n_events: float,
) -> torch.Tensor:
    device = x.device
    n = t_sorted.shape[0]
    # runs of tied times within a stratum; a risk set ends where its run ends
    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    np.not_equal(t_sorted[1:], t_sorted[:-1], out=new_block[1:])
    new_block[bounds[:-1]] = True
    block_start = np.flatnonzero(new_block)
    block_end = np.r_[block_start[1:], n] - 1
    block_id = np.cumsum(new_block) - 1
    ev_pos = np.flatnonzero(e_sorted)
    ev_block = block_id[ev_pos]

    order_t = torch.as_tensor(order, device=device)
    xs = x[order_t]
    log_risk = _log_prefix_sums(xs, bounds).to(x.dtype)
    ev_pos_t = torch.as_tensor(ev_pos, device=device)
    x_ev = xs[ev_pos_t]
    log_d = log_risk[torch.as_tensor(block_end[ev_block], device=device)]
    grp_t: torch.Tensor | None = None
    sizes: np.ndarray | None = None
    if ties == "breslow":
        term = log_d
    else:
        # tie groups of events are contiguous in ev_pos; rank r of each event in its group
        new_grp = np.empty(ev_pos.shape[0], dtype=bool)
        new_grp[0] = True
        np.not_equal(ev_block[1:], ev_block[:-1], out=new_grp[1:])
        grp_start = np.flatnonzero(new_grp)
        grp = np.cumsum(new_grp) - 1
        sizes = np.diff(np.r_[grp_start, ev_pos.shape[0]])
        rank = np.arange(ev_pos.shape[0]) - grp_start[grp]
        frac = torch.as_tensor(rank / sizes[grp], dtype=x.dtype, device=device)
        grp_t = torch.as_tensor(grp, device=device)
        # E_g / D_g summed stably as exp(eta_i - log D_g) (each term <= 1)
        ratio = x.new_zeros(grp_start.shape[0]).index_add(0, grp_t, torch.exp(x_ev - log_d))
        term = log_d + torch.log1p(-frac * ratio[grp_t].clamp(max=1.0))
    nll_ev = term - x_ev
    if reduction != "none":
        return reduce(nll_ev, reduction, denominator=n_events)
    if grp_t is not None and sizes is not None:
        # share each tie group's term evenly (independent of the order within the group)
        group_sum = x.new_zeros(sizes.shape[0]).index_add(0, grp_t, term)
        size_t = torch.as_tensor(sizes, dtype=x.dtype, device=device)
        nll_ev = (group_sum / size_t)[grp_t] - x_ev
    out = torch.zeros_like(x)
    return out.index_put((order_t[ev_pos_t],), nll_ev)
