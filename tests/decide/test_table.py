"""The Table 7 comparison, end to end on a small simulated SBRT-vs-surgery cohort.

The simulation is written here (not taken from ``oncofusion.data.simulate``) so the test
stands alone: true 3-year OS/LC probabilities under both arms depend on FEV1, comorbidity and
a marker; surgery is chosen more often for fit patients (confounding); outcomes are drawn
for the received arm and censored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofusion.decide import (
    PropensityModel,
    agreement,
    comparator_policies,
    guideline_policy,
    ipw_policy_value,
    policy_value_oracle,
    recommend,
    utility,
    value_table,
)
from oncofusion.errors import ConfigError

ARMS = ["sbrt", "surgery"]
HORIZON = 3.0


def _cohort(n: int, seed: int):
    rng = np.random.default_rng(seed)
    fev1 = rng.normal(80, 15, n)
    cci = rng.poisson(1.5, n)
    marker = rng.normal(0, 1, n)
    # 3-year hazards (exponential): surgery helps fit patients, harms frail ones
    base = 0.12 + 0.03 * cci
    lam_sbrt = base * np.exp(0.3 * marker)
    lam_surg = base * np.exp(-0.3 * marker + 0.02 * (80 - fev1) + 0.25 * (cci - 1.5))
    p_os = np.column_stack([np.exp(-lam_sbrt * HORIZON), np.exp(-lam_surg * HORIZON)])
    p_lc = np.column_stack([np.full(n, 0.85), np.full(n, 0.92)])
    fit = 1 / (1 + np.exp(-(0.08 * (fev1 - 80) - 0.6 * (cci - 1.5))))
    surgery = rng.random(n) < fit
    a = surgery.astype(int)
    lam = np.where(surgery, lam_surg, lam_sbrt)
    t_ev = rng.exponential(1 / lam)
    t_c = rng.uniform(2, 8, n)
    df = pd.DataFrame(
        {
            "fev1": fev1,
            "charlson": cci,
            "marker": marker,
            "time": np.minimum(t_ev, t_c),
            "event": (t_ev <= t_c).astype(int),
            "arm": np.asarray(ARMS)[a],
        }
    )
    return df, p_os, p_lc, fit


def test_value_table_with_truth_and_observed_outcomes():
    df, p_os, p_lc, _ = _cohort(1500, 0)
    true_u = utility(p_os, p_lc)
    optimal = np.asarray(ARMS)[true_u.argmax(axis=1)]
    rng = np.random.default_rng(1)
    noisy_os = np.clip(p_os + rng.normal(0, 0.03, p_os.shape), 0, 1)  # a good, imperfect model
    rec = recommend(noisy_os, p_lc, ARMS)
    guide = guideline_policy(df)
    prop = PropensityModel().fit(df[["fev1", "charlson"]], df["arm"], arms=ARMS)
    table = value_table(
        rec["recommended"],
        ARMS,
        model_name="MM-Care",
        true_utility=true_u,
        optimal=optimal,
        time=df["time"],
        event=df["event"],
        received=df["arm"],
        horizon=2.0,
        propensity=prop.predict_proba(df[["fev1", "charlson"]]),
        guideline=guide,
        n_resamples=200,
    )
    assert table["policy"].tolist() == [
        "MM-Care",
        "guideline",
        "everyone sbrt",
        "everyone surgery",
        "random",
        "oracle (true optimal)",
    ]
    row = table.set_index("policy")
    # agreement with the direct computation; random near 1/2; the oracle agrees fully
    assert row.loc["MM-Care", "agreement"] == pytest.approx(agreement(rec["recommended"], optimal))
    assert row.loc["random", "agreement"] == pytest.approx(0.5, abs=0.05)
    assert row.loc["oracle (true optimal)", "value_share"] == pytest.approx(1.0)
    assert row.loc["guideline", "value"] == pytest.approx(
        policy_value_oracle(guide, true_u, arms=ARMS)
    )
    # a good model beats the fixed comparators on agreement and on true value
    for other in ("guideline", "everyone sbrt", "everyone surgery", "random"):
        assert row.loc["MM-Care", "agreement"] > row.loc[other, "agreement"]
        assert row.loc["MM-Care", "value"] > row.loc[other, "value"]
    # observed-outcome columns: IPW values with intervals, the model's matches a direct call
    direct = ipw_policy_value(
        df["time"],
        df["event"],
        df["arm"],
        rec["recommended"],
        2.0,
        prop.predict_proba(df[["fev1", "charlson"]]),
        arms=ARMS,
        n_resamples=200,
    )
    assert row.loc["MM-Care", "ipw_value"] == pytest.approx(direct.value)
    assert row.loc["MM-Care", "ipw_low"] == pytest.approx(direct.low)
    assert (table["ipw_low"] <= table["ipw_value"]).all() and (
        table["ipw_value"] <= table["ipw_high"]
    ).all()
    # the IPW value of "everyone surgery" estimates the cohort's true mean 2-year OS under surgery
    true_2y = np.mean((p_os[:, 1]) ** (2.0 / HORIZON))
    assert (
        row.loc["everyone surgery", "ipw_low"] - 0.02
        < true_2y
        < row.loc["everyone surgery", "ipw_high"] + 0.02
    )
    # without the propensity, fit patients' better survival is credited to surgery
    naive = ipw_policy_value(df["time"], df["event"], df["arm"], "surgery", 2.0, n_resamples=200)
    assert naive.low > true_2y + 0.02


def test_value_table_truth_only_and_outcome_only():
    df, p_os, p_lc, _ = _cohort(300, 2)
    true_u = utility(p_os, p_lc)
    model = np.asarray(ARMS)[true_u.argmax(axis=1)]
    t1 = value_table(model, ARMS, true_utility=true_u)
    assert "ipw_value" not in t1.columns
    assert t1.loc[0, "policy"] == "model" and t1.loc[0, "agreement"] == 1.0
    t2 = value_table(
        model,
        ARMS,
        time=df["time"],
        event=df["event"],
        received=df["arm"],
        horizon=2.0,
        n_resamples=50,
        extra_policies={"expert": model},
    )
    assert "agreement" not in t2.columns
    assert t2["policy"].tolist() == [
        "model",
        "everyone sbrt",
        "everyone surgery",
        "random",
        "expert",
    ]
    assert t2.loc[0, "ipw_value"] == pytest.approx(t2.loc[4, "ipw_value"])


def test_value_table_errors():
    with pytest.raises(ConfigError, match="nothing to evaluate"):
        value_table(["sbrt", "surgery"], ARMS)
    with pytest.raises(ConfigError, match="needs all of"):
        value_table(["sbrt", "surgery"], ARMS, time=[1.0, 2.0])
    with pytest.raises(ConfigError, match="clashes"):
        value_table(["sbrt", "surgery"], ARMS, model_name="random", true_utility=np.eye(2))


def test_comparators_are_seeded_and_complete():
    a = comparator_policies(50, ARMS, guideline=np.full(50, "sbrt"), seed=3)
    b = comparator_policies(50, ARMS, guideline=np.full(50, "sbrt"), seed=3)
    assert list(a) == ["guideline", "everyone sbrt", "everyone surgery", "random"]
    assert (a["random"] == b["random"]).all()
    assert set(a["everyone surgery"]) == {"surgery"}
