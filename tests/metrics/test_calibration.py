"""Calibration at a horizon: tables, slope/intercept, ICI, goodness-of-fit tests.

References: lifelines (Kaplan-Meier with its log(-log) Greenwood interval, CoxPHFitter with
Efron ties), a brute-force leave-one-out Kaplan-Meier for the pseudo-values, R's
``ResourceSelection::hoslem.test`` on ``mtcars``, hand computations, and simulation
properties (a model drawn from the truth versus a mis-specified one).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._cox import fit_cox, rcs_basis, rcs_knots
from oncofusion.metrics._pseudo import km_pseudo_values
from oncofusion.metrics.calibration import (
    absolute_calibration_error,
    calibration_slope_intercept,
    calibration_table,
    d_calibration,
    dagostino_nam,
    hosmer_lemeshow,
    ici,
    smoothed_observed_risk,
)

HORIZON = 5.0


def simulate(n: int, seed: int, base: float = 0.1, cens_max: float = 20.0):
    """Exponential survival with hazard ``base * exp(x)``, uniform censoring."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    lam = base * np.exp(x)
    event_time = rng.exponential(1.0 / lam)
    cens = rng.uniform(0.0, cens_max, n)
    return np.minimum(event_time, cens), event_time <= cens, x, lam


def risk_at(lam: np.ndarray, horizon: float = HORIZON) -> np.ndarray:
    return -np.expm1(-lam * horizon)


# ---------------------------------------------------------------- calibration table


def test_calibration_table_against_lifelines_km_per_group():
    from lifelines import KaplanMeierFitter

    t, e, _, lam = simulate(600, seed=1)
    p = risk_at(lam)
    tab = calibration_table(t, e, p, HORIZON, n_groups=5)
    groups = pd.cut(
        p, np.unique(np.quantile(p, np.linspace(0, 1, 6))), include_lowest=True, labels=False
    )
    assert tab["n"].tolist() == np.bincount(groups).tolist()
    for k, row in tab.iterrows():
        m = groups == k
        kmf = KaplanMeierFitter().fit(t[m], e[m])
        s = float(kmf.survival_function_at_times(HORIZON).iloc[0])
        ci_at = kmf.confidence_interval_.loc[:HORIZON].iloc[-1]
        assert row["observed"] == pytest.approx(1 - s, abs=1e-12)
        assert row["observed_low"] == pytest.approx(1 - ci_at.iloc[1], abs=1e-10)
        assert row["observed_high"] == pytest.approx(1 - ci_at.iloc[0], abs=1e-10)
        assert row["predicted"] == pytest.approx(p[m].mean())
        assert row["n_events"] == int(np.sum(e[m] & (t[m] <= HORIZON)))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(12, 80),
    n_groups=st.integers(2, 10),
    seed=st.integers(0, 10_000),
    strategy=st.sampled_from(["quantile", "uniform"]),
)
def test_calibration_table_properties(n, n_groups, seed, strategy):
    rng = np.random.default_rng(seed)
    t = rng.integers(1, 10, n).astype(float)
    t[0] = 10.0  # someone followed to the horizon
    e = rng.random(n) < 0.6
    p = np.round(rng.random(n), 1)  # ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        tab = calibration_table(t, e, p, 6.0, n_groups=n_groups, strategy=strategy)
    assert tab["n"].sum() == n
    assert len(tab) <= n_groups
    assert np.all(np.diff(tab["predicted"]) > 0)  # groups ordered by predicted risk
    assert np.all(
        (tab["observed_low"] <= tab["observed"]) & (tab["observed"] <= tab["observed_high"])
    )
    assert np.all(
        (tab[["observed_low", "observed_high"]] >= 0)
        & (tab[["observed_low", "observed_high"]] <= 1)
    )


