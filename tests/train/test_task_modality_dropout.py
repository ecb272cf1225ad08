"""Modality dropout in the training step acts on the modalities the network reads."""

import warnings

import numpy as np
import torch
from torch import nn

from oncofusion.train.config import TrainConfig
from oncofusion.train.task import SurvivalTask


class _Recorder(nn.Module):
    def __init__(self, modalities):
        super().__init__()
        self.modalities = modalities
        self.w = nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, batch):
        self.seen.append({m: v.clone() for m, v in batch["modality_mask"].items()})
        b = batch["time"].shape[0]
        return {"hazard": torch.sigmoid(self.w).expand(b, 2)}


def _objective(out, batch):
    return {"loss": out["hazard"].sum()}


def _masks_seen(used: list[str], dropout: float, batch_size: int, steps: int) -> list[dict]:
    """The modality masks a network reading ``used`` receives over ``steps`` training steps
    of a batch where every patient has imaging, biomarkers and clinical data."""
    model = _Recorder(used)
    task = SurvivalTask(model, _objective, TrainConfig(modality_dropout=dropout), np.array([1.0, 2.0]),
                        np.array([1.0, 2.0]), np.array([1, 0]))
    b = batch_size
    batch = {"time": torch.ones(b), "event": torch.ones(b),
             "modality_mask": {m: torch.ones(b, dtype=torch.bool) for m in ("imaging", "biomarkers", "clinical")}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # self.log outside a trainer
        for step in range(steps):
            task.training_step(batch, step)
    return model.seen


def test_a_unimodal_network_never_loses_its_only_modality_to_unused_ones():
    seen = _masks_seen(["imaging"], dropout=0.9, batch_size=64, steps=5)
    assert all(s["imaging"].all() for s in seen)


def test_a_multimodal_network_still_drops_its_modalities():
    seen = _masks_seen(["imaging", "clinical"], dropout=0.5, batch_size=256, steps=1)[-1]
    used = torch.stack([seen["imaging"], seen["clinical"]], 1)
    assert used.any(1).all()  # never both
    assert 0.2 < 1 - seen["imaging"].float().mean() < 0.5  # but often one
