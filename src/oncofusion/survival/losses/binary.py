"""Binary cross-entropy for per-horizon outcomes with unknown (censored) labels masked out."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.losses._checks import check_prediction, connected_zero, warn_degenerate
from oncofusion.survival.losses._reduction import check_reduction
from oncofusion.survival.nonparametric import censoring_kaplan_meier
from oncofusion.survival.target import check_survival_target

__all__ = ["HorizonLabels", "binary_outcome_loss", "horizon_labels"]


class HorizonLabels(NamedTuple):
    """Outcome by each horizon, shape (n, H) each.

    ``target``: 1 if the event happened by the horizon; ``observed``: the outcome is known
    (event by the horizon, or followed past it); ``ipcw_weight``: :math:`1/\\hat G(T_i-)`
    for an event by the horizon, :math:`1/\\hat G(h)` for follow-up past it, 0 if unknown.
    """

    target: np.ndarray
    observed: np.ndarray
    ipcw_weight: np.ndarray


def horizon_labels(
    time: Any,
    event: Any,
    horizons: Any,
    *,
    train_time: Any = None,
    train_event: Any = None,
) -> HorizonLabels:
    """Binary outcomes "event by horizon h" with their known-ness and IPCW weights.

    A sample censored before (or at) a horizon has an unknown outcome there. The censoring
    survival :math:`\\hat G` comes from ``train_time``/``train_event``, or from the data
    itself when they are not given. A horizon past the censoring support (:math:`\\hat G=0`)
    gives weight 0 to the samples needing it.
    """
    t, e = check_survival_target(time, event)
    h = np.atleast_1d(np.asarray(horizons, dtype=np.float64))
    if h.ndim != 1 or not np.isfinite(h).all() or (h <= 0).any():
        raise SurvivalInputError(
            f"'horizons' must be finite positive times, got {np.asarray(horizons).tolist()}."
        )
    if (train_time is None) != (train_event is None):
        raise SurvivalInputError("give both 'train_time' and 'train_event', or neither.")
    g = (
        censoring_kaplan_meier(t, e)
        if train_time is None
        else censoring_kaplan_meier(train_time, train_event)
    )
    case = (t[:, None] <= h[None, :]) & e[:, None]
    control = t[:, None] > h[None, :]
    g_case = g.left_limit(t)[:, None]
    g_ctrl = g(h)[None, :]
    with np.errstate(divide="ignore"):
        w = np.where(case & (g_case > 0), 1.0 / np.where(g_case > 0, g_case, 1.0), 0.0)
        w = w + np.where(control & (g_ctrl > 0), 1.0 / np.where(g_ctrl > 0, g_ctrl, 1.0), 0.0)
    return HorizonLabels(target=case.astype(np.float64), observed=case | control, ipcw_weight=w)


def binary_outcome_loss(
    target: Any,
    logit: torch.Tensor,
    *,
    observed_mask: Any,
    weight: Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Masked (optionally IPCW-weighted) binary cross-entropy for per-horizon outcomes.

    For outcomes such as local control at 1 and 3 years, where a patient censored before
    the horizon has no label:

    .. math::

        \\ell_{ih} = m_{ih}\\, w_{ih} \\left[-y_{ih} \\log \\sigma(z_{ih})
                   - (1 - y_{ih}) \\log(1 - \\sigma(z_{ih}))\\right],
        \\qquad
        \\text{mean} = \\frac{\\sum_{ih} \\ell_{ih}}{\\sum_{ih} m_{ih} w_{ih}},

    with :math:`m` the observed mask and :math:`w` the weights (1 by default; IPCW
    weights from :func:`horizon_labels` correct for dropping censored patients, Hájek's
    self-normalised form; Vock et al. 2016).

    Parameters
    ----------
    target : array-like of {0, 1}, shape (B,) or (B, H)
        1 = event by the horizon (higher = worse). Ignored where not observed.
    logit : torch.Tensor, same shape
        Logit of the predicted probability of the event by the horizon.
    observed_mask : array-like of bool, same shape
        True where the outcome is known.
    weight : array-like, same shape, optional
        Non-negative per-entry weights (e.g. ``HorizonLabels.ipcw_weight``).
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns the entries :math:`\\ell_{ih}` (0 where unobserved).

    Returns
    -------
    torch.Tensor
        The loss. With no observed outcome it warns (:class:`DegenerateBatchWarning`) and
        returns a zero connected to the graph.

    References
    ----------
    Vock DM et al. Adapting machine learning techniques to censored time-to-event health
    record data: a general-purpose approach using inverse probability of censoring
    weighting. J Biomed Inform 2016;61:119-131.
    """
    reduction = check_reduction(reduction)
    ndim = logit.ndim if isinstance(logit, torch.Tensor) else 1
    z = check_prediction(logit, "logit", ndim=ndim)
    if z.ndim not in (1, 2):
        raise SurvivalInputError(f"'logit' must have shape (B,) or (B, H), got {tuple(z.shape)}.")
    y = _as_like(target, z, "target")
    m = _as_like(observed_mask, z, "observed_mask")
    if not bool(((y == 0) | (y == 1) | (m == 0)).all()):
        raise SurvivalInputError("'target' must be 0 or 1 where 'observed_mask' is True.")
    if not bool(((m == 0) | (m == 1)).all()):
        raise SurvivalInputError("'observed_mask' must be boolean (or 0/1).")
    w = m
    if weight is not None:
        wt = _as_like(weight, z, "weight")
        if not bool((torch.isfinite(wt) & (wt >= 0)).all()):
            raise SurvivalInputError("'weight' must be finite and non-negative.")
        w = w * wt
    total_weight = w.sum()
    if not bool(total_weight > 0):
        warn_degenerate(
            "binary_outcome_loss: no observed outcome (with positive weight) in the batch; "
            "the loss is zero for this batch."
        )
        return connected_zero(z, reduction, tuple(z.shape))
    y_safe = torch.where(m > 0, y, torch.zeros_like(y))
    bce = F.binary_cross_entropy_with_logits(z, y_safe, reduction="none") * w
    if reduction == "none":
        return bce
    if reduction == "sum":
        return bce.sum()
    return bce.sum() / total_weight


def _as_like(x: Any, ref: torch.Tensor, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        arr = x.detach().to(device=ref.device, dtype=ref.dtype)
    else:
        arr = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=ref.dtype, device=ref.device)
    if arr.shape != ref.shape:
        raise SurvivalInputError(
            f"'{name}' must have the shape of 'logit' {tuple(ref.shape)}, got {tuple(arr.shape)}."
        )
    if not bool(torch.isfinite(arr).all()):
        raise SurvivalInputError(f"'{name}' contains NaN or inf.")
    return arr
