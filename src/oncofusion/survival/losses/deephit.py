"""DeepHit: likelihood of the event-time PMF plus the pairwise ranking loss."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from oncofusion.errors import SurvivalInputError
from oncofusion.registry import look_up_option
from oncofusion.survival.losses._checks import (
    check_discrete_labels,
    check_positive,
    check_prediction,
    warn_degenerate,
)
from oncofusion.survival.losses._reduction import check_reduction, reduce
from oncofusion.survival.losses.ranking import pairwise_ranking_terms

__all__ = ["deephit_competing_loss", "deephit_loss"]

_TAILS = ["implicit", "explicit"]


def _reverse_logcumsumexp(x: torch.Tensor) -> torch.Tensor:
    """``out[..., k] = log sum_{l >= k} exp(x[..., l])``."""
    return torch.logcumsumexp(x.flip(-1), dim=-1).flip(-1)


def deephit_loss(
    interval_index: Any,
    event: Any,
    logits_pmf: torch.Tensor,
    *,
    alpha: float = 1.0,
    sigma: float = 0.1,
    tail: str = "implicit",
    reduction: str = "mean",
) -> torch.Tensor:
    """DeepHit loss for a single risk: PMF log-likelihood + ``alpha`` x ranking loss.

    The PMF over the K intervals and the tail beyond the grid is a softmax of the logits;
    an event in interval :math:`\\kappa` contributes :math:`-\\log f(\\kappa)`, a sample
    censored after :math:`\\kappa` fully survived intervals contributes
    :math:`-\\log S(\\kappa) = -\\log \\sum_{l \\ge \\kappa} f(l)` (tail included):

    .. math::

        \\ell_i = -\\delta_i \\log f_i(\\kappa_i) - (1-\\delta_i) \\log S_i(\\kappa_i)
                  + \\alpha \\, \\frac{1}{B}\\sum_j A_{ij}
                  \\exp\\left(-\\frac{F_i(\\kappa_i) - F_j(\\kappa_i)}{\\sigma}\\right),

    with :math:`F_i(k) = \\sum_{l \\le k} f_i(l)` (see :func:`ranking_loss`). This is
    Lee et al.'s :math:`L_1 + \\alpha L_2`; pycox's ``DeepHitSingleLoss`` uses
    :math:`a\\,L_1 + (1-a) L_2`, the same up to a factor with :math:`\\alpha = (1-a)/a`.

    Parameters
    ----------
    interval_index : array-like of int, shape (B,)
        Event interval (events) or number of fully survived intervals (censored).
    event : array-like of {0, 1}, shape (B,)
    logits_pmf : torch.Tensor, shape (B, K) or (B, K + 1)
        With ``tail="implicit"`` (pycox), K logits and a fixed zero logit for the tail
        :math:`P(T > c_K)` is appended; with ``tail="explicit"`` the last column is the
        tail's logit.
    alpha : float
        Weight :math:`\\alpha \\ge 0` of the ranking term.
    sigma : float
        Scale :math:`\\sigma > 0` of the ranking term.
    tail : {"implicit", "explicit"}
    reduction : {"mean", "sum", "none"}
        Over samples, of :math:`\\ell_i`.

    Returns
    -------
    torch.Tensor
        The loss. The likelihood is defined for any batch; without a comparable pair the
        ranking term is zero and it warns (:class:`DegenerateBatchWarning`).

    References
    ----------
    Lee C, Zame WR, Yoon J, van der Schaar M. DeepHit: a deep learning approach to survival
    analysis with competing risks. AAAI 2018.
    """
    reduction = check_reduction(reduction)
    tail = look_up_option(tail, _TAILS, what="tail")
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    sigma = check_positive(sigma, "sigma")
    phi = check_prediction(logits_pmf, "logits_pmf", ndim=2)
    n = phi.shape[0]
    if tail == "implicit":
        phi = F.pad(phi, (0, 1))
    k = phi.shape[1] - 1
    if k < 1:
        raise SurvivalInputError(
            "'logits_pmf' with tail='explicit' needs at least 2 columns (K intervals + tail)."
        )
    idx, ev = check_discrete_labels(interval_index, event, k, n=n, device=phi.device)
    log_pmf = torch.log_softmax(phi, dim=1)  # (B, K + 1), last = tail
    log_surv = _reverse_logcumsumexp(log_pmf)  # log S(kappa), kappa = 0..K
    rows = torch.arange(n, device=phi.device)
    is_event = ev > 0
    nll = -torch.where(is_event, log_pmf[rows, idx], log_surv[rows, idx])
    cum_risk = log_pmf[:, :k].exp().cumsum(dim=1)
    rank, n_pairs = pairwise_ranking_terms(idx, is_event, cum_risk, sigma)
    if n_pairs == 0 and alpha > 0:
        warn_degenerate(
            "deephit_loss: the batch has no comparable pair, so its ranking term is zero."
        )
    return reduce(nll + alpha * rank, reduction)


def deephit_competing_loss(
    interval_index: Any,
    event_type: Any,
    logits: torch.Tensor,
    *,
    alpha: float = 1.0,
    sigma: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    """DeepHit loss for R competing risks: joint PMF log-likelihood + ranking per risk.

    A softmax over the R x K logits and a fixed zero logit for the tail (pycox's
    ``nll_pmf_cr``) gives :math:`f_i(r, k)`. An event of risk :math:`r` in interval
    :math:`\\kappa` contributes :math:`-\\log f_i(r, \\kappa)`; a censored sample
    :math:`-\\log(1 - \\sum_r \\sum_{l < \\kappa} f_i(r, l))`. The ranking term is summed
    over risks using each risk's cumulative incidence
    :math:`F_{i,r}(k) = \\sum_{l \\le k} f_i(r, l)`, with pairs whose case had an event of
    that risk (Lee et al. 2018, Eq. 4):

    .. math::

        \\ell_i = L_{1,i} + \\alpha \\sum_{r=1}^{R} \\frac{1}{B} \\sum_j A^{r}_{ij}
                  \\exp\\left(-\\frac{F_{i,r}(\\kappa_i) - F_{j,r}(\\kappa_i)}{\\sigma}\\right).

    Parameters
    ----------
    interval_index : array-like of int, shape (B,)
        Event interval (events) or number of fully survived intervals (censored).
    event_type : array-like of int, shape (B,)
        0 = censored, 1..R = the risk that occurred.
    logits : torch.Tensor, shape (B, R, K)
    alpha, sigma : float
        Weight (:math:`\\ge 0`) and scale (:math:`> 0`) of the ranking term.
    reduction : {"mean", "sum", "none"}
        Over samples, of :math:`\\ell_i`.

    Returns
    -------
    torch.Tensor
        The loss; without a comparable pair for any risk the ranking term is zero and it
        warns (:class:`DegenerateBatchWarning`).

    References
    ----------
    Lee C, Zame WR, Yoon J, van der Schaar M. DeepHit: a deep learning approach to survival
    analysis with competing risks. AAAI 2018.
    """
    reduction = check_reduction(reduction)
    alpha = check_positive(alpha, "alpha", allow_zero=True)
    sigma = check_positive(sigma, "sigma")
    phi = check_prediction(logits, "logits", ndim=3)
    n, n_risks, k = phi.shape
    idx, ev = check_discrete_labels(
        interval_index,
        event_type,
        k,
        n=n,
        device=phi.device,
        n_event_types=n_risks,
        name_event="event_type",
    )
    log_all = torch.log_softmax(F.pad(phi.reshape(n, -1), (0, 1)), dim=1)
    log_pmf = log_all[:, :-1].reshape(n, n_risks, k)
    log_tail = log_all[:, -1]
    rows = torch.arange(n, device=phi.device)
    risk = (ev - 1).clamp(min=0)
    log_event = log_pmf[rows, risk, idx.clamp(max=k - 1)]
    # log P(T > c_kappa) = log(sum_r sum_{l >= kappa} f(r, l) + tail)
    padded = F.pad(log_pmf, (0, 1), value=float("-inf"))  # column K: empty suffix
    suffix = _reverse_logcumsumexp(padded)[rows, :, idx]  # (B, R)
    log_surv = torch.logsumexp(torch.cat([suffix, log_tail.unsqueeze(1)], dim=1), dim=1)
    nll = -torch.where(ev > 0, log_event, log_surv)
    cif = log_pmf.exp().cumsum(dim=2)
    rank = torch.zeros_like(nll)
    n_pairs = 0
    for r in range(n_risks):
        terms, pairs = pairwise_ranking_terms(idx, ev == r + 1, cif[:, r, :], sigma)
        rank = rank + terms
        n_pairs += pairs
    if n_pairs == 0 and alpha > 0:
        warn_degenerate(
            "deephit_competing_loss: the batch has no comparable pair, so its ranking term is zero."
        )
    return reduce(nll + alpha * rank, reduction)