def test_calibration_table_group_without_events_warns_with_exact_bound():
    # ids a-d low risk, never an event; e-h high risk, all events before the horizon
    t = np.array([6.0, 7.0, 8.0, 9.0, 1.0, 2.0, 3.0, 4.0])
    e = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9])
    with pytest.warns(UserWarning, match="observed risk of 0 or 1"):
        tab = calibration_table(t, e, p, 5.0, n_groups=2)
    assert tab["observed"].tolist() == [0.0, 1.0]
    # 0 events among the 4 patients followed to t=5: Clopper-Pearson upper 1 - 0.025**(1/4)
    assert tab.loc[0, "observed_high"] == pytest.approx(1 - 0.025**0.25)
    assert tab.loc[1, "observed_low"] == pytest.approx(0.025**0.25)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 50.0}, "past the longest follow-up"),
        ({"horizon": -1.0}, "> 0"),
        ({"risk_at_horizon": np.full(5, 1.5)}, r"probability in \[0, 1\]"),
        ({"n_groups": 6}, "exceeds the number of samples"),
        ({"strategy": "deciles"}, "'strategy'"),
    ],
)
def test_calibration_table_rejects_bad_input(kwargs, match):
    args = {
        "time": np.array([1.0, 2.0, 3.0, 4.0, 5.0]),
        "event": np.array([1, 0, 1, 0, 1]),
        "risk_at_horizon": np.linspace(0.1, 0.5, 5),
        "horizon": 3.0,
        "n_groups": 2,
    }
    args.update(kwargs)
    with pytest.raises(SurvivalInputError, match=match):
        calibration_table(**args)


# ---------------------------------------------------------------- slope and intercept


def test_pseudo_values_against_brute_force_leave_one_out():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(7)
    t = rng.integers(1, 8, 40).astype(float)  # ties between events and censorings
    e = rng.random(40) < 0.6
    n = len(t)

    def km_risk(tt, ee):
        return 1.0 - float(KaplanMeierFitter().fit(tt, ee).survival_function_at_times(4.0).iloc[0])

    ref = np.array(
        [n * km_risk(t, e) - (n - 1) * km_risk(np.delete(t, i), np.delete(e, i)) for i in range(n)]
    )
    np.testing.assert_allclose(km_pseudo_values(t, e, 4.0), ref, atol=1e-10)


def test_slope_intercept_of_a_perfectly_calibrated_model():
    t, e, _, lam = simulate(4000, seed=2)
    res = calibration_slope_intercept(t, e, risk_at(lam), HORIZON)
    # Monte-Carlo error: SE is about 0.035 (slope) and 0.03 (intercept) at n = 4000
    assert abs(res.slope - 1.0) < 3 * res.slope_se
    assert abs(res.intercept) < 3 * res.intercept_se
    assert 0.02 < res.slope_se < 0.06


def test_slope_of_a_model_with_doubled_log_hazard_is_one_half():
    t, e, x, _ = simulate(4000, seed=3)
    # predicted cloglog = log(0.1 h) + 2x, truth = log(0.1 h) + x = 0.5 * predicted + 0.5 log(0.1 h)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # some predicted risks round to 1
        res = calibration_slope_intercept(t, e, risk_at(0.1 * np.exp(2 * x)), HORIZON)
    assert res.slope < 1.0
    assert res.slope == pytest.approx(0.5, abs=0.06)
    assert res.intercept == pytest.approx(0.5 * np.log(0.1 * HORIZON), abs=0.1)


def test_intercept_detects_underestimated_risk():
    t, e, _, lam = simulate(4000, seed=4)
    res = calibration_slope_intercept(t, e, risk_at(lam / 2), HORIZON)  # hazard halved
    assert res.slope == pytest.approx(1.0, abs=0.1)
    assert res.intercept == pytest.approx(np.log(2.0), abs=0.1)


def test_slope_intercept_degenerate_inputs_raise():
    t = np.array([6.0, 7.0, 8.0, 9.0])
    with pytest.raises(SurvivalInputError, match="no event happens by horizon"):
        calibration_slope_intercept(t, np.array([1, 1, 0, 0]), np.full(4, 0.2), 5.0)
    with pytest.raises(SurvivalInputError, match="same for every patient"):
        calibration_slope_intercept(
            np.array([1.0, 2, 8, 9]), np.array([1, 1, 0, 0]), np.full(4, 0.2), 5.0
        )


