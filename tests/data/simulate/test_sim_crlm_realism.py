"""Realism of the simulated CRLM cohort against DMA-Net (seed paper 000, Tables 1-3).

Targets and tolerances: marginals at n = 3000 within about 3 standard errors; the event-group
differences of Table 1 within 0.05; oracle AUCs in the ranges the design asks for.
"""

from __future__ import annotations

import numpy as np
import pytest

from oncofusion.survival.nonparametric import kaplan_meier


def _group(p, flag):
    ev = p["event"].to_numpy() == 1
    known = flag.notna().to_numpy()
    f = flag.to_numpy(dtype=float)
    return f[~ev & known].mean(), f[ev & known].mean()


def test_table1_marginals(crlm_big):
    p = crlm_big.patients
    assert p["age"].mean() == pytest.approx(60.4, abs=0.6)
    assert p["age"].std() == pytest.approx(10.3, abs=0.5)
    assert (p["sex"] == "male").mean() == pytest.approx(0.58, abs=0.03)
    stage = p["tnm_stage"].value_counts(normalize=True)
    assert stage["I"] == pytest.approx(0.18, abs=0.02)
    assert stage["II"] == pytest.approx(0.36, abs=0.025)
    assert stage["III"] == pytest.approx(0.46, abs=0.025)
    assert p["emvi"].mean() == pytest.approx(0.31, abs=0.025)
    cea = p["cea"].dropna()
    assert (cea > 5).mean() == pytest.approx(0.42, abs=0.025)
    assert (p["side"] == "right").mean() == pytest.approx(0.38, abs=0.025)
    # stage follows T and N: stage III iff node positive, stage I iff N0 and T1/T2
    n_pos = p["n_stage"] != "N0"
    assert ((p["tnm_stage"] == "III") == n_pos).all()
    assert ((p["tnm_stage"] == "I") == (~n_pos & p["t_stage"].isin(["T1", "T2"]))).all()
    assert (p.loc[~n_pos, "positive_nodes"].dropna() == 0).all()
    assert (p.loc[p["n_stage"] == "N2", "positive_nodes"].dropna() >= 4).all()


def test_35_clinical_variables_about_5_percent_missing(crlm_big):
    schema = crlm_big.schema["clinical"]
    cols = schema["continuous"] + schema["categorical"]
    assert len(cols) == 35
    assert list(crlm_big.patients.columns) == ["patient_id", "time", "event", *cols]
    miss = crlm_big.patients[cols].isna().to_numpy().mean()
    assert miss == pytest.approx(0.05, abs=0.01)
    # missing at random: older patients miss more laboratory values
    p = crlm_big.patients
    old = p["age"] > 65
    assert p.loc[old, "crp"].isna().mean() > p.loc[~old, "crp"].isna().mean()


def test_event_rate_and_censoring_table2(crlm_big):
    p = crlm_big.patients
    event = p["event"] == 1
    assert event.mean() == pytest.approx(0.28, abs=0.02)
    lost = ~event & (p["time"] < 12)
    assert lost.mean() == pytest.approx(0.03, abs=0.01)
    assert (p.loc[~event & ~lost, "time"] == 12.0).all()
    assert (p["time"] > 0).all() and (p.loc[event, "time"] < 12).all()


def test_n300_seed0_event_rate():
    from oncofusion.data.simulate import simulate_crlm

    p = simulate_crlm(300, 0, images=False).patients
    assert p["event"].mean() == pytest.approx(0.28, abs=0.03)


def test_table1_event_group_differences(crlm_big):
    p = crlm_big.patients
    checks = {
        "emvi": (p["emvi"].astype("Float64"), 0.259, 0.440),
        "cea>5": ((p["cea"] > 5).astype(float).where(p["cea"].notna()), 0.329, 0.655),
        "stage III": ((p["tnm_stage"] == "III").astype(float), 0.403, 0.607),
        "stage I": ((p["tnm_stage"] == "I").astype(float), 0.208, 0.107),
    }
    for name, (flag, non_event, event) in checks.items():
        got = _group(p, flag)
        assert got == pytest.approx((non_event, event), abs=0.05), name
    # nearly equal between the groups: age, sex, side (Table 1: p = 0.46, 0.39, 0.09)
    age = _group(p, p["age"].astype(float))
    assert abs(age[1] - age[0]) < 2.0
    male = _group(p, (p["sex"] == "male").astype(float))
    assert abs(male[1] - male[0]) < 0.08
    right = _group(p, (p["side"] == "right").astype(float))
    assert 0.0 < right[1] - right[0] < 0.15


def test_kaplan_meier_matches_true_hazards(crlm_big):
    """The observed outcomes follow the true monthly hazards (independent censoring)."""
    p = crlm_big.patients
    h = crlm_big.truth["hazard"].drop(columns="patient_id").to_numpy()
    mean_surv = np.cumprod(1.0 - h, axis=1).mean(axis=0)
    km = kaplan_meier(p["time"].to_numpy(), p["event"].to_numpy())
    months = np.array([1, 3, 6, 9, 11.999])
    np.testing.assert_allclose(km(months), mean_surv[[0, 2, 5, 8, 11]], atol=0.02)
    # early events are rare: metastases accumulate over the year
    assert 0.07 < 1 - km(3.0) < 0.14


def test_oracle_auc_ranges_table3(crlm_big):
    from oncofusion.data.simulate import oracle_metrics

    res = oracle_metrics(crlm_big)
    assert res.attrs["backend"] == "oncofusion.metrics"
    auc = res[res["metric"] == "auc_12"].set_index("subset")["value"]
    assert 0.78 <= auc["clinical"] <= 0.82
    assert 0.86 <= auc["imaging"] <= 0.89
    assert 0.86 <= auc["markers"] <= 0.89
    assert 0.92 <= auc["all"] <= 0.95
    # new visits add information: the month-4 update beats the baseline risk for events in (4, 12]
    assert auc["all_updated_m4"] > auc["all_baseline_m4"] + 0.01
    ibs = res[res["metric"] == "ibs"].set_index("subset")["value"]
    assert ibs["all"] < min(ibs["imaging"], ibs["markers"]) < ibs["clinical"]


@pytest.mark.parametrize("subset", ["clinical", "imaging", "markers", "all"])
def test_oracles_are_calibrated(crlm_big, subset):
    """Within quintiles of each oracle, the observed 12-month risk equals the mean oracle risk."""
    p = crlm_big.patients
    risk = crlm_big.truth["oracle_risk"][f"{subset}_12"].to_numpy()
    groups = np.digitize(risk, np.quantile(risk, [0.2, 0.4, 0.6, 0.8]))
    for g in range(5):
        m = groups == g
        km = kaplan_meier(p["time"].to_numpy()[m], p["event"].to_numpy()[m])
        assert 1 - km(11.999) == pytest.approx(risk[m].mean(), abs=0.05), (subset, g)


def test_dynamic_oracle_is_calibrated_at_month4(crlm_big):
    p = crlm_big.patients
    at_risk = (p["time"] > 4).to_numpy()
    r = crlm_big.truth["dynamic_risk"]["m04"].to_numpy()[at_risk]
    km = kaplan_meier(p["time"].to_numpy()[at_risk], p["event"].to_numpy()[at_risk])
    assert 1 - km(11.999) == pytest.approx(r.mean(), abs=0.02)
