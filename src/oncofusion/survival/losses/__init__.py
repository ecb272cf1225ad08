"""Survival losses: pure tensor functions with a validated ``reduction``.

Arguments follow the package order: the target first (``time`` or ``interval_index``,
then ``event``), then the prediction, whose name states its scale (``log_hz``,
``logit_hazard``, ``cum_risk``, ``surv``), then the grid; hyper-parameters are
keyword-only. A batch that carries no information for a loss warns once
(:class:`DegenerateBatchWarning`) and returns a zero connected to the autograd graph.

One file per family: ``discrete`` (discrete-time NLL), ``smoothness``, ``ranking``,
``brier`` (IPCW Brier), ``cox`` (partial likelihood), ``deephit``, ``binary``.
"""

from __future__ import annotations

from oncofusion.survival.losses._checks import DegenerateBatchWarning
from oncofusion.survival.losses._reduction import REDUCTIONS, check_reduction
from oncofusion.survival.losses.binary import HorizonLabels, binary_outcome_loss, horizon_labels
from oncofusion.survival.losses.brier import CensoringWeights, censoring_weights, ipcw_brier_loss
from oncofusion.survival.losses.cox import cox_partial_likelihood
from oncofusion.survival.losses.deephit import deephit_competing_loss, deephit_loss
from oncofusion.survival.losses.discrete import at_risk_and_targets, discrete_nll
from oncofusion.survival.losses.ranking import ranking_loss
from oncofusion.survival.losses.smoothness import hazard_smoothness

__all__ = [
    "REDUCTIONS",
    "CensoringWeights",
    "DegenerateBatchWarning",
    "HorizonLabels",
    "at_risk_and_targets",
    "binary_outcome_loss",
    "censoring_weights",
    "check_reduction",
    "cox_partial_likelihood",
    "deephit_competing_loss",
    "deephit_loss",
    "discrete_nll",
    "hazard_smoothness",
    "horizon_labels",
    "ipcw_brier_loss",
    "ranking_loss",
]
