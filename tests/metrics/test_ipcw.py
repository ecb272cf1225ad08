"""IPCW helpers: the censoring survival G and row-wise (weighted) Kaplan-Meier."""

from __future__ import annotations

import numpy as np
import pytest

from oncofusion import metrics
from oncofusion.errors import SurvivalInputError
from oncofusion.metrics.ipcw import censoring_survival, kaplan_meier_rows, rows_at
from oncofusion.survival.nonparametric import kaplan_meier


@pytest.mark.parametrize("reverse", [False, True])
def test_weight_rows_equal_kaplan_meier_of_repeated_data(reverse):
    rng = np.random.default_rng(0)
    t = rng.integers(1, 15, 40).astype(float)
    e = rng.random(40) < 0.6
    w = rng.integers(0, 3, (6, 40)).astype(float)
    uniq, s = kaplan_meier_rows(t, e, w, reverse=reverse)
    grid = np.r_[0.5, uniq, uniq + 0.5]
    got = rows_at(uniq, s, grid)
    for b in range(w.shape[0]):
        idx = np.repeat(np.arange(40), w[b].astype(int))
        ref = kaplan_meier(t[idx], e[idx], reverse=reverse)
        np.testing.assert_allclose(got[b], ref(grid), atol=1e-12)


def test_censoring_survival_against_sksurv_and_follow_up_rule():
    from sksurv.nonparametric import CensoringDistributionEstimator
    from sksurv.util import Surv

    rng = np.random.default_rng(1)
    t = rng.integers(1, 20, 80).astype(float)
    e = rng.random(80) < 0.5
    t[np.argmax(t)] += 1.0
    e[np.argmax(t)] = True  # last time an event: G > 0 there, unknown after it
    g = censoring_survival(t, e, None)
    ref = CensoringDistributionEstimator().fit(Surv.from_arrays(e, t))
    grid = np.unique(t)
    np.testing.assert_allclose(g.at(grid, what="t", fix="x"), ref.predict_proba(grid), atol=1e-12)
    with pytest.raises(SurvivalInputError, match="beyond the last follow-up time .* Fix: shorten"):
        g.at(np.array([t.max() + 1]), what="time point", fix="shorten")


def test_package_exports_core_and_optional_metrics():
    for name in ("concordance_index", "time_dependent_auc", "brier_score", "bootstrap"):
        assert callable(getattr(metrics, name))
    assert set(metrics.__all__) <= set(dir(metrics))
    with pytest.raises(AttributeError):
        metrics.not_a_metric  # noqa: B018
