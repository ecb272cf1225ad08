"""Training on CUDA with mixed precision (``dmanet-gpu``/``mmcare-gpu`` use it); skipped without CUDA."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from dmanet_fixtures import tiny_config

pytestmark = pytest.mark.gpu


def test_dmanet_trains_on_cuda_with_mixed_precision(tiny_cohort, tmp_path):
    import oncofusion
    from oncofusion.models.artifacts import save_run
    from oncofusion.models.pipeline import train_model

    cfg = tiny_config(train={"accelerator": "gpu", "precision": "16-mixed", "max_epochs": 2})
    run = train_model(tiny_cohort, cfg, work_dir=tmp_path / "work")
    losses = np.array([row["train_loss"] for row in run.history], dtype=float)
    assert np.all(np.isfinite(losses)) and np.isfinite(run.history[-1]["val_ibs"])
    pred = run.model.predict(tiny_cohort)  # the best weights come back on the CPU
    assert np.all((pred.hazard > 0) & (pred.hazard < 1))
    save_run(run, tiny_cohort, tmp_path / "run")
    np.testing.assert_array_equal(oncofusion.load(tmp_path / "run").predict(tiny_cohort).surv, pred.surv)


def test_mmcare_trains_on_cuda_with_mixed_precision(tmp_path):
    from oncofusion.data import load_cohort
    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_config import load_mmcare_config
    from oncofusion.models.mmcare_pipeline import train_mmcare

    simulate_nsclc(40, 5, str(tmp_path / "c"), size=16)
    cohort = load_cohort(tmp_path / "c")
    over = {"train": {"max_epochs": 2, "batch_size": 16, "accelerator": "gpu", "precision": "16-mixed"},
            "ensemble": {"members": 2}, "decision": {"mc_samples": 0}}  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train_mmcare(cohort, load_mmcare_config("mmcare-cpu", over), work_dir=tmp_path / "work")
    preds = run.model.predict_arms(cohort)
    assert np.all(np.isfinite(preds.os_hazard)) and np.all((preds.lc_control >= 0) & (preds.lc_control <= 1))
