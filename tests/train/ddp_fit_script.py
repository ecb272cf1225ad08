"""Worker of ``test_ddp.py``: ``fit`` under Lightning DDP (gloo, CPU processes).

Run as ``python ddp_fit_script.py OUT_DIR N_DEVICES``. Lightning re-runs this script once per
extra device; every rank writes ``OUT_DIR/rank<r>.json`` (the patients of each training and
validation step, the epoch log) and ``rank<r>.pt`` (the final, last-epoch weights).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

import oncofusion
from oncofusion.data import load_cohort
from oncofusion.data.collate import collate_patients
from oncofusion.data.dataset import PatientDataset
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.models.config import config_from_dict
from oncofusion.models.network import MultimodalSurvivalNet
from oncofusion.survival.discretize import Discretizer
from oncofusion.train.fit import fit
from oncofusion.train.objective import DiscreteTimeObjective
from oncofusion.train.task import SurvivalTask

TINY = Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"
VAL = ["001", "009", "011"]  # one event; 3 patients over 2 ranks: uneven shards (2 + 1)

CONFIG = {
    "data": {"n_intervals": 12, "horizon": 12},
    "network": {
        "modalities": ["biomarkers", "clinical"],
        "encoders": {
            "biomarkers": {"name": "bilstm_attention", "args": {"hidden": 8, "out_features": 8}},
            "clinical": {"name": "gated_mlp", "args": {"hidden": [8], "out_features": 8}},
        },
        "fusion": {"name": "concat", "args": {}},
    },
    "loss": {"rank": 0.1, "brier": 0.5, "event_weight": "none", "label_smoothing": 0.0},
    "train": {
        # min_delta 1.0: no epoch after the first "improves", so early stopping must end the
        # run after 1 + patience epochs, the same on every rank
        "seed": 5, "max_epochs": 8, "batch_size": 3, "lr": 0.01, "patience": 3, "min_delta": 1.0,
        "modality_dropout": 0.2,
        "accelerator": "cpu", "strategy": "ddp", "progress": False,
    },
}


class Recorder:
    """An objective that logs which patients each step used, then defers to the real one."""

    def __init__(self, objective: DiscreteTimeObjective, model: torch.nn.Module) -> None:
        self.objective, self.model, self.steps = objective, model, []

    def __call__(self, outputs: dict, batch: dict) -> dict:
        self.steps.append(["train" if self.model.training else "val", list(batch["patient_id"])])
        return self.objective(outputs, batch)


def main(out: Path, devices: int) -> None:
    cfg = config_from_dict({**CONFIG, "train": {**CONFIG["train"], "devices": devices}})
    cohort = load_cohort(TINY)
    train_ids = [p for p in cohort.patient_ids if p not in VAL]
    train_c, val_c = cohort.subset(train_ids), cohort.subset(VAL)
    pre = TabularPreprocessor().fit(cohort, train_ids)
    disc = Discretizer.equidistant(12, horizon=12.0)
    sizes = {"biomarkers": len(pre.biomarker_names), "clinical": len(pre.clinical_feature_names)}
    torch.manual_seed(0)
    net = MultimodalSurvivalNet(cfg.network, sizes, disc.n_intervals)
    tt = train_c.patients["time"].to_numpy(float)
    te = train_c.patients["event"].to_numpy(int)
    recorder = Recorder(DiscreteTimeObjective(disc, cfg.loss, tt, te), net)
    val_set = PatientDataset(val_c, pre)
    result = fit(
        net, recorder, PatientDataset(train_c, pre), val_set, train_time=tt, train_event=te,
        grid=disc.cuts[1:], config=cfg.train, collate=collate_patients, work_dir=out / "work",
    )
    # the IBS of the final weights over *all* validation patients, in this process alone
    net.eval()
    with torch.no_grad():
        hazard = net(collate_patients([val_set[i] for i in range(len(val_set))]))["hazard"].double()
    surv = torch.cumprod(1 - hazard, dim=1).numpy()
    task = SurvivalTask(net, recorder, cfg.train, disc.cuts[1:], tt, te)
    vt, ve = val_c.patients["time"].to_numpy(float), val_c.patients["event"].to_numpy(bool)
    full_ibs = task._ibs(vt, ve, surv)
    rank = result.global_rank
    torch.save({k: v.detach().clone() for k, v in net.state_dict().items()}, out / f"rank{rank}.pt")
    (out / f"rank{rank}.json").write_text(json.dumps({
        "rank": rank, "world_size": result.world_size, "steps": recorder.steps, "history": result.history,
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch, "full_val_ibs": full_ibs,
        "train_ids": train_ids, "n_val": len(VAL), "val_events": int(np.sum(ve)),
    }))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
