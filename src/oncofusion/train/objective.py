"""The DMA-Net training objective (§2.3, §2.4.1), built from pure survival losses.

.. math::

    L = L_{NLL} + \\lambda_{rank} L_{rank} + \\lambda_{cal} L_{Brier}^{IPCW}
        + \\lambda_{smooth} \\sum_k \\lVert \\operatorname{logit} h_k -
          \\operatorname{logit} h_{k-1} \\rVert^2

with balanced event weights :math:`w = N / (2 N_{event})` and label smoothing
:math:`\\varepsilon = 0.05` in the NLL.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from oncofusion.survival.discretize import Discretizer
from oncofusion.survival.nonparametric import censoring_kaplan_meier

__all__ = ["LossConfig", "DiscreteTimeObjective"]


class LossConfig(BaseModel):
    """Weights of the loss terms (the ``loss:`` block of a model config)."""

    model_config = ConfigDict(extra="forbid")

    rank: float = Field(0.1, ge=0)
    brier: float = Field(0.1, ge=0)
    smooth: float = Field(0.01, ge=0)
    alignment: float = Field(0.0, ge=0)  # weight of the soft-DTW alignment cost, if the fusion gives one
    rank_sigma: float = Field(0.1, gt=0)
    event_weight: Literal["balanced", "none"] = "balanced"
    label_smoothing: float = Field(0.05, ge=0, lt=1)


class DiscreteTimeObjective:
    """Callable ``(outputs, batch) -> {"loss", "nll", "rank", "brier", "smooth"}``.

    Parameters
    ----------
    discretizer
        The fitted time grid (its cuts define the intervals of the head).
    config
        Loss weights.
    train_time, train_event
        Training outcomes; the censoring Kaplan-Meier for the IPCW Brier term is fitted
        on them once.
    """

    def __init__(
        self,
        discretizer: Discretizer,
        config: LossConfig,
        train_time: np.ndarray,
        train_event: np.ndarray,
    ) -> None:
        self.discretizer = discretizer
        self.config = config
        self.cuts = np.asarray(discretizer.cuts, dtype=np.float64)
        self._censoring = censoring_kaplan_meier(np.asarray(train_time, float), np.asarray(train_event, bool))
        self._g_grid = self._censoring(self.cuts[1:])

    def __call__(self, outputs: dict[str, Any], batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        import warnings

        from oncofusion.survival.losses import (
            CensoringWeights,
            DegenerateBatchWarning,
            discrete_nll,
            hazard_smoothness,
            ipcw_brier_loss,
            ranking_loss,
        )

        logit = outputs["logit_hazard"].float()
        time = batch["time"].detach().cpu().numpy().astype(np.float64)
        event = batch["event"].detach().cpu().numpy().astype(bool)
        labels = self.discretizer.transform(time, event)
        entry = batch.get("entry_index")
        entry_np = None if entry is None else entry.detach().cpu().numpy().astype(np.int64)
        cfg = self.config
        with warnings.catch_warnings():
            # a small batch without events is expected now and then; the sampler prevents it
            # in training, and the losses return a graph-connected zero for those terms
            warnings.simplefilter("ignore", DegenerateBatchWarning)
            nll = discrete_nll(
                labels.interval_index,
                labels.event,
                logit,
                event_weight="balanced" if cfg.event_weight == "balanced" else None,
                label_smoothing=cfg.label_smoothing,
                entry_index=entry_np,
            )
            log_surv = torch.cumsum(torch.nn.functional.logsigmoid(-logit), dim=1)
            surv = torch.exp(log_surv)
            terms = {"nll": nll}
            total = nll
            # ranking and Brier compare unconditional curves: only baseline (entry 0) samples
            base = np.ones(len(time), dtype=bool) if entry_np is None else entry_np == 0
            if cfg.rank > 0 and base.sum() >= 2:
                idx = torch.as_tensor(np.flatnonzero(base), device=surv.device)
                terms["rank"] = ranking_loss(
                    labels.interval_index[base], labels.event[base], 1.0 - surv[idx], sigma=cfg.rank_sigma
                )
                total = total + cfg.rank * terms["rank"]
            if cfg.brier > 0 and base.any():
                idx = torch.as_tensor(np.flatnonzero(base), device=surv.device)
                weights = CensoringWeights(at_time=self._censoring.left_limit(time[base]), at_grid=self._g_grid)
                terms["brier"] = ipcw_brier_loss(
                    time[base], event[base], surv[idx], self.cuts, censoring_survival=weights
                )
                total = total + cfg.brier * terms["brier"]
            if cfg.smooth > 0:
                terms["smooth"] = hazard_smoothness(logit)
                total = total + cfg.smooth * terms["smooth"]
        if cfg.alignment > 0 and "alignment_cost" in outputs:
            terms["alignment"] = outputs["alignment_cost"].float().mean()
            total = total + cfg.alignment * terms["alignment"]
        terms["loss"] = total
        return terms
