"""MM-Care end to end on a tiny simulated NSCLC cohort: segment -> ROI -> train -> save/load
-> predict per arm -> recommend -> evaluate, and the command-line entry points.

One model is trained per module (90 patients, 16^3 CT, 2 epochs); the numbers mean nothing,
the tests check contracts: shapes, probabilities, the round trip, the tables.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import oncofusion
from oncofusion.data import load_cohort
from oncofusion.errors import CohortError, OncofusionError
from oncofusion.models.mmcare_config import load_mmcare_config
from oncofusion.models.mmcare_predictor import MMCarePredictor

OVERRIDES = {
    "train": {"max_epochs": 2, "batch_size": 16, "patience": 2},
    "roi": {"enabled": True, "segmenter": {"epochs": 2, "patience": 2}},
    "decision": {"mc_samples": 21},
    "evaluation": {"n_resamples": 20},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from oncofusion.data.simulate import simulate_nsclc
    from oncofusion.models.mmcare_eval import evaluate_mmcare_run
    from oncofusion.models.mmcare_pipeline import train_mmcare
    from oncofusion.models.mmcare_run import save_mmcare_run

    tmp = tmp_path_factory.mktemp("mmcare")
    simulate_nsclc(90, 11, str(tmp / "cohort"), size=16)
    cohort = load_cohort(tmp / "cohort", require_events=True)
    cfg = load_mmcare_config("mmcare-cpu", OVERRIDES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train_mmcare(cohort, cfg, work_dir=tmp / "work")
        test = cohort.subset(run.splits["test"])
        before = run.model.predict_arms(test, seed=5)
        save_mmcare_run(run, cohort, tmp / "run")
        report = evaluate_mmcare_run(tmp / "run")
    return {
        "tmp": tmp,
        "cohort": cohort,
        "run": run,
        "test": test,
        "before": before,
        "report": report,
        "run_dir": tmp / "run",
    }


def test_save_load_round_trip_is_identical(trained):
    model = oncofusion.load(str(trained["run_dir"]))
    assert isinstance(model, MMCarePredictor) and model.segmenter is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        after = model.predict_arms(trained["test"], seed=5)
    a, b = trained["before"], after
    assert a.patient_ids == b.patient_ids
    for field in ("os_hazard", "lc_control", "propensity", "os_surv_draws", "lc_control_draws"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert model.training_summary == trained["run"].model.training_summary
    assert 0.0 <= model.training_summary["segmentation"]["test_dice_mean"] <= 1.0


def test_per_arm_predictions_are_probabilities(trained):
    p = trained["before"]
    n = len(trained["test"])
    assert p.os_hazard.shape == (n, 2, 10) and p.lc_control.shape == (n, 2, 2)
    surv = p.os_at([6.0, 12.0, 36.0, 60.0])
    assert ((surv >= 0) & (surv <= 1)).all() and (np.diff(surv, axis=-1) <= 1e-12).all()
    assert ((p.lc_control >= 0) & (p.lc_control <= 1)).all() and (
        np.diff(p.lc_control, axis=-1) <= 0
    ).all()
    np.testing.assert_allclose(p.propensity.sum(axis=1), 1.0)
    truth = trained["test"].patients.set_index("patient_id").loc[p.patient_ids, "arm"]
    assert list(p.received) == list(truth)
    assert p.os_surv_draws.shape == (21, n, 2, 10)


def test_recommendation_follows_the_utility_and_its_interval(trained):
    model = trained["run"].model
    rec = model.recommend(trained["before"])
    p = trained["before"]
    u = 0.7 * p.os_at([36.0])[..., 0] + 0.3 * p.lc_at(36.0)
    np.testing.assert_array_equal(rec["recommended"], np.array(model.arms)[u.argmax(1)])
    assert rec["low"].notna().all() and (rec["low"] <= rec["high"] + 1e-12).all()
    unclear = rec["low"] <= 0
    assert (rec.loc[unclear, "preference"] == "no clear preference").all()
    assert (rec.loc[~unclear, "preference"] == rec.loc[~unclear, "recommended"]).all()
    # OS only (beta = 0): the arm with the higher 3-year survival
    os_only = model.recommend(p, beta=0.0)
    np.testing.assert_array_equal(
        os_only["recommended"], np.array(model.arms)[p.os_at([36.0])[..., 0].argmax(1)]
    )


def test_overlap_warning_for_patients_outside_support(trained):
    model = trained["run"].model
    narrow = model.config.propensity.model_copy(update={"overlap_bounds": [0.45, 0.55]})
    strict = MMCarePredictor(
        model.network,
        model.config.model_copy(update={"propensity": narrow}),
        model.preprocessor,
        model.discretizer,
        model.schema,
        model.propensity,
        lc_horizons=model.lc_horizons,
        input_sizes=model._input_sizes,
        segmenter=model.segmenter,
    )
    with pytest.warns(UserWarning, match="outside the common support"):
        p = strict.predict_arms(trained["test"], mc_samples=0)
    e = p.propensity.min(axis=1)
    np.testing.assert_array_equal(p.outside_support, e < 0.45)


def test_records_and_received_arm_survival(trained):
    model = trained["run"].model
    test = trained["test"]
    pid = test.patient_ids[0]
    row = test.patients.iloc[0]
    rec = {
        "patient_id": pid,
        "clinical": {c: (None if pd.isna(row[c]) else row[c]) for c in test.schema.clinical.all},
    }
    g = test.genomics[test.genomics["patient_id"] == pid]
    if len(g):
        rec["genomics"] = {c: float(g.iloc[0][c]) for c in test.schema.genomics}
    img = test.imaging[test.imaging["patient_id"] == pid].iloc[0]
    rec["images"] = [{"path": img["path"], "mask_path": img["mask_path"]}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_record = model.predict_records([rec], root=test.root, mc_samples=0)
        from_cohort = model.predict_arms(test.subset([pid]), mc_samples=0)
    np.testing.assert_allclose(from_record.os_hazard, from_cohort.os_hazard, rtol=1e-6)
    np.testing.assert_allclose(from_record.lc_control, from_cohort.lc_control, rtol=1e-6)
    assert list(from_record.received) == [""]
    treated = {**rec, "patient_id": "treated", "arm": model.arms[1]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        both = model.predict_records([rec, treated], root=test.root, mc_samples=0)
    assert list(both.received) == ["", model.arms[1]]  # the untreated patient received no arm
    np.testing.assert_allclose(both.os_hazard[0], both.os_hazard[1], rtol=1e-6)  # arm received is not an input
    with pytest.raises(CohortError, match="not one of the arms"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict_records([{**rec, "arm": "chemo"}], root=test.root, mc_samples=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = model.predict_survival(test, [12.0, 36.0])
    p = trained["before"]
    idx = p.received_index()
    np.testing.assert_allclose(s, p.os_at([12.0, 36.0])[np.arange(len(idx)), idx], rtol=1e-6)
    no_arm = test.subset([pid])
    no_arm.patients = no_arm.patients.assign(arm=np.nan)
    with pytest.raises(CohortError, match="needs each patient's arm"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.predict_survival(no_arm, [12.0])


def test_predict_to_file_has_per_arm_columns(trained, tmp_path):
    from oncofusion.models.batch import predict_to_file

    model = oncofusion.load(str(trained["run_dir"]))
    n = predict_to_file(model, trained["test"], tmp_path / "pred.csv", chunk_size=7)
    frame = pd.read_csv(tmp_path / "pred.csv")
    assert n == len(trained["test"]) == len(frame)
    need = {
        "risk_36",
        "os_sbrt_36",
        "os_surgery_60",
        "lc_sbrt_12",
        "lc_surgery_36",
        "propensity_sbrt",
        "outside_support",
        "recommended",
        "benefit",
        "benefit_low",
        "benefit_high",
        "preference",
    }
    assert need <= set(frame.columns)
    own = frame["received_arm"].map({"sbrt": "os_sbrt_36", "surgery": "os_surgery_36"})
    np.testing.assert_allclose(
        1 - frame["risk_36"], [frame.loc[i, c] for i, c in own.items()], rtol=1e-6
    )


def test_evaluation_tables_and_files(trained):
    rep = trained["report"]
    out = trained["run_dir"] / "evaluation"
    for name in ("summary", "os", "lc", "calibration", "recommendation", "patients"):
        assert (out / f"{name}.md").is_file() and (out / f"{name}.csv").is_file()
    for fig in ("os_by_arm", "calibration", "benefit", "policy"):
        assert (out / f"{fig}.png").stat().st_size > 1000
    rec = rep.tables["recommendation"].set_index("policy")
    assert {
        "MM-Care",
        "guideline",
        "everyone sbrt",
        "everyone surgery",
        "random",
        "oracle (true optimal)",
    } <= set(rec.index)
    assert (
        rec.loc["oracle (true optimal)", "agreement"] == 1.0
        and rec.loc["oracle (true optimal)", "value_share"] == 1.0
    )
    assert (rec["value_share"] <= 1.0 + 1e-12).all() and rec["agreement"].between(0, 1).all()
    assert rec["ipw_value"].dropna().between(0, 1).all()
    os_t = rep.tables["os"]
    assert len(os_t) == 3 * 3 and set(os_t["horizon"]) == {12.0, 36.0, 60.0}
    lc_t = rep.tables["lc"]
    assert set(lc_t["arm"]) == {"sbrt", "surgery", "received arm"} and set(lc_t["horizon"]) == {
        12.0,
        36.0,
    }
    assert lc_t["accuracy"].dropna().between(0, 1).all()
    cal = rep.tables["calibration"]
    assert set(cal["outcome"]) == {"OS", "LC"} and cal["hl_p"].dropna().between(0, 1).all()
    summary = rep.tables["summary"].iloc[0]
    assert 0 <= summary["agreement"] <= 1 and 0 <= summary["test_dice"] <= 1
    metrics = yaml.safe_load((trained["run_dir"] / "metrics.json").read_text())
    assert metrics["summary"]["agreement"] == pytest.approx(summary["agreement"])
    oncofusion.load(str(trained["run_dir"]))  # checksums still valid after evaluation


def test_train_command_errors_before_training(trained, tmp_path):
    from oncofusion.models.mmcare_run import is_mmcare_run, train_mmcare_command

    assert is_mmcare_run(trained["run_dir"]) and not is_mmcare_run(tmp_path)
    with pytest.raises(OncofusionError, match="not empty"):
        train_mmcare_command(
            trained["tmp"] / "cohort", "mmcare-cpu", trained["run_dir"], echo=lambda *_: None
        )
    no_arms = tmp_path / "no_arms"
    shutil.copytree(trained["tmp"] / "cohort", no_arms)
    meta = yaml.safe_load((no_arms / "cohort.yaml").read_text())
    meta.pop("arms")
    (no_arms / "cohort.yaml").write_text(yaml.safe_dump(meta))
    pts = pd.read_csv(no_arms / "patients.csv").drop(columns="arm")
    pts.to_csv(no_arms / "patients.csv", index=False)
    with pytest.raises(CohortError, match="compares treatments"):
        train_mmcare_command(no_arms, "mmcare-cpu", tmp_path / "run", echo=lambda *_: None)
    assert not (tmp_path / "run").exists()


def test_demo_runs_the_whole_story(tmp_path):
    from oncofusion.cli.demo_nsclc import run_nsclc_demo

    lines: list[str] = []
    paths = run_nsclc_demo(
        tmp_path / "demo", n=60, seed=2, epochs=1, progress=False, echo=lines.append
    )
    assert all(Path(p).exists() for p in paths.values())
    assert (paths["cohort"] / "truth" / "potential_outcomes.csv").is_file()
    assert (paths["evaluation"] / "recommendation.md").is_file()
    answers = paths["answers"].read_text().splitlines()[2:]
    assert answers and all(
        "sbrt: survival" in a and "surgery: survival" in a and "why:" in a for a in answers
    )
    assert (
        len(lines) == 1 and str(paths["evaluation"]) in lines[0]
    )  # progress=False: only where the files are
