"""The Lightning wrapper around a discrete-time survival model.

Models do not know the trainer: a model maps a batch (docs/internals.md) to outputs with
``logit_hazard``/``hazard``; an *objective* maps (outputs, batch) to a dict of losses with
key ``loss``. This module adds optimisation, modality dropout, image augmentation, per-epoch reseeding (so a
resumed run reproduces an uninterrupted one) and the validation IBS used for early stopping.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch

from oncofusion.train.augment import augment_images
from oncofusion.train.config import TrainConfig
from oncofusion.train.modality_dropout import modality_dropout

__all__ = ["SurvivalTask", "evaluation_times"]

Objective = Callable[[dict[str, Any], dict[str, Any]], dict[str, torch.Tensor]]


def evaluation_times(grid: np.ndarray, time: np.ndarray) -> np.ndarray:
    """Grid points usable for IPCW Brier/IBS on data with follow-up ``time``.

    IPCW estimators need evaluation times strictly inside the observed follow-up.
    """
    grid = np.asarray(grid, dtype=float)
    return grid[(grid > float(np.min(time))) & (grid < float(np.max(time)))]


class SurvivalTask(pl.LightningModule):
    """Trains ``model`` with ``objective``; validates with the IPCW integrated Brier score.

    Parameters
    ----------
    model
        ``nn.Module`` whose forward(batch) returns a dict with ``hazard`` (B, K).
    objective
        Callable (outputs, batch) -> {"loss": ..., other named terms}.
    config
        Training settings.
    grid
        Interval end points (length K) in the cohort's time unit: S(k) is survival at grid[k].
    train_time, train_event
        Training outcomes, for the censoring distribution of the validation IBS.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        objective: Objective,
        config: TrainConfig,
        grid: np.ndarray,
        train_time: np.ndarray,
        train_event: np.ndarray,
    ) -> None:
        super().__init__()
        self.model = model
        self.objective = objective
        self.config = config
        self.grid = np.asarray(grid, dtype=float)
        self.train_time = np.asarray(train_time, dtype=float)
        self.train_event = np.asarray(train_event, dtype=bool)
        self._val_outputs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._warned_ibs = False

    # -- training ---------------------------------------------------------------------------
    def _reseed(self, batch_idx: int) -> None:
        """One seed per (epoch, step, rank) for dropout and modality dropout.

        The draws do not depend on what consumed the global generator before (data
        loading, checkpoint restore), so a run resumed from a checkpoint repeats an
        uninterrupted run exactly; under DDP each rank draws its own stream (rank 0's
        equals a single-process run's).
        """
        epoch_seed = self.config.seed * 1_000_003 + self.current_epoch
        seed = (epoch_seed * 100_003 + batch_idx + 7_919 * self.global_rank) % 2**63
        torch.manual_seed(seed)

    def forward(self, batch: dict[str, Any]) -> dict[str, Any]:
        return self.model(batch)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        self._reseed(batch_idx)
        if self.config.modality_dropout > 0:
            batch = dict(batch)
            # only the modalities the network reads: dropping an unused one is a no-op, and
            # counting unused ones as "present" would let the last used one be dropped
            used = getattr(self.model, "modalities", None)
            used = [m for m in used if m in batch["modality_mask"]] if used is not None else None
            batch["modality_mask"] = modality_dropout(
                batch["modality_mask"], self.config.modality_dropout, modalities=used
            )
        batch = augment_images(batch, self.config.image_augment)
        out = self.model(batch)
        losses = self.objective(out, batch)
        bs = int(batch["time"].shape[0])
        for name, value in losses.items():
            self.log(f"train_{name}", value, on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        return losses["loss"]

    # -- validation -------------------------------------------------------------------------
    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        out = self.model(batch)
        losses = self.objective(out, batch)
        bs = int(batch["time"].shape[0])
        self.log("val_loss", losses["loss"], on_step=False, on_epoch=True, batch_size=bs, sync_dist=True)
        hazard = out["hazard"].detach().float()
        surv = torch.exp(torch.cumsum(torch.log1p(-hazard.clamp(max=1 - 1e-7)), dim=1))
        self._val_outputs.append(
            (batch["time"].detach().cpu().numpy(), batch["event"].detach().cpu().numpy(), surv.cpu().numpy())
        )

    def on_validation_epoch_end(self) -> None:
        outs, self._val_outputs = self._val_outputs, []
        k = len(self.grid)
        time = np.concatenate([o[0] for o in outs]) if outs else np.zeros(0)
        event = np.concatenate([o[1] for o in outs]) if outs else np.zeros(0)
        surv = np.concatenate([o[2] for o in outs]) if outs else np.zeros((0, k))
        if self.trainer.world_size > 1:  # every rank must join the gather, even with no rows
            time, event, surv = self._gather(time, event, surv)
        if len(time) == 0:
            return
        ibs = self._ibs(time, event.astype(bool), surv)
        # identical on every rank (computed from the gathered predictions), so no reduction:
        # early stopping and the best checkpoint see the same number everywhere
        self.log("val_ibs", ibs, prog_bar=True, sync_dist=False)

    def _gather(self, time: np.ndarray, event: np.ndarray, surv: np.ndarray) -> tuple[np.ndarray, ...]:
        """All ranks' validation rows (each rank holds a disjoint shard), on every rank."""
        counts = self.all_gather(torch.tensor([len(time)], device=self.device)).reshape(-1)
        m = int(counts.max())
        rows = np.column_stack([time, event, surv.reshape(len(time), -1)]).astype(np.float64)
        rows = np.pad(rows, [(0, m - len(rows)), (0, 0)])
        table = self.all_gather(torch.from_numpy(rows).to(self.device))  # (world, m, 2 + K)
        full = torch.cat([table[r, : int(c)] for r, c in enumerate(counts)]).cpu().numpy()
        return full[:, 0], full[:, 1], full[:, 2:]

    def _ibs(self, time: np.ndarray, event: np.ndarray, surv: np.ndarray) -> float:
        from oncofusion.metrics import integrated_brier_score

        times = evaluation_times(self.grid, time)
        times = times[times < self.train_time.max()]
        if len(times) < 2 or not event.any():
            if not self._warned_ibs:
                warnings.warn(
                    "validation IBS is undefined (fewer than two grid times inside the validation "
                    "follow-up, or no validation events); early stopping falls back to val_loss.",
                    stacklevel=2,
                )
                self._warned_ibs = True
            return float(self.trainer.callback_metrics.get("val_loss", torch.tensor(np.nan)))
        cols = np.searchsorted(self.grid, times)
        return float(
            integrated_brier_score(time, event, surv[:, cols], times, train_time=self.train_time, train_event=self.train_event)
        )

    # -- optimiser --------------------------------------------------------------------------
    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.model.parameters(), lr=self.config.lr, weight_decay=self.config.weight_decay)
