"""DMA-Net end to end on the tiny cohort: train, save/load, predict, update, resume."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import oncofusion
from oncofusion.errors import CohortError, ConfigError, ModelLoadError, UnknownOptionError

from dmanet_fixtures import TINY, tiny_config


def test_prediction_is_a_survival_curve(tiny_run, tiny_cohort):
    run, _ = tiny_run
    pred = run.model.predict(tiny_cohort)
    assert pred.surv.shape == (len(tiny_cohort), 12)
    assert np.all((pred.hazard > 0) & (pred.hazard < 1))
    assert np.all(np.diff(pred.surv, axis=1) <= 1e-12)
    np.testing.assert_allclose(pred.surv, np.cumprod(1 - pred.hazard, axis=1), rtol=1e-6)
    frame = pred.to_frame()
    assert {"risk_3", "risk_6", "risk_12"} <= set(frame.columns)
    np.testing.assert_allclose(frame["risk_12"], 1 - pred.surv[:, -1], rtol=1e-6)


def test_save_load_round_trip_gives_identical_predictions(tiny_run, tiny_cohort):
    run, run_dir = tiny_run
    loaded = oncofusion.load(run_dir)
    a = run.model.predict(tiny_cohort).surv
    b = loaded.predict(tiny_cohort).surv
    np.testing.assert_array_equal(a, b)


def test_tampered_weights_are_refused(tiny_run, tmp_path):
    import shutil

    _, run_dir = tiny_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    with open(copy / "weights.pt", "ab") as fh:
        fh.write(b"x")
    with pytest.raises(ModelLoadError, match="checksum"):
        oncofusion.load(copy)


def test_landmark_prediction_ignores_visits_after_the_landmark(tiny_run, tiny_cohort):
    run, _ = tiny_run
    pid = tiny_cohort.biomarkers.groupby("patient_id")["time"].max().idxmax()
    one = tiny_cohort.subset([pid])
    s = 1.0
    before = run.model.predict(one, landmark=s)
    late = one.biomarkers["time"] > s
    assert late.any()
    one.biomarkers.loc[late, ["ezh2", "cd10"]] = 1e3
    after = run.model.predict(one, landmark=s)
    np.testing.assert_array_equal(before.surv, after.surv)
    assert before.cuts[0] == s and np.all(before.surv <= 1)


def test_update_refreshes_the_risk_after_a_visit(tiny_run, tiny_cohort):
    run, _ = tiny_run
    one = tiny_cohort.subset([tiny_cohort.patient_ids[0]])
    low = run.model.update(one, [{"time": 2.0, "ezh2": -5.0, "cd10": -5.0}])
    high = run.model.update(one, [{"time": 2.0, "ezh2": 50.0, "cd10": 50.0}])
    assert low.landmark == high.landmark == 2.0
    assert low.cuts[0] == 2.0
    assert not np.allclose(low.surv, high.surv)
    with pytest.raises(CohortError, match="ezh2"):
        run.model.update(one, [{"time": 2.0, "ezh2": "high", "cd10": 1.0}])


def test_missing_imaging_is_a_mask_not_data(tiny_run, tiny_cohort):
    run, _ = tiny_run
    without = [p for p in tiny_cohort.patient_ids if p not in set(tiny_cohort.imaging["patient_id"])]
    assert without
    ds = run.model.make_dataset(tiny_cohort.subset(without[:1]))
    sample = ds[0]
    assert not bool(sample["modality_mask"]["imaging"])
    pred = run.model.predict(tiny_cohort.subset(without[:1]))
    assert np.isfinite(pred.surv).all()


def test_resume_after_a_kill_gives_the_same_final_weights(tiny_cohort, tmp_path):
    from oncofusion.models.pipeline import train_model

    cfg = tiny_config(train={"max_epochs": 3})
    full = train_model(tiny_cohort, cfg, work_dir=tmp_path / "a")
    # "killed" after the first epoch: a run capped at 1 epoch leaves last.ckpt behind
    train_model(tiny_cohort, tiny_config(train={"max_epochs": 1}), work_dir=tmp_path / "b")
    resumed = train_model(tiny_cohort, cfg, work_dir=tmp_path / "b", resume=True)
    a = full.model.network.state_dict()
    b = resumed.model.network.state_dict()
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_same_seed_same_weights_different_seed_different(tiny_cohort, tmp_path):
    from oncofusion.models.pipeline import train_model

    cfg = tiny_config(train={"max_epochs": 1})
    a = train_model(tiny_cohort, cfg, work_dir=tmp_path / "a").model.network.state_dict()
    b = train_model(tiny_cohort, cfg, work_dir=tmp_path / "b").model.network.state_dict()
    c = train_model(tiny_cohort, tiny_config(train={"max_epochs": 1, "seed": 1}), work_dir=tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c.model.network.state_dict()[k]) for k in a)


def test_config_errors_are_clear():
    from oncofusion.models.config import load_config

    with pytest.raises(UnknownOptionError, match="Did you mean 'dmanet-cpu'"):
        load_config("dmanet-cp")
    with pytest.raises(ConfigError, match="train.lr"):
        load_config("dmanet-cpu", {"train": {"lr": -1}})
    with pytest.raises(ConfigError, match="bogus"):
        load_config("dmanet-cpu", {"bogus": 1})


def test_variants_are_config_switches():
    from oncofusion.workflows.variants import make_variant

    cfg = tiny_config()
    assert make_variant(cfg, "no_imaging").network.modalities == ["biomarkers", "clinical"]
    assert make_variant(cfg, "no_imaging").data.image_shape is None
    assert make_variant(cfg, "markers_only").network.modalities == ["biomarkers"]
    concat = make_variant(cfg, "concat_fusion")
    assert concat.network.fusion.name == "concat" and concat.network.head.args["input"] == "pooled"
    assert make_variant(cfg, "no_alignment").network.fusion.args["align"] is None
    with pytest.raises(UnknownOptionError, match="no_imaging"):
        make_variant(cfg, "no_imagin")


def test_tiny_cohort_path_exists():
    assert (TINY / "cohort.yaml").is_file()


def test_modalities_the_cohort_lacks_are_dropped_with_a_warning(tiny_cohort):
    import warnings as _w

    from oncofusion.models.pipeline import fit_to_cohort

    cfg = tiny_config()
    no_images = tiny_cohort.subset(tiny_cohort.patient_ids)
    no_images.imaging = None
    with pytest.warns(UserWarning, match="no imaging"):
        out = fit_to_cohort(cfg, no_images)
    assert out.network.modalities == ["biomarkers", "clinical"] and out.data.image_shape is None
    with _w.catch_warnings():
        _w.simplefilter("error")
        assert fit_to_cohort(cfg, tiny_cohort).network.modalities == cfg.network.modalities