# ---------------------------------------------------------------- Cox smoother, ICI


def test_cox_fit_against_lifelines_efron_with_ties():
    from lifelines import CoxPHFitter

    t, e, x, _ = simulate(300, seed=5)
    t = np.ceil(t)  # heavy ties
    X = rcs_basis(x, rcs_knots(x, 4))
    fit = fit_cox(t, e, X)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]).assign(T=t, E=e)
    ref = CoxPHFitter().fit(df, "T", "E", fit_options={"precision": 1e-12})
    assert fit.converged
    # the spline terms are strongly correlated: the optimum is flat to ~1e-6 in beta
    np.testing.assert_allclose(fit.beta, ref.params_.to_numpy(), rtol=1e-5, atol=1e-6)


def test_smoothed_observed_risk_against_lifelines_cox_on_splines():
    from lifelines import CoxPHFitter

    t, e, _, lam = simulate(500, seed=6)
    p = risk_at(lam * np.exp(0.3 * np.random.default_rng(0).normal(size=500)))
    cll = np.log(-np.log1p(-p))
    X = rcs_basis(cll, rcs_knots(cll, 3))
    df = pd.DataFrame(X, columns=["c0", "c1"]).assign(
        T=np.minimum(t, HORIZON), E=e & (t <= HORIZON)
    )
    ref = CoxPHFitter().fit(df, "T", "E")
    expected = 1.0 - ref.predict_survival_function(df, times=[HORIZON]).to_numpy().ravel()
    np.testing.assert_allclose(smoothed_observed_risk(t, e, p, HORIZON), expected, atol=1e-7)


