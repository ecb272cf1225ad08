"""Differentiable IPCW Brier score integrated over the grid of a discrete-time model."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from oncofusion.errors import SurvivalInputError
from oncofusion.survival.losses._checks import check_prediction
from oncofusion.survival.losses._reduction import check_reduction, reduce
from oncofusion.survival.nonparametric import censoring_kaplan_meier
from oncofusion.survival.target import check_survival_target
from oncofusion.survival.transforms import check_grid

__all__ = ["CensoringWeights", "censoring_weights", "ipcw_brier_loss"]


class CensoringWeights(NamedTuple):
    """Censoring survival :math:`\\hat G` where the IPCW Brier score needs it.

    ``at_time[i]`` is :math:`\\hat G(T_i-)` (just before sample i's own time) and
    ``at_grid[k]`` is :math:`\\hat G(c_{k+1})` at the end of interval k.
    """

    at_time: np.ndarray
    at_grid: np.ndarray


def censoring_weights(
    time: Any,
    grid: Any,
    train_time: Any,
    train_event: Any,
) -> CensoringWeights:
    """Evaluate the censoring Kaplan-Meier of the training data for :func:`ipcw_brier_loss`.

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up times of the samples the loss will see.
    grid : array-like, shape (K + 1,)
        The cuts of the discrete-time grid.
    train_time, train_event : array-like, shape (m,)
        Training data on which :math:`\\hat G` is estimated (reverse Kaplan-Meier).
    """
    g = censoring_kaplan_meier(train_time, train_event)
    t = np.asarray(time, dtype=np.float64)
    cuts = check_grid(grid).numpy()
    return CensoringWeights(at_time=g.left_limit(t), at_grid=g(cuts[1:]))


def ipcw_brier_loss(
    time: Any,
    event: Any,
    surv: torch.Tensor,
    grid: Any,
    *,
    censoring_survival: CensoringWeights | Any = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Inverse-probability-of-censoring weighted Brier score over the grid (Graf et al. 1999).

    At the end :math:`t_k = c_{k+1}` of each interval, with :math:`\\hat G` the censoring
    survival function,

    .. math::

        BS_i(t_k) = \\frac{S_i(t_k)^2\\, 1\\{T_i \\le t_k, \\delta_i = 1\\}}{\\hat G(T_i-)}
                  + \\frac{(1 - S_i(t_k))^2\\, 1\\{T_i > t_k\\}}{\\hat G(t_k)},
        \\qquad
        \\ell_i = \\sum_{k} \\frac{c_{k+1} - c_k}{c_K - c_0}\\, BS_i(t_k),

    so the mean of :math:`\\ell_i` is the integrated Brier score over :math:`[c_0, c_K]`
    with each interval scored at its end (a right Riemann sum; the mean over grid points
    for an equidistant grid). The IPCW Brier term of DMA-Net's total loss (§2.3).

    Parameters
    ----------
    time : array-like, shape (B,)
        Follow-up time in the grid's unit (not an interval index: the weights need it).
    event : array-like of {0, 1}, shape (B,)
    surv : torch.Tensor, shape (B, K)
        Predicted survival probability at the end of each interval.
    grid : array-like, shape (K + 1,)
        The cuts :math:`c_0 < \\dots < c_K` (:attr:`Discretizer.cuts`).
    censoring_survival : CensoringWeights, callable or None
        :math:`\\hat G` from the *training* data: a :class:`CensoringWeights` (see
        :func:`censoring_weights`), or a callable ``G(t)`` on numpy arrays such as
        :func:`~oncofusion.survival.nonparametric.censoring_kaplan_meier`'s result (its
        ``left_limit`` is used at :math:`T_i-` when it has one, else ``G(T_i)``). ``None``
        estimates :math:`\\hat G` from this batch (the metrics' convention without training
        data; noisy for small batches).
    reduction : {"mean", "sum", "none"}
        Over samples, of :math:`\\ell_i`.

    Returns
    -------
    torch.Tensor
        The loss (defined for any batch, with or without events).

    Raises
    ------
    SurvivalInputError
        If a weight needed is infinite (:math:`\\hat G = 0`: the grid reaches past the
        censoring distribution's support); shorten the grid.

    References
    ----------
    Graf E, Schmoor C, Sauerbrei W, Schumacher M. Assessment and comparison of prognostic
    classification schemes for survival data. Stat Med 1999;18:2529-2545.
    """
    reduction = check_reduction(reduction)
    t, e = check_survival_target(time, event)
    n = t.shape[0]
    s = check_prediction(surv, "surv", ndim=2, n=n)
    if bool(((s < 0) | (s > 1)).any()):
        raise SurvivalInputError("'surv' must hold probabilities in [0, 1].")
    cuts = check_grid(
        grid.detach().cpu().double() if isinstance(grid, torch.Tensor) else grid
    ).numpy()
    k = cuts.shape[0] - 1
    if s.shape[1] != k:
        raise SurvivalInputError(
            f"'surv' must have one column per interval of 'grid' ({k}), got {s.shape[1]}."
        )
    g_time, g_grid = _weights(censoring_survival, t, e, cuts)
    ends = cuts[1:]
    case = (t[:, None] <= ends[None, :]) & e[:, None]
    control = t[:, None] > ends[None, :]
    if (case & (g_time[:, None] <= 0)).any() or (control & (g_grid[None, :] <= 0)).any():
        raise SurvivalInputError(
            "ipcw_brier_loss: the censoring survival is 0 where a weight is needed, so the IPCW "
            "weight is infinite. Fix: end the grid before the last censoring-free time of the "
            "training data."
        )
    with np.errstate(divide="ignore"):
        w_case = np.where(case, 1.0 / np.where(g_time[:, None] > 0, g_time[:, None], 1.0), 0.0)
        w_control = np.where(
            control, 1.0 / np.where(g_grid[None, :] > 0, g_grid[None, :], 1.0), 0.0
        )
    width = np.diff(cuts) / (cuts[-1] - cuts[0])
    wc = torch.as_tensor(w_case * width, dtype=s.dtype, device=s.device)
    wn = torch.as_tensor(w_control * width, dtype=s.dtype, device=s.device)
    per_sample = (s.square() * wc + (1.0 - s).square() * wn).sum(dim=1)
    return reduce(per_sample, reduction)


def _weights(
    censoring_survival: Any, t: np.ndarray, e: np.ndarray, cuts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    if censoring_survival is None:
        g = censoring_kaplan_meier(t, e)
        return g.left_limit(t), g(cuts[1:])
    if isinstance(censoring_survival, CensoringWeights):
        g_time = np.asarray(censoring_survival.at_time, dtype=np.float64).reshape(-1)
        g_grid = np.asarray(censoring_survival.at_grid, dtype=np.float64).reshape(-1)
        if g_time.shape[0] != t.shape[0] or g_grid.shape[0] != cuts.shape[0] - 1:
            raise SurvivalInputError(
                f"'censoring_survival' has {g_time.shape[0]} sample weights and {g_grid.shape[0]} "
                f"grid weights; the batch has {t.shape[0]} samples and {cuts.shape[0] - 1} "
                "intervals. Fix: build it with censoring_weights(time, grid, train_time, "
                "train_event) for this batch."
            )
    elif callable(censoring_survival):
        at = getattr(censoring_survival, "left_limit", censoring_survival)
        g_time = np.asarray(at(t), dtype=np.float64).reshape(-1)
        g_grid = np.asarray(censoring_survival(cuts[1:]), dtype=np.float64).reshape(-1)
    else:
        raise SurvivalInputError(
            "'censoring_survival' must be CensoringWeights, a callable G(t) or None, got "
            f"{type(censoring_survival).__name__}."
        )
    for name, vals in (("at each sample's time", g_time), ("at the grid", g_grid)):
        if not np.isfinite(vals).all() or (vals < 0).any() or (vals > 1).any():
            raise SurvivalInputError(
                f"'censoring_survival' {name} must be probabilities in [0, 1]."
            )
    return g_time, g_grid
