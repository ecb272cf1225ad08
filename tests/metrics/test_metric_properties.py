"""Invariants every censoring-aware metric must satisfy (hypothesis property tests)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from oncofusion.errors import NoComparablePairsError, SurvivalInputError
from oncofusion.metrics import (
    bootstrap,
    brier_score,
    concordance_index,
    concordance_index_uno,
    integrated_brier_score,
    time_dependent_auc,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
pytestmark = pytest.mark.filterwarnings("ignore:C-index", "ignore:the censoring survival")


@st.composite
def survival_data(draw, min_n=2, max_n=30, unique_risk=False):
    n = draw(st.integers(min_n, max_n))
    time = draw(arrays(np.float64, n, elements=st.integers(1, 12).map(float)))
    event = draw(arrays(np.bool_, n))
    risk = draw(
        arrays(
            np.float64,
            n,
            elements=st.floats(-3, 3, allow_nan=False, width=32),
            unique=unique_risk,
        )
    )
    return time, event, risk


@SETTINGS
@given(survival_data())
def test_c_index_in_unit_interval_and_counts_add_up(data):
    time, event, risk = data
    try:
        res = concordance_index(time, event, risk)
    except NoComparablePairsError:
        assume(False)
    assert 0.0 <= res.value <= 1.0
    assert res.concordant + res.discordant + res.tied_risk == res.comparable > 0
    assert res.value == pytest.approx((res.concordant + 0.5 * res.tied_risk) / res.comparable)


@SETTINGS
@given(survival_data(unique_risk=True))
def test_reversing_untied_risk_gives_one_minus_c(data):
    time, event, risk = data
    try:
        a = concordance_index(time, event, risk, tied_tol=0.0)
    except NoComparablePairsError:
        assume(False)
    b = concordance_index(time, event, -risk, tied_tol=0.0)
    assert a.value + b.value == pytest.approx(1.0, abs=1e-12)
    assert (a.concordant, a.discordant) == (b.discordant, b.concordant)


@SETTINGS
@given(survival_data(min_n=3), st.randoms(use_true_random=False))
def test_metrics_invariant_to_permuting_patients(data, rnd):
    time, event, risk = data
    perm = np.array(rnd.sample(range(time.size), time.size))
    for fn in (concordance_index, concordance_index_uno):
        try:
            ref = fn(time, event, risk)
        except SurvivalInputError:
            continue
        res = fn(time[perm], event[perm], risk[perm])
        assert res.value == pytest.approx(ref.value, abs=1e-12)
        assert res.concordant == ref.concordant and res.tied_time == ref.tied_time
    times = np.unique(time[event])
    times = times[(times >= time.min()) & (times < time.max())][:3]
    assume(times.size > 0)
    surv = np.exp(-np.outer(np.exp(risk), times) / 10.0)
    np.testing.assert_allclose(
        brier_score(time[perm], event[perm], surv[perm], times),
        brier_score(time, event, surv, times),
        atol=1e-12,
    )
    auc = time_dependent_auc(time, event, risk, times)
    auc_p = time_dependent_auc(time[perm], event[perm], risk[perm], times)
    np.testing.assert_allclose(auc_p.auc, auc.auc, atol=1e-12)
    assert np.all((auc.auc >= 0) & (auc.auc <= 1))


@SETTINGS
@given(survival_data(min_n=3))
def test_perfect_survival_prediction_has_zero_brier(data):
    time, event, _ = data
    times = np.unique(time)[:-1][:4]
    assume(times.size > 0)
    perfect = (time[:, None] > times[None, :]).astype(float)
    np.testing.assert_allclose(brier_score(time, event, perfect, times), 0.0, atol=1e-15)
    if times.size > 1:
        assert integrated_brier_score(time, event, perfect, times) == pytest.approx(0.0)


@settings(max_examples=15, deadline=None)
@given(survival_data(min_n=8, max_n=25), st.integers(0, 2**31 - 1))
def test_bootstrap_estimate_is_the_metric_on_full_data(data, seed):
    time, event, risk = data
    try:
        full = concordance_index(time, event, risk).value
    except NoComparablePairsError:
        assume(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = bootstrap(concordance_index, time, event, risk, n_resamples=20, seed=seed)
        except SurvivalInputError:  # every resample undefined (tiny data)
            assume(False)
    assert res.estimate == full
    assert res.resamples.shape[0] + res.n_failed == 20
    assert np.all((res.resamples >= 0) & (res.resamples <= 1))