def test_restricted_cubic_spline_is_linear_beyond_the_outer_knots():
    knots = np.array([0.0, 1.0, 2.5, 4.0])
    x = np.array([4.0, 5.0, 6.0, 7.0, -3.0, -2.0, -1.0, 0.0])
    B = rcs_basis(x, knots)
    # second differences vanish right of the last knot and left of the first
    np.testing.assert_allclose(np.diff(B[:4], n=2, axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(B[4:, 1:], 0.0, atol=1e-12)


def test_ici_small_for_true_model_and_close_to_true_error_for_wrong_one():
    t, e, x, lam = simulate(4000, seed=8)
    good = ici(t, e, risk_at(lam), HORIZON)
    assert good.ici < 0.015
    assert good.e50 <= good.e90 <= good.emax
    wrong_pred = risk_at(0.1 * np.exp(1.6 * x))
    true_ici = float(np.mean(np.abs(wrong_pred - risk_at(lam))))
    with pytest.warns(UserWarning, match="clipped"):  # some predictions round to 1.0
        bad = ici(t, e, wrong_pred, HORIZON, n_knots=4)
    assert bad.ici == pytest.approx(true_ici, abs=0.02)
    assert bad.ici > 5 * good.ici


def test_absolute_calibration_error_is_the_distribution_of_ici_errors():
    t, e, x, _ = simulate(800, seed=9)
    p = risk_at(0.12 * np.exp(0.8 * x))
    ace = absolute_calibration_error(t, e, p, HORIZON)
    err = np.abs(p - smoothed_observed_risk(t, e, p, HORIZON))
    assert ace.median == pytest.approx(ici(t, e, p, HORIZON).e50)
    assert (ace.q25, ace.median, ace.q75) == pytest.approx(
        tuple(np.quantile(err, [0.25, 0.5, 0.75]))
    )
    assert ace.q25 <= ace.median <= ace.q75


# ---------------------------------------------------------------- Hosmer-Lemeshow

# mtcars (R datasets): vs, wt, disp
MTCARS_WT = [2.620, 2.875, 2.320, 3.215, 3.440, 3.460, 3.570, 3.190, 3.150, 3.440, 3.440, 4.070,
             3.730, 3.780, 5.250, 5.424, 5.345, 2.200, 1.615, 1.835, 2.465, 3.520, 3.435, 3.840,
             3.845, 1.935, 2.140, 1.513, 3.170, 2.770, 3.570, 2.780]  # fmt: skip
MTCARS_DISP = [160, 160, 108, 258, 360, 225, 360, 146.7, 140.8, 167.6, 167.6, 275.8, 275.8, 275.8,
               472, 460, 440, 78.7, 75.7, 71.1, 120.1, 318, 304, 350, 400, 79, 120.3, 95.1, 351,
               145, 301, 121]  # fmt: skip
MTCARS_VS = [0, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1,
             0, 0, 0, 1]  # fmt: skip


def test_hosmer_lemeshow_against_R_mtcars():
    from scipy import optimize

    X = np.column_stack([np.ones(32), MTCARS_WT, MTCARS_DISP])
    y = np.array(MTCARS_VS, dtype=float)

    def nll(b):
        eta = X @ b
        return np.sum(np.logaddexp(0, eta) - y * eta)

    fit = optimize.minimize(nll, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    # R: glm(vs ~ wt + disp, family = binomial, data = mtcars): residual deviance 21.40
    assert 2 * fit.fun == pytest.approx(21.40, abs=0.005)
    prob = 1 / (1 + np.exp(-X @ fit.x))
    # R: ResourceSelection::hoslem.test(mtcars$vs, fitted(model))
    #    X-squared = 6.4717, df = 8, p-value = 0.5945
    res = hosmer_lemeshow(y, prob)
    assert res.statistic == pytest.approx(6.4717, abs=5e-4)
    assert res.df == 8
    assert res.p_value == pytest.approx(0.5945, abs=5e-4)


def test_hosmer_lemeshow_by_hand():
    # ids 1-3 in group 0 (p = 0.1, 0.2, 0.3), ids 4-6 in group 1, ids 7-9 in group 2
    prob = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    y = np.array([0, 1, 0, 0, 0, 1, 1, 1, 1])
    # group 0: O=1, E=0.6, n=3 -> 0.16 / (0.6 * 0.8) ; group 1: O=1, E=1.5 -> 0.25 / (1.5 * 0.5)
    # group 2: O=3, E=2.4 -> 0.36 / (2.4 * 0.2)
    expected = 0.16 / 0.48 + 0.25 / 0.75 + 0.36 / 0.48
    res = hosmer_lemeshow(y, prob, n_groups=3)
    assert res.statistic == pytest.approx(expected)
    assert res.df == 1
    with pytest.raises(SurvivalInputError, match="0/1"):
        hosmer_lemeshow(np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]), n_groups=3)


# ---------------------------------------------------------------- D'Agostino-Nam


@pytest.mark.parametrize("variance", ["binomial", "greenwood"])
def test_dagostino_nam_by_hand_with_lifelines_km(variance):
    from lifelines import KaplanMeierFitter

    t, e, _, lam = simulate(500, seed=10)
    p = risk_at(lam)
    res = dagostino_nam(t, e, p, HORIZON, n_groups=4, variance=variance)
    groups = pd.cut(
        p, np.unique(np.quantile(p, np.linspace(0, 1, 5))), include_lowest=True, labels=False
    )
    stat = 0.0
    for k in range(4):
        m = groups == k
        kmf = KaplanMeierFitter().fit(t[m], e[m])
        s = float(kmf.survival_function_at_times(HORIZON).iloc[0])
        f_bar = p[m].mean()
        if variance == "binomial":
            v = f_bar * (1 - f_bar) / m.sum()
        else:
            tab = kmf.event_table.loc[:HORIZON]
            d, n_r = tab["observed"].to_numpy(), tab["at_risk"].to_numpy()
            v = s**2 * np.sum(d / (n_r * (n_r - d)))
        stat += (1 - s - f_bar) ** 2 / v
    assert res.statistic == pytest.approx(stat, rel=1e-10)
    assert res.df == 3


def test_dagostino_nam_separates_true_and_wrong_models():
    t, e, x, lam = simulate(3000, seed=11)
    good = dagostino_nam(t, e, risk_at(lam), HORIZON)
    bad = dagostino_nam(t, e, risk_at(0.1 * np.exp(1.5 * x)), HORIZON)
    assert good.p_value > 0.01
    assert bad.p_value < 1e-6


def test_dagostino_nam_warns_on_groups_with_few_events():
    t, e, _, lam = simulate(60, seed=12, base=0.02)
    with pytest.warns(UserWarning, match="fewer than 5 events"):
        dagostino_nam(t, e, risk_at(0.02 * lam / 0.1), HORIZON, n_groups=10)


# ---------------------------------------------------------------- D-calibration


def test_d_calibration_counts_by_hand():
    # id "ev": event with S(T) = 0.6 -> bin 2 of 4 ([0.5, 0.75)).
    # id "cens": censored with S(C) = 0.3 -> spread on [0, 0.3]: bin 1 gets 0.05/0.3,
    # bin 0 gets 0.25/0.3.  id "ev0": event with S(T) = 0.0 -> bin 0.
    surv_at = {0: 0.6, 1: 0.3, 2: 0.0}
    time = np.array([1.0, 2.0, 3.0])
    event = np.array([1, 0, 1])
    res = d_calibration(time, event, lambda t: np.array([surv_at[i] for i in range(3)]), n_bins=4)
    expected = np.array([0.25 / 0.3 + 1.0, 0.05 / 0.3, 1.0, 0.0])
    np.testing.assert_allclose(res.bin_counts, expected)
    assert res.bin_counts.sum() == pytest.approx(3.0)
    assert res.statistic == pytest.approx(np.sum((expected - 0.75) ** 2 / 0.75))
    assert res.df == 3


def test_d_calibration_matrix_interpolation_by_hand():
    times = np.array([1.0, 2.0])
    surv = np.array([[0.8, 0.4], [0.9, 0.7]])
    # patient 0: event at 1.5 -> linear S = 0.6 (bin 6 of 10); step S = 0.8 (bin 8)
    # patient 1: event at 0.5 -> linear between (0, 1) and (1, 0.9): 0.95 (bin 9)
    t, e = np.array([1.5, 0.5]), np.array([1, 1])
    lin = d_calibration(t, e, surv, times)
    step = d_calibration(t, e, surv, times, interpolation="step")
    assert np.flatnonzero(lin.bin_counts).tolist() == [6, 9]
    assert np.flatnonzero(step.bin_counts).tolist() == [8, 9]


def test_d_calibration_true_model_passes_wrong_model_fails():
    t, e, x, lam = simulate(3000, seed=13)
    grid = np.linspace(0.05, 25.0, 500)
    good = d_calibration(t, e, np.exp(-np.outer(lam, grid)), grid)
    bad = d_calibration(t, e, np.exp(-np.outer(0.1 * np.exp(2 * x), grid)), grid)
    assert good.p_value > 0.05
    assert bad.p_value < 1e-6


def test_d_calibration_warns_past_grid_and_rejects_bad_shape():
    t, e = np.array([1.0, 5.0]), np.array([1, 0])
    with pytest.warns(UserWarning, match="exceed the last grid time"):
        d_calibration(t, e, np.array([[0.9, 0.5], [0.8, 0.6]]), np.array([1.0, 2.0]))
    with pytest.raises(SurvivalInputError, match="shape"):
        d_calibration(t, e, np.ones((3, 2)), np.array([1.0, 2.0]))


# ---------------------------------------------------------------- use with the bootstrap


def test_results_work_with_the_patient_bootstrap_and_package_namespace():
    from oncofusion import metrics

    t, e, _, lam = simulate(200, seed=14)
    p = risk_at(lam)
    res = metrics.ici(t, e, p, HORIZON)
    assert float(res) == res.ici
    assert float(metrics.calibration_slope_intercept(t, e, p, HORIZON)) == pytest.approx(
        calibration_slope_intercept(t, e, p, HORIZON).slope
    )
    boot = metrics.bootstrap(metrics.ici, t, e, p, horizon=HORIZON, n_resamples=40, seed=0)
    assert boot.estimate == pytest.approx(res.ici)
    assert 0.0 <= boot.low <= boot.high
