"""Landmark augmentation under ``fit``: the draws follow the epoch (oncofusion.train.landmark)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

TINY = Path(__file__).resolve().parents[2] / "src" / "oncofusion" / "data" / "examples" / "tiny"


class _Net(torch.nn.Module):
    """Hazards from the clinical features only (a stand-in for a network)."""

    def __init__(self, n_in: int, k: int) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(n_in, k)

    def forward(self, batch):
        logit = self.lin(batch["clinical"])
        return {"logit_hazard": logit, "hazard": torch.sigmoid(logit)}


def test_fit_draws_new_landmarks_every_epoch(tmp_path):
    """Regression: ``fit`` never bound the dataset to the batch sampler's epoch, so every epoch
    repeated epoch 0's draws (each patient was always served at the same landmark)."""
    from oncofusion.data import load_cohort
    from oncofusion.data.collate import collate_patients
    from oncofusion.data.dataset import PatientDataset
    from oncofusion.data.preprocess import TabularPreprocessor
    from oncofusion.train.config import TrainConfig
    from oncofusion.train.fit import fit
    from oncofusion.train.landmark import LandmarkAugmentedDataset

    cohort = load_cohort(TINY)
    ids = cohort.patient_ids
    pre = TabularPreprocessor().fit(cohort, ids)
    cuts = np.linspace(0.0, 12.0, 7)
    served: list[tuple[int, int, float]] = []

    class Recording(LandmarkAugmentedDataset):
        def __getitem__(self, i):
            out = super().__getitem__(i)
            served.append((int(getattr(self._epoch_source, "epoch", -1)), int(i), float(out["landmark"])))
            return out

    landmarks = [0.25 * k for k in range(1, 9)]
    train = Recording(PatientDataset(cohort, pre), cuts, landmarks=landmarks, p=1.0, seed=0)
    val = PatientDataset(cohort, pre, max_visit_time=0.0)
    time = cohort.patients["time"].to_numpy(float)
    event = cohort.patients["event"].to_numpy(int)
    net = _Net(len(pre.clinical_feature_names), len(cuts) - 1)
    config = TrainConfig(max_epochs=3, batch_size=8, patience=10, progress=False, accelerator="cpu",
                         modality_dropout=0.0)
    fit(net, lambda out, batch: {"loss": out["logit_hazard"].pow(2).mean()}, train, val,
        train_time=time, train_event=event, grid=cuts[1:], config=config, collate=collate_patients,
        work_dir=tmp_path, resume=False)

    assert {e for e, _, _ in served} == {0, 1, 2}
    by_epoch = {e: {i: s for f, i, s in served if f == e} for e in range(3)}
    assert all(len(v) == len(cohort) for v in by_epoch.values())
    # the same patient gets other landmarks in other epochs (8 candidates, p = 1)
    changed = sum(by_epoch[0][i] != by_epoch[1][i] or by_epoch[1][i] != by_epoch[2][i] for i in by_epoch[0])
    assert changed >= len(cohort) // 2
