"""Smoothness penalty on the logit of the discrete-time hazard."""

from __future__ import annotations

import torch

from oncofusion.survival.losses._checks import check_prediction, connected_zero, warn_degenerate
from oncofusion.survival.losses._reduction import check_reduction, reduce

__all__ = ["hazard_smoothness"]


def hazard_smoothness(logit_hazard: torch.Tensor, *, reduction: str = "mean") -> torch.Tensor:
    """Squared first differences of the logit hazard across adjacent intervals.

    .. math::

        \\ell_i = \\sum_{k=2}^{K} \\left(\\operatorname{logit} h_i(k)
                  - \\operatorname{logit} h_i(k-1)\\right)^2

    The roughness term :math:`\\lambda_{smooth}` of DMA-Net's total loss (§2.3); a
    first-order random-walk penalty on the hazard (Tutz & Schmid 2016, ch. 5, penalised
    discrete hazard models).

    Parameters
    ----------
    logit_hazard : torch.Tensor, shape (B, K)
        Logit of the conditional hazard per interval.
    reduction : {"mean", "sum", "none"}
        Over samples: mean of :math:`\\ell_i`, their sum, or the (B,) vector.

    Returns
    -------
    torch.Tensor
        The penalty. With one interval (K = 1) there is nothing to smooth: it warns
        (:class:`DegenerateBatchWarning`) and returns a zero connected to the graph.

    References
    ----------
    Tutz G, Schmid M. Modeling Discrete Time-to-Event Data. Springer 2016.
    """
    reduction = check_reduction(reduction)
    logit = check_prediction(logit_hazard, "logit_hazard", ndim=2)
    if logit.shape[1] < 2:
        warn_degenerate(
            "hazard_smoothness: the prediction has a single interval, so the penalty is zero; "
            "set its weight to 0 for one-interval models."
        )
        return connected_zero(logit, reduction, logit.shape[0])
    per_sample = torch.diff(logit, dim=1).square().sum(dim=1)
    return reduce(per_sample, reduction)
