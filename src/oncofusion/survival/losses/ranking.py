"""DeepHit's pairwise ranking loss on the predicted cumulative risk."""

from __future__ import annotations

from typing import Any

import torch

from oncofusion.survival.losses._checks import (
    check_discrete_labels,
    check_positive,
    check_prediction,
    connected_zero,
    warn_degenerate,
)
from oncofusion.survival.losses._reduction import check_reduction, reduce

__all__ = ["pairwise_ranking_terms", "ranking_loss"]


def pairwise_ranking_terms(
    interval_index: torch.Tensor, is_case: torch.Tensor, cum_risk: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, int]:
    """Per-sample DeepHit ranking terms and the number of comparable pairs.

    Returns :math:`\\frac{1}{B}\\sum_j A_{ij}\\,\\eta_{ij}` for every :math:`i` (shape
    (B,)) and :math:`\\sum_{ij} A_{ij}`. ``is_case`` marks the samples whose event counts
    (for competing risks: the event of the risk that ``cum_risk`` belongs to).
    """
    n, k = cum_risk.shape
    col = interval_index.clamp(max=k - 1)  # censored at K are never cases; any column works
    # at_own[j, i] = F_j(kappa_i): every sample's cumulative risk at i's event interval
    at_own = cum_risk[:, col]
    own = at_own.diagonal()  # F_i(kappa_i)
    comparable = is_case.unsqueeze(1) & (interval_index.unsqueeze(0) > interval_index.unsqueeze(1))
    diff = own.unsqueeze(1) - at_own.transpose(0, 1)  # diff[i, j] = F_i(k_i) - F_j(k_i)
    eta = torch.exp(-diff / sigma)
    terms = torch.where(comparable, eta, torch.zeros_like(eta)).sum(dim=1) / n
    return terms, int(comparable.sum())


def ranking_loss(
    interval_index: Any,
    event: Any,
    cum_risk: torch.Tensor,
    *,
    sigma: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    """DeepHit's ranking loss: patients with an earlier event should have a higher risk.

    For a comparable pair — :math:`i` had its event in interval :math:`\\kappa_i` and
    :math:`j` is known to have survived that interval (:math:`\\kappa_j > \\kappa_i`,
    event or censored, in the convention of
    :meth:`~oncofusion.survival.discretize.Discretizer.transform`) —

    .. math::

        \\eta_{ij} = \\exp\\left(-\\frac{F_i(\\kappa_i) - F_j(\\kappa_i)}{\\sigma}\\right),
        \\qquad \\ell_i = \\frac{1}{B} \\sum_j A_{ij}\\, \\eta_{ij},

    where :math:`F` is the predicted cumulative risk (higher = worse) at the end of
    each interval and :math:`A_{ij}` marks comparable pairs (Lee et al. 2018, Eq. 4).
    The :math:`1/B` normalisation is pycox's ``rank_loss_deephit_single``, so
    ``reduction="mean"`` gives :math:`\\sum_{ij} A_{ij}\\eta_{ij} / B^2`.

    Parameters
    ----------
    interval_index : array-like of int, shape (B,)
        Event interval (events) or number of fully survived intervals (censored).
    event : array-like of {0, 1}, shape (B,)
    cum_risk : torch.Tensor, shape (B, K)
        Predicted cumulative risk :math:`F_i(k) = 1 - S_i(k)` at the end of interval k.
    sigma : float
        Scale :math:`\\sigma > 0` of the exponential.
    reduction : {"mean", "sum", "none"}
        Over samples, of :math:`\\ell_i`.

    Returns
    -------
    torch.Tensor
        The loss. Without a comparable pair (no event, or every event in the last interval
        reached by the batch) it warns (:class:`DegenerateBatchWarning`) and returns a zero
        connected to the graph.

    References
    ----------
    Lee C, Zame WR, Yoon J, van der Schaar M. DeepHit: a deep learning approach to survival
    analysis with competing risks. AAAI 2018.
    """
    reduction = check_reduction(reduction)
    sigma = check_positive(sigma, "sigma")
    f = check_prediction(cum_risk, "cum_risk", ndim=2)
    n, k = f.shape
    idx, ev = check_discrete_labels(interval_index, event, k, n=n, device=f.device)
    terms, n_pairs = pairwise_ranking_terms(idx, ev > 0, f, sigma)
    if n_pairs == 0:
        warn_degenerate(
            "ranking_loss: the batch has no comparable pair (an event followed by a sample known "
            "to survive its interval); the loss is zero for this batch."
        )
        return connected_zero(f, reduction, n)
    return reduce(terms, reduction)
