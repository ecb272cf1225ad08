"""Cox comparators checked against lifelines and scikit-survival on the real veterans trial.

Tolerances: coefficients and survival against lifelines' own fit on the same matrix 1e-8;
against lifelines on the raw (unstandardised) columns 1e-6 (two Newton runs that stop at
lifelines' default precision); Breslow hazards 1e-12.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from scipy.stats import chi2

from oncofusion.baselines._common import breslow_cumulative_hazard
from oncofusion.baselines.cox import CoxBaseline, fit_cox
from oncofusion.baselines.coxnet import CoxNetBaseline

TIMES = [30.0, 90.0, 180.0, 365.0]


@pytest.fixture(scope="module")
def cox_vet(veterans):
    return CoxBaseline(use="clinical").fit(veterans)


def test_cox_coefficients_equal_lifelines_on_the_same_matrix(cox_vet, veterans):
    X = cox_vet.features_.transform_frame(veterans)[cox_vet.fit_.features]
    df = X.reset_index(drop=True).assign(T=veterans.patients["time"], E=veterans.patients["event"])
    cph = CoxPHFitter().fit(df, "T", "E")
    np.testing.assert_allclose(cox_vet.fit_.coef, cph.params_.to_numpy(), rtol=0, atol=1e-8)
    # lifelines interpolates between its knots when given times, so compare on its own knots
    ref = cph.predict_survival_function(X.reset_index(drop=True))
    got = cox_vet.predict_survival(veterans, ref.index.to_numpy())
    np.testing.assert_allclose(got, ref.to_numpy().T, rtol=0, atol=1e-8)


def test_cox_on_raw_columns_matches_lifelines_after_unstandardising(cox_vet, veterans):
    """Karnofsky and cell type are the known prognostic factors of this trial (Kalbfleisch & Prentice)."""
    assert cox_vet.retained_ == ["karnofsky", "celltype"]
    p = veterans.patients
    raw = pd.get_dummies(
        p[["karnofsky", "celltype"]], columns=["celltype"], drop_first=True, dtype=float
    )
    cph = CoxPHFitter().fit(raw.assign(T=p["time"], E=p["event"]), "T", "E")
    sd = p["karnofsky"].std(ddof=0)
    got = dict(zip(cox_vet.fit_.features, cox_vet.fit_.coef, strict=True))
    assert got["karnofsky"] / sd == pytest.approx(cph.params_["karnofsky"], abs=1e-6)
    for lev in ("large", "smallcell", "squamous"):
        assert got[f"celltype={lev}"] == pytest.approx(cph.params_[f"celltype_{lev}"], abs=1e-6)


def test_univariable_screening_p_values(cox_vet, veterans):
    p = veterans.patients
    for var in ("age", "karnofsky", "months_from_diagnosis"):
        c1 = CoxPHFitter().fit(p[[var, "time", "event"]], "time", "event")
        assert cox_vet.screening_[var] == pytest.approx(c1.summary.loc[var, "p"], rel=1e-6)
    # a 4-level factor is tested jointly (3 df Wald test)
    d = pd.get_dummies(p[["celltype"]], drop_first=True, dtype=float)
    c3 = CoxPHFitter().fit(d.assign(T=p["time"], E=p["event"]), "T", "E")
    b, V = c3.params_.to_numpy(), c3.variance_matrix_.to_numpy()
    assert cox_vet.screening_["celltype"] == pytest.approx(
        chi2.sf(b @ np.linalg.solve(V, b), 3), rel=1e-6
    )
    assert {v for v, pv in cox_vet.screening_.items() if pv < 0.10} == set(cox_vet.retained_)


def test_no_variable_retained_gives_the_breslow_curve(veterans):
    with pytest.warns(UserWarning, match="no variable passed"):
        m = CoxBaseline(use="clinical", screen_p=1e-300).fit(veterans)
    S = m.predict_survival(veterans, TIMES)
    assert np.ptp(S, axis=0).max() == 0.0
    t, h = breslow_cumulative_hazard(
        veterans.patients["time"], veterans.patients["event"], np.zeros(len(veterans))
    )
    from oncofusion.baselines._common import step_matrix

    np.testing.assert_allclose(
        S[0], np.exp(-step_matrix(t, h[None], TIMES, before=0.0)[0]), atol=1e-12
    )


def test_breslow_equals_lifelines_and_sksurv(veterans):
    from sksurv.linear_model.coxph import BreslowEstimator

    p = veterans.patients
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cph = CoxPHFitter().fit(p[["karnofsky", "age", "time", "event"]], "time", "event")
    eta = (p[["karnofsky", "age"]] - cph._norm_mean).to_numpy() @ cph.params_.to_numpy()
    t, h = breslow_cumulative_hazard(p["time"], p["event"], eta)
    ref = cph.baseline_cumulative_hazard_.iloc[:, 0]
    np.testing.assert_allclose(h, ref.reindex(t).to_numpy(), rtol=0, atol=1e-12)
    sk = BreslowEstimator().fit(eta, p["event"].to_numpy().astype(bool), p["time"].to_numpy())
    np.testing.assert_allclose(h, sk.cum_baseline_hazard_(t), rtol=0, atol=1e-12)


def test_breslow_with_left_truncation_against_a_loop():
    rng = np.random.default_rng(3)
    n = 30
    entry = rng.uniform(0, 5, n)
    time = entry + rng.exponential(5, n)
    event = rng.random(n) < 0.7
    lp = rng.normal(size=n)
    _t, h = breslow_cumulative_hazard(time, event, lp, entry)
    expected, acc = [], 0.0
    for u in np.unique(time[event]):
        at_risk = (entry < u) & (time >= u)
        acc += (event & (time == u)).sum() / np.exp(lp[at_risk]).sum()
        expected.append(acc)
    np.testing.assert_allclose(h, expected, rtol=0, atol=1e-12)


def test_fit_cox_left_truncated_coefficients_equal_lifelines():
    rng = np.random.default_rng(5)
    n = 80
    x = rng.normal(size=n)
    entry = rng.uniform(0, 2, n)
    time = entry + rng.exponential(np.exp(-0.7 * x) * 4)
    event = rng.random(n) < 0.8
    fit, _ = fit_cox(pd.DataFrame({"x": x}), time, event, entry=entry)
    ref = CoxPHFitter().fit(
        pd.DataFrame({"x": x, "T": time, "E": event, "S": entry}), "T", "E", entry_col="S"
    )
    assert fit.coef[0] == pytest.approx(ref.params_["x"], abs=1e-8)


def test_coxnet_survival_equals_sksurv_path_at_chosen_alpha(veterans):
    from sksurv.linear_model import CoxnetSurvivalAnalysis
    from sksurv.util import Surv

    m = CoxNetBaseline(use="clinical", n_alphas=15, cv_folds=3).fit(veterans)
    X = m.features_.transform(veterans)
    assert m.alpha_ in m.alphas_ and len(m.cv_scores_) == len(m.alphas_) > 5
    p = veterans.patients
    sk = CoxnetSurvivalAnalysis(l1_ratio=0.5, n_alphas=15, fit_baseline_model=True, max_iter=100000)
    sk.fit(X, Surv.from_arrays(p["event"].to_numpy().astype(bool), p["time"].to_numpy()))
    ref = np.array([f(TIMES) for f in sk.predict_survival_function(X, alpha=m.alpha_)])
    np.testing.assert_allclose(m.predict_survival(veterans, TIMES), ref, rtol=0, atol=1e-10)
    # the CV choice is the best mean Harrell C on the training folds
    assert m.cv_scores_[m.alphas_.index(m.alpha_)] == max(m.cv_scores_)
