"""Kaplan-Meier against lifelines and scikit-survival."""

from __future__ import annotations

import numpy as np
import pytest

from oncofusion.survival.nonparametric import censoring_kaplan_meier, kaplan_meier


@pytest.mark.parametrize("seed", range(5))
def test_kaplan_meier_against_sksurv(seed):
    from sksurv.nonparametric import kaplan_meier_estimator

    rng = np.random.default_rng(seed)
    n = 200
    t = rng.integers(1, 30, n).astype(float)  # heavy ties
    e = rng.random(n) < 0.6
    km = kaplan_meier(t, e)
    ref_t, ref_s = kaplan_meier_estimator(e, t)
    np.testing.assert_allclose(km(ref_t), ref_s, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_censoring_km_against_sksurv(seed):
    from sksurv.nonparametric import CensoringDistributionEstimator
    from sksurv.util import Surv

    rng = np.random.default_rng(seed)
    n = 150
    t = rng.integers(1, 20, n).astype(float)
    e = rng.random(n) < 0.5
    y = Surv.from_arrays(e, t)
    ref = CensoringDistributionEstimator().fit(y)
    grid = np.unique(t)
    g = censoring_kaplan_meier(t, e)
    np.testing.assert_allclose(g(grid), ref.predict_proba(grid), atol=1e-12)


def test_kaplan_meier_against_lifelines_weighted():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(3)
    t = rng.exponential(5, 100).round(1) + 0.1
    e = rng.random(100) < 0.7
    w = rng.integers(1, 4, 100).astype(float)
    ref = KaplanMeierFitter().fit(t, e, weights=w)
    km = kaplan_meier(t, e, weights=w)
    grid = np.unique(t)
    np.testing.assert_allclose(km(grid), ref.survival_function_at_times(grid).to_numpy(), atol=1e-10)
    assert km.left_limit(grid[0]) == 1.0
