"""Negative log-likelihood of a discrete-time (logistic-hazard) survival model."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.losses._checks import (
    check_discrete_labels,
    check_prediction,
    connected_zero,
    warn_degenerate,
)
from oncofusion.survival.losses._reduction import check_reduction, reduce

__all__ = ["at_risk_and_targets", "discrete_nll"]


def at_risk_and_targets(
    interval_index: torch.Tensor, event: torch.Tensor, n_intervals: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The at-risk indicator :math:`r_i(k)` and event indicator :math:`y_i(k)`, shape (B, K).

    :math:`r_i(k) = 1` for :math:`k < \\kappa_i`, and for :math:`k = \\kappa_i` if sample
    :math:`i` had its event there; :math:`y_i(k) = 1` only at the event interval.
    ``interval_index`` and ``event`` are validated long tensors.
    """
    k = torch.arange(n_intervals, device=interval_index.device)
    idx = interval_index.unsqueeze(1)
    is_event = (event > 0).unsqueeze(1)
    y = (k == idx) & is_event
    at_risk = (k < idx) | y
    return at_risk, y


def discrete_nll(
    interval_index: Any,
    event: Any,
    logit_hazard: torch.Tensor,
    *,
    event_weight: str | tuple[float, float] | None = None,
    label_smoothing: float = 0.0,
    entry_index: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Discrete-time negative log-likelihood on the logit of the conditional hazard.

    With :math:`h_i(k) = \\sigma(\\text{logit\\_hazard}_{ik})`, the at-risk indicator
    :math:`r_i(k)` and the event indicator :math:`y_i(k)` (DMA-Net §2.3, Eq. of
    :math:`L_{NLL}`; Tutz & Schmid 2016, ch. 3):

    .. math::

        \\ell_i = -\\sum_{k=1}^{K} r_i(k)\\, w_i(k) \\left[ \\tilde y_i(k) \\log h_i(k)
                  + (1 - \\tilde y_i(k)) \\log (1 - h_i(k)) \\right],
        \\qquad \\tilde y = y (1 - \\varepsilon) + \\varepsilon / 2,

    computed with ``binary_cross_entropy_with_logits`` (stable for any logit).

    Censoring convention (pycox's ``LabTransDiscreteTime``, Kvamme & Borgan 2021): a
    sample censored inside interval :math:`\\kappa` is at risk in intervals
    :math:`< \\kappa` only; one censored exactly at a cut (or past the last cut) was
    followed through the intervals before it. This is what ``interval_index`` from
    :meth:`~oncofusion.survival.discretize.Discretizer.transform` encodes: for an event
    the interval that holds it, for a censoring the number of intervals fully survived.
    It differs from counting the censoring interval as survived (DMA-Net's wording of
    :math:`r_i(k)`; Tutz & Schmid's "censoring at the end of the interval"), which credits
    survival that was not observed; with a fine grid the two agree.

    Parameters
    ----------
    interval_index : array-like of int, shape (B,)
        Event interval (events) or number of fully survived intervals (censored), see above.
    event : array-like of {0, 1}, shape (B,)
        1 = event, 0 = censored.
    logit_hazard : torch.Tensor, shape (B, K)
        Logit of the conditional hazard per interval.
    event_weight : {"balanced"} or (float, float), optional
        Class weights of event and non-event at-risk intervals. ``"balanced"`` gives
        :math:`w_{event} = N / (2 N_{event})`, :math:`w_{non} = N / (2 N_{non})` with
        :math:`N` the number of at-risk intervals in the batch (DMA-Net §2.4.1); a pair
        gives ``(w_event, w_nonevent)`` explicitly. A batch without event intervals (or
        without non-event ones) has no balanced weights: it warns and uses 1.
    label_smoothing : float in [0, 1)
        :math:`\\varepsilon`: per-interval targets become :math:`y(1-\\varepsilon) +
        \\varepsilon/2` on at-risk intervals (DMA-Net uses 0.05). With smoothing the
        minimum is no longer the maximum-likelihood estimate.
    entry_index : array-like of int, shape (B,), optional
        Left truncation (delayed entry): sample i enters the risk set at interval
        ``entry_index[i]``, so :math:`r_i(k) = 0` for :math:`k <` ``entry_index[i]``. Used to
        train landmark-conditional hazards: a sample whose inputs hold data up to a
        landmark s is known to have survived to s, and only intervals after s carry
        information (van Houwelingen 2007, landmarking). Must not exceed
        ``interval_index``.
    reduction : {"mean", "sum", "none"}
        ``"none"``: :math:`\\ell_i` per sample, shape (B,); ``"mean"``: their mean over the
        B samples (as pycox's ``nll_logistic_hazard``); ``"sum"``: their sum.

    Returns
    -------
    torch.Tensor
        The loss. If no sample is at risk in any interval (all censored at index 0), it
        warns (:class:`DegenerateBatchWarning`) and returns a zero connected to the graph.

    References
    ----------
    Tutz G, Schmid M. Modeling Discrete Time-to-Event Data. Springer 2016.
    Kvamme H, Borgan Ø. Continuous and discrete-time survival prediction with neural
    networks. Lifetime Data Analysis 2021;27:710-736.
    """
    reduction = check_reduction(reduction)
    logit = check_prediction(logit_hazard, "logit_hazard", ndim=2)
    n, k = logit.shape
    idx, ev = check_discrete_labels(interval_index, event, k, n=n, device=logit.device)
    eps = _check_smoothing(label_smoothing)
    at_risk, y = at_risk_and_targets(idx, ev, k)
    if entry_index is not None:
        entry = torch.as_tensor(entry_index, device=logit.device).long().reshape(-1)
        if entry.shape[0] != n or bool((entry < 0).any()) or bool((entry > idx).any()):
            raise SurvivalInputError(
                "'entry_index' must have one non-negative entry per sample, none after its "
                "'interval_index' (a sample cannot enter the risk set after it left it)."
            )
        at_risk = at_risk & (torch.arange(k, device=logit.device)[None, :] >= entry[:, None])
        y = y & at_risk
    if not bool(at_risk.any()):
        warn_degenerate(
            "discrete_nll: no sample is at risk in any interval (all censored at index 0); "
            "the loss is zero for this batch."
        )
        return connected_zero(logit, reduction, n)
    yf = y.to(logit.dtype)
    target = yf * (1.0 - eps) + eps / 2.0 if eps > 0 else yf
    bce = F.binary_cross_entropy_with_logits(logit, target, reduction="none")
    weight = at_risk.to(logit.dtype)
    if event_weight is not None:
        w_event, w_non = _class_weights(event_weight, at_risk, y)
        weight = weight * (yf * w_event + (1.0 - yf) * w_non)
    per_sample = (bce * weight).sum(dim=1)
    return reduce(per_sample, reduction)


def _check_smoothing(eps: float) -> float:
    try:
        e = float(eps)
    except (TypeError, ValueError) as err:
        raise SurvivalInputError(
            f"'label_smoothing' must be a number in [0, 1), got {eps!r}."
        ) from err
    if not 0.0 <= e < 1.0:
        raise SurvivalInputError(
            f"'label_smoothing' must be in [0, 1), got {eps!r}. Fix: use a small value such as 0.05."
        )
    return e


def _class_weights(
    event_weight: str | tuple[float, float], at_risk: torch.Tensor, y: torch.Tensor
) -> tuple[float, float]:
    if isinstance(event_weight, str):
        if event_weight != "balanced":
            raise SurvivalInputError(
                f"'event_weight' must be 'balanced', a pair (w_event, w_nonevent) or None, got "
                f"{event_weight!r}."
            )
        n_all = int(at_risk.sum())
        n_event = int(y.sum())
        n_non = n_all - n_event
        if n_event == 0 or n_non == 0:
            which = "event" if n_event == 0 else "non-event"
            warn_degenerate(
                f"discrete_nll: event_weight='balanced' is undefined for a batch without "
                f"{which} intervals; using unit weights for this batch."
            )
            return 1.0, 1.0
        return n_all / (2.0 * n_event), n_all / (2.0 * n_non)
    try:
        w_event, w_non = (float(w) for w in event_weight)
    except (TypeError, ValueError) as err:
        raise SurvivalInputError(
            f"'event_weight' must be 'balanced', a pair (w_event, w_nonevent) or None, got "
            f"{event_weight!r}."
        ) from err
    if not all(math.isfinite(w) and w > 0 for w in (w_event, w_non)):
        raise SurvivalInputError(
            f"'event_weight' weights must be finite and positive, got {event_weight!r}."
        )
    return w_event, w_non
