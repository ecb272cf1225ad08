"""Tree ensembles and XGBoost checked against their libraries run directly on the same
features (veterans trial). Tolerance 1e-12 unless stated."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.util import Surv

from oncofusion.baselines.trees import GBSABaseline, RSFBaseline
from oncofusion.baselines.xgb import XGBAFTBaseline, XGBCoxBaseline

TIMES = np.array([10.0, 30.0, 90.0, 180.0, 365.0])


def _y(cohort):
    p = cohort.patients
    return Surv.from_arrays(p["event"].to_numpy().astype(bool), p["time"].to_numpy())


def _at(fns, times):
    return np.array([f(times) for f in fns])


def test_rsf_equals_sksurv_on_same_features_and_seed(veterans):
    from sksurv.ensemble import RandomSurvivalForest

    train, test = (
        veterans.subset(veterans.patient_ids[:100]),
        veterans.subset(veterans.patient_ids[100:]),
    )
    m = RSFBaseline(use="clinical", n_estimators=15, seed=11).fit(train)
    ref = RandomSurvivalForest(
        n_estimators=15,
        min_samples_leaf=3,
        min_samples_split=6,
        max_features="sqrt",
        random_state=11,
        n_jobs=1,
    ).fit(m.features_.transform(train), _y(train))
    t = np.concatenate([TIMES, ref.unique_times_[::7]])
    t.sort()
    expected = _at(ref.predict_survival_function(m.features_.transform(test)), t)
    np.testing.assert_allclose(m.predict_survival(test, t), expected, rtol=0, atol=1e-12)
    # the same seed and data give the same forest; another seed another forest
    again = (
        RSFBaseline(use="clinical", n_estimators=15, seed=11).fit(train).predict_survival(test, t)
    )
    np.testing.assert_array_equal(again, m.predict_survival(test, t))
    other = (
        RSFBaseline(use="clinical", n_estimators=15, seed=12).fit(train).predict_survival(test, t)
    )
    assert not np.array_equal(other, again)


def test_rsf_before_first_event_time_is_one(veterans):
    m = RSFBaseline(use="clinical", n_estimators=5).fit(veterans)
    first = veterans.patients.loc[veterans.patients["event"] == 1, "time"].min()
    np.testing.assert_array_equal(m.predict_survival(veterans, [0.0, first - 0.5])[:, :], 1.0)


def test_gbsa_equals_sksurv(veterans):
    from sksurv.ensemble import GradientBoostingSurvivalAnalysis

    m = GBSABaseline(use="clinical", n_estimators=30, seed=2).fit(veterans)
    X = m.features_.transform(veterans)
    ref = GradientBoostingSurvivalAnalysis(
        loss="coxph",
        n_estimators=30,
        learning_rate=0.1,
        max_depth=3,
        min_samples_leaf=1,
        random_state=2,
    ).fit(X, _y(veterans))
    np.testing.assert_allclose(
        m.predict_survival(veterans, TIMES),
        _at(ref.predict_survival_function(X), TIMES),
        rtol=0,
        atol=1e-12,
    )


def test_xgb_cox_survival_is_breslow_on_the_booster_margin(veterans):
    import xgboost as xgb
    from sksurv.linear_model.coxph import BreslowEstimator

    m = XGBCoxBaseline(use="clinical", n_estimators=25, seed=1).fit(veterans)
    X = m.features_.transform(veterans)
    p = veterans.patients
    margin = m.model_.booster.predict(xgb.DMatrix(X), output_margin=True).astype(np.float64)
    # the booster's own (non-margin) prediction is the hazard ratio exp(margin)
    np.testing.assert_allclose(m.model_.booster.predict(xgb.DMatrix(X)), np.exp(margin), rtol=1e-6)
    br = BreslowEstimator().fit(margin, p["event"].to_numpy().astype(bool), p["time"].to_numpy())
    expected = _at(br.get_survival_function(margin), TIMES)
    np.testing.assert_allclose(m.predict_survival(veterans, TIMES), expected, rtol=0, atol=1e-12)
    # higher margin = higher risk = lower survival
    order = np.argsort(margin)
    assert (np.diff(m.predict_survival(veterans, [90.0])[order, 0]) <= 1e-15).all()


@pytest.mark.parametrize(
    ("distribution", "s_at_median"), [("normal", 0.5), ("logistic", 0.5), ("extreme", np.exp(-1))]
)
def test_xgb_aft_survival_at_the_predicted_time(veterans, distribution, s_at_median):
    """S(t) = 1 - F((log t - f(x)) / sigma): at t = exp(f(x)) it is 1 - F(0)."""
    m = XGBAFTBaseline(use="clinical", distribution=distribution, sigma=0.8, n_estimators=20).fit(
        veterans
    )
    margin = m.model_.margin(m.features_.transform(veterans))
    for i in (0, 5, 50):
        s = m.predict_survival(
            veterans.subset([veterans.patient_ids[i]]), [float(np.exp(margin[i]))]
        )
        assert s[0, 0] == pytest.approx(s_at_median, abs=1e-9)
    # the AFT model learns: predicted log-times correlate with observed event log-times
    ev = veterans.patients["event"].to_numpy() == 1
    assert np.corrcoef(margin[ev], np.log(veterans.patients["time"].to_numpy()[ev]))[0, 1] > 0.3
