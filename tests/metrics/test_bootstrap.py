"""Bootstrap: the vectorised case-weight path equals calling the metric on each resample."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _survival_cases import make_case, make_train

from oncofusion.errors import SurvivalInputError, UnknownOptionError
from oncofusion.metrics import (
    bootstrap,
    brier_score,
    concordance_index,
    concordance_index_uno,
    integrated_brier_score,
    paired_bootstrap,
    time_dependent_auc,
)
from oncofusion.metrics.resampling import _acceleration, _interval


def _data(seed: int = 0, n: int = 40, name: str = "heavy_time_ties"):
    t, e, r = make_case(name, seed, n=n)
    times = np.unique(np.quantile(t[e], [0.3, 0.5, 0.7]))
    surv = np.exp(-np.outer(np.exp(0.7 * r), times) / 10.0)
    return t, e, r, times, surv


def _cases():
    t, _, r, times, surv = _data()
    tt, te = make_train(0, n=120, scale=40.0)
    r2 = r[:, None] + np.linspace(0, 1, times.size)[None, :]
    tau = float(np.quantile(t, 0.8))
    return {
        "harrell": (concordance_index, (r,), {}, None),
        "harrell_counts": (concordance_index, (r,), {}, lambda res: res.concordant),
        "uno_self": (concordance_index_uno, (r,), {"tau": tau}, None),
        "uno_train": (concordance_index_uno, (r,), {"tau": tau, "train_time": tt,
                                                    "train_event": te}, None),
        "auc_mean": (time_dependent_auc, (r,), {"times": times}, None),
        "auc_per_time_2d": (time_dependent_auc, (r2,), {"times": times}, lambda res: res.auc),
        "auc_train": (time_dependent_auc, (r,), {"times": times, "train_time": tt,
                                                 "train_event": te}, None),
        "brier": (brier_score, (surv,), {"times": times}, None),
        "brier_train": (brier_score, (surv,), {"times": times, "train_time": tt,
                                               "train_event": te}, None),
        "ibs": (integrated_brier_score, (surv,), {"times": times}, None),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_cases()))
def test_vectorised_equals_loop_over_resamples(case):
    fn, preds, kw, stat = _cases()[case]
    t, e = _data()[:2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = bootstrap(fn, t, e, *preds, n_resamples=60, statistic=stat, seed=3, **kw)
        slow = bootstrap(
            fn, t, e, *preds, n_resamples=60, statistic=stat, seed=3, vectorised=False, **kw
        )
    assert fast.n_failed == slow.n_failed
    np.testing.assert_allclose(fast.resamples, slow.resamples, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.low, slow.low, atol=1e-12)
    np.testing.assert_allclose(fast.high, slow.high, atol=1e-12)
    full = fn(t, e, *preds, **kw)
    expected = (stat or (lambda r: r if isinstance(r, np.ndarray) else float(r)))(full)
    np.testing.assert_array_equal(fast.estimate, expected)
    assert np.all(np.asarray(fast.low) <= np.asarray(fast.high))


@pytest.mark.parametrize(
    "fn", [concordance_index, concordance_index_uno, time_dependent_auc, brier_score]
)
def test_undefined_resamples_dropped_identically(fn):
    # 12 patients, 3 events: some resamples have no event, no case at a time point, or miss
    # the follow-up range; both paths must drop exactly the same ones.
    t, e, r = make_case("continuous", 11, n=12)
    e[:] = False
    e[np.argsort(t)[[1, 3, 5]]] = True
    times = [float(np.sort(t)[1])]
    pred = np.exp(-np.exp(r) * times[0] / 10.0)[:, None] if fn is brier_score else r
    kw = {"times": times} if fn in (time_dependent_auc, brier_score) else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = bootstrap(fn, t, e, pred, n_resamples=200, seed=1, **kw)
        slow = bootstrap(fn, t, e, pred, n_resamples=200, seed=1, vectorised=False, **kw)
    assert fast.n_failed == slow.n_failed > 0
    np.testing.assert_allclose(fast.resamples, slow.resamples, atol=1e-12)


def test_failed_resamples_warn_once():
    t, e, r = make_case("continuous", 11, n=12)
    e[:] = False
    e[np.argmin(t)] = True
    with pytest.warns(UserWarning, match="resamples gave an undefined concordance_index"):
        res = bootstrap(concordance_index, t, e, r, n_resamples=100)
    assert 0 < res.n_failed < 100
    assert res.resamples.shape == (100 - res.n_failed,)


def test_same_seed_same_resamples_and_estimate_is_full_data_metric():
    t, e, r, _, _ = _data(2)
    a = bootstrap(concordance_index, t, e, r, n_resamples=50, seed=7)
    b = bootstrap(concordance_index, t, e, r, n_resamples=50, seed=7)
    c = bootstrap(concordance_index, t, e, r, n_resamples=50, seed=8)
    np.testing.assert_array_equal(a.resamples, b.resamples)
    assert not np.array_equal(a.resamples, c.resamples)
    assert a.estimate == concordance_index(t, e, r).value


def test_paired_bootstrap_uses_the_same_resamples():
    t, e, r, times, _ = _data(3)
    noisy = r + np.random.default_rng(0).normal(size=r.size)
    res = paired_bootstrap(concordance_index, t, e, r, noisy, n_resamples=80, seed=5)
    a = bootstrap(concordance_index, t, e, r, n_resamples=80, seed=5)
    b = bootstrap(concordance_index, t, e, noisy, n_resamples=80, seed=5)
    np.testing.assert_allclose(res.resamples, a.resamples - b.resamples, atol=1e-15)
    assert res.diff == pytest.approx(a.estimate - b.estimate, abs=1e-15)
    assert res.low <= res.diff <= res.high
    assert 0 < res.p_value <= 1
    same = paired_bootstrap(time_dependent_auc, t, e, r, r, n_resamples=30, times=times)
    assert same.diff == 0.0 and same.low == same.high == 0.0 and same.p_value == 1.0
    per_time = paired_bootstrap(
        brier_score, t, e, *_data(3)[4:], _data(3)[4] ** 2, n_resamples=30, times=times
    )
    assert per_time.diff.shape == per_time.p_value.shape == (times.size,)


def test_generic_metric_resamples_positional_predictions():
    t, e, r, _, _ = _data(4)

    def mean_risk_of_events(time, event, risk):
        return float(np.mean(risk[event]))

    res = bootstrap(mean_risk_of_events, t, e, r, n_resamples=200, seed=0)
    assert res.estimate == pytest.approx(float(np.mean(r[e])))
    assert res.low < res.estimate < res.high


def test_bca_acceleration_of_the_mean_has_closed_form():
    # Jackknife values of the mean are (n*xbar - x_i)/(n - 1), so
    # a = sum (x_i - xbar)^3 / (6 [sum (x_i - xbar)^2]^(3/2)) (Efron & Tibshirani 1993, 14.15).
    x = np.random.default_rng(1).exponential(size=30)
    jack = (x.sum() - x) / (x.size - 1)
    d = x - x.mean()
    expected = (d**3).sum() / (6 * (d**2).sum() ** 1.5)
    assert float(_acceleration(jack)) == pytest.approx(expected, rel=1e-12)


def test_bca_without_bias_or_acceleration_is_the_percentile_interval():
    reps = np.r_[-np.arange(1.0, 500.0), np.arange(1.0, 500.0)]  # symmetric around 0
    pct = _interval(0.0, reps, 0.9, "percentile", None)
    bca = _interval(0.0, reps, 0.9, "bca", np.array(0.0))
    assert bca == pytest.approx(pct, abs=1e-12)
    shifted = _interval(0.0, reps + 50.0, 0.9, "bca", np.array(0.0))  # bias moves it down
    assert shifted[0] < pct[0] + 50 and shifted[1] < pct[1] + 50


def test_bca_runs_on_core_metrics_and_brackets_the_estimate():
    t, e, r, times, surv = _data(5, n=60, name="continuous")
    res = bootstrap(concordance_index, t, e, r, n_resamples=300, method="bca", seed=2)
    assert res.low < res.estimate < res.high
    res = bootstrap(brier_score, t, e, surv, n_resamples=300, method="bca", times=times)
    assert np.all(res.low < res.estimate) and np.all(res.estimate < res.high)


def test_option_errors():
    t, e, r, _, _ = _data(6)
    with pytest.raises(UnknownOptionError, match="percentile"):
        bootstrap(concordance_index, t, e, r, method="student")
    with pytest.raises(SurvivalInputError, match="'ci'"):
        bootstrap(concordance_index, t, e, r, ci=95)
    with pytest.raises(SurvivalInputError, match="'n_resamples'"):
        bootstrap(concordance_index, t, e, r, n_resamples=1)


def test_all_resamples_undefined_raises():
    t = np.arange(1.0, 9.0)

    def needs_distinct_patients(time, event, risk):
        if np.unique(time).size < time.size:
            raise SurvivalInputError("duplicates")
        return 0.5

    with pytest.raises(SurvivalInputError, match="every bootstrap resample"):
        bootstrap(needs_distinct_patients, t, np.ones(8), t, n_resamples=20)
