"""Brier score and integrated Brier score against scikit-survival."""

from __future__ import annotations

import numpy as np
import pytest
from _survival_cases import CASE_NAMES, make_case, make_train

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics import brier_score, integrated_brier_score

TOL = 1e-9


def _sk(train_t, train_e, t, e, surv, times):
    from sksurv.metrics import brier_score as sk_brier
    from sksurv.metrics import integrated_brier_score as sk_ibs
    from sksurv.util import Surv

    y_train, y_test = Surv.from_arrays(train_e, train_t), Surv.from_arrays(e, t)
    bs = sk_brier(y_train, y_test, surv, times)[1]
    ibs = sk_ibs(y_train, y_test, surv, times) if len(times) > 1 else None
    return bs, ibs


def _surv(risk: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Exponential survival curves, non-increasing in time."""
    return np.exp(-np.outer(np.exp(0.7 * risk), times) / 10.0)


def _grid(t, k=5):
    return np.unique(np.quantile(t, np.linspace(0.05, 0.8, k)))


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_against_sksurv_self_reference(name, seed):
    t, e, r = make_case(name, seed)
    times = _grid(t)
    surv = _surv(r, times)
    bs_ref, ibs_ref = _sk(t, e, t, e, surv, times)
    np.testing.assert_allclose(brier_score(t, e, surv, times), bs_ref, rtol=0, atol=TOL)
    if ibs_ref is not None:
        assert integrated_brier_score(t, e, surv, times) == pytest.approx(ibs_ref, abs=TOL)


@pytest.mark.parametrize("seed", range(4))
def test_against_sksurv_with_train(seed):
    t, e, r = make_case("heavy_time_ties", seed)
    tt, te = make_train(seed, n=200, scale=40.0)
    keep = t < tt.max()  # scikit-survival needs every test time inside the train follow-up
    t, e, r = t[keep], e[keep], r[keep]
    times = _grid(t)
    surv = _surv(r, times)
    bs_ref, ibs_ref = _sk(tt, te, t, e, surv, times)
    np.testing.assert_allclose(brier_score(t, e, surv, times, tt, te), bs_ref, atol=TOL)
    assert integrated_brier_score(t, e, surv, times, tt, te) == pytest.approx(ibs_ref, abs=TOL)


def test_gbsg2_against_sksurv_documented_values():
    # scikit-survival's brier_score / integrated_brier_score docstring examples:
    # Cox (Efron) on GBSG2, BS(1825 days) = 0.20881843 and IBS over 365..1825 = 0.1816.
    from sksurv.datasets import load_gbsg2
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.preprocessing import OneHotEncoder

    x, y = load_gbsg2()
    x["tgrade"] = x.loc[:, "tgrade"].astype(str).map(len).astype(int)
    xt = OneHotEncoder().fit_transform(x)
    est = CoxPHSurvivalAnalysis(ties="efron").fit(xt, y)
    t, e = y["time"].astype(float), y["cens"]
    fns = est.predict_survival_function(xt)
    at_5y = np.array([fn(1825.0) for fn in fns])
    assert brier_score(t, e, at_5y, [1825.0])[0] == pytest.approx(0.20881843, abs=1e-8)
    times = np.arange(365.0, 1826.0, 5.0)
    surv = np.stack([fn(times) for fn in fns])
    assert integrated_brier_score(t, e, surv, times) == pytest.approx(
        _sk(t, e, t, e, surv, times)[1], abs=TOL
    )
    times = np.arange(365.0, 1826.0)
    surv = np.stack([fn(times) for fn in fns])
    assert round(integrated_brier_score(t, e, surv, times), 4) == 0.1816


def test_perfect_prediction_scores_zero():
    t, e, _ = make_case("heavy_time_ties", 5)
    times = _grid(t)
    perfect = (t[:, None] > times[None, :]).astype(float)  # S = 1 until the event, then 0
    np.testing.assert_allclose(brier_score(t, e, perfect, times), 0.0, atol=1e-15)
    assert integrated_brier_score(t, e, perfect, times) == pytest.approx(0.0, abs=1e-15)


def test_one_time_point_accepts_1d_surv():
    t, e, r = make_case("continuous", 6)
    times = [float(np.median(t))]
    s = _surv(r, np.asarray(times))
    np.testing.assert_allclose(brier_score(t, e, s[:, 0], times), brier_score(t, e, s, times))


def test_errors_name_the_rule():
    t, e, r = make_case("continuous", 7)
    times = _grid(t, 3)
    s = _surv(r, times)
    with pytest.raises(SurvivalInputError, match=r"survival probabilities in \[0, 1\]"):
        brier_score(t, e, s + 0.5, times)
    with pytest.raises(SurvivalInputError, match="non-increasing across 'times'"):
        brier_score(t, e, 1 - s, times)  # cumulative risk passed as surv
    with pytest.raises(SurvivalInputError, match="shape"):
        brier_score(t, e, s[:, :2], times)
    with pytest.raises(SurvivalInputError, match="is 1-D but there are 3 time points"):
        brier_score(t, e, s[:, 0], times)
    with pytest.raises(SurvivalInputError, match="at least two time points"):
        integrated_brier_score(t, e, s[:, 0], times[:1])
    with pytest.raises(SurvivalInputError, match="within the follow-up"):
        brier_score(t, e, s[:, 0], [t.max() + 1])
    with pytest.raises(SurvivalInputError, match="'train_time' is missing"):
        brier_score(t, e, s, times, train_event=e)


def test_zero_censoring_survival_warns():
    # Training follow-up ends in a censoring at 'cut', so G(cut) = 0: controls at 'cut' get
    # weight 0 (scikit-survival's convention), and we say so.
    t, e, r = make_case("continuous", 8)
    cut = float(np.quantile(t, 0.5))
    tt, te = np.r_[t[t < cut], cut], np.r_[e[t < cut], False]
    with pytest.warns(UserWarning, match="weight 0"):
        brier_score(t, e, _surv(r, np.array([cut]))[:, 0], [cut], tt, te)
