"""Thresholds at a horizon: outcome under censoring, Youden, accuracy measures with CIs.

References: Newcombe (1998) Table I and scipy's ``binomtest(...).proportion_ci('wilson')``
for Wilson intervals; the epiR ``epi.tests`` documentation example (Scott et al. 2008) for
the likelihood-ratio interval; scikit-learn's ``roc_curve`` for Youden's index; hand counts
on a nine-patient example with named ids.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics._wilson import likelihood_ratio_interval, wilson_interval
from oncofusion.metrics.thresholds import outcome_at_horizon, threshold_metrics, youden_threshold

# Nine patients, horizon 5, threshold 0.5 (positive means risk >= 0.5):
PATIENTS = {
    #  id:    (time, event, risk)   class
    "tp1": (2.0, 1, 0.9),  # case, positive -> TP
    "tp2": (5.0, 1, 0.6),  # event exactly at the horizon: case -> TP
    "fn1": (3.0, 1, 0.2),  # case, negative -> FN
    "fp1": (8.0, 0, 0.7),  # control, positive -> FP
    "fp2": (5.0, 0, 0.5),  # censored exactly at the horizon: control; risk == threshold -> FP
    "tn1": (9.0, 1, 0.1),  # event after the horizon: control -> TN
    "tn2": (6.0, 0, 0.3),  # TN
    "tn3": (7.0, 0, 0.4),  # TN
    "ex1": (4.0, 0, 0.8),  # censored before the horizon: excluded
}
IDS = list(PATIENTS)
TIME = np.array([PATIENTS[i][0] for i in IDS])
EVENT = np.array([PATIENTS[i][1] for i in IDS])
RISK = np.array([PATIENTS[i][2] for i in IDS])


def wilson_ref(k: int, n: int) -> tuple[float, float]:
    ci = binomtest(k, n).proportion_ci(0.95, method="wilson")
    return ci.low, ci.high


# ---------------------------------------------------------------- intervals


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (8, 10, 0.4902, 0.9433),  # the DMA-Net-style example: 8/10
        (81, 263, 0.2553, 0.3662),  # Newcombe 1998, Table I
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
        (29, 29, 0.8830, 1.0000),
    ],
)
def test_wilson_against_newcombe_and_scipy(k, n, low, high):
    est, lo, hi = wilson_interval(k, n, 0.95)
    assert est == pytest.approx(k / n)
    assert (lo, hi) == pytest.approx((low, high), abs=5e-5)
    assert (lo, hi) == pytest.approx(wilson_ref(k, n), abs=1e-12)


def test_likelihood_ratio_against_epir_documentation():
    # R: epiR::epi.tests(as.table(matrix(c(670, 202, 74, 640), nrow = 2, byrow = TRUE)))
    # "The likelihood ratio of a positive test is 3.75 (95% CI 3.32 to 4.24)" (Scott 2008)
    lr, lo, hi = likelihood_ratio_interval(670, 744, 202, 842)
    assert (round(lr, 2), round(lo, 2), round(hi, 2)) == (3.75, 3.32, 4.24)


def test_threshold_metrics_reproduce_epir_example_from_survival_data():
    # 744 cases (event at 1), 842 controls (censored at 10); 670 + 202 test positive
    time = np.r_[np.ones(744), np.full(842, 10.0)]
    event = np.r_[np.ones(744), np.zeros(842)]
    risk = np.r_[np.full(670, 0.9), np.full(74, 0.1), np.full(202, 0.9), np.full(640, 0.1)]
    m = threshold_metrics(time, event, risk, 5.0, 0.5)
    assert (m.tp, m.fn, m.fp, m.tn) == (670, 74, 202, 640)
    assert tuple(round(v, 2) for v in m.lr_positive) == (3.75, 3.32, 4.24)
    # LR- by the Simel formula: sqrt(1/74 - 1/744 + 1/640 - 1/842)
    lr_neg = (74 / 744) / (640 / 842)
    se = np.sqrt(1 / 74 - 1 / 744 + 1 / 640 - 1 / 842)
    expected = (lr_neg, lr_neg * np.exp(-1.959964 * se), lr_neg * np.exp(1.959964 * se))
    assert tuple(m.lr_negative) == pytest.approx(expected, rel=1e-6)


# ---------------------------------------------------------------- counts by hand


def test_outcome_at_horizon_by_id():
    y, w = outcome_at_horizon(TIME, EVENT, 5.0)
    cases = {i for i, yi, wi in zip(IDS, y, w) if yi and wi > 0}
    excluded = {i for i, wi in zip(IDS, w) if wi == 0}
    assert cases == {"tp1", "tp2", "fn1"}
    assert excluded == {"ex1"}


def test_threshold_metrics_every_count_by_hand():
    m = threshold_metrics(TIME, EVENT, RISK, 5.0, 0.5)
    assert (m.tp, m.fp, m.tn, m.fn, m.n_excluded) == (2, 2, 3, 1, 1)
    assert m.sensitivity.estimate == pytest.approx(2 / 3)
    assert m.specificity.estimate == pytest.approx(3 / 5)
    assert m.ppv.estimate == pytest.approx(2 / 4)
    assert m.npv.estimate == pytest.approx(3 / 4)
    assert m.sensitivity[1:] == pytest.approx(wilson_ref(2, 3))
    assert m.specificity[1:] == pytest.approx(wilson_ref(3, 5))
    assert m.ppv[1:] == pytest.approx(wilson_ref(2, 4))
    assert m.npv[1:] == pytest.approx(wilson_ref(3, 4))
    # LR+ = (2/3)/(2/5) = 5/3, SE = sqrt(1/2 - 1/3 + 1/2 - 1/5); LR- = (1/3)/(3/5) = 5/9
    se_pos = np.sqrt(1 / 2 - 1 / 3 + 1 / 2 - 1 / 5)
    assert tuple(m.lr_positive) == pytest.approx(
        (5 / 3, 5 / 3 * np.exp(-1.959964 * se_pos), 5 / 3 * np.exp(1.959964 * se_pos)), rel=1e-6
    )
    assert m.lr_negative.estimate == pytest.approx(5 / 9)
    frame = m.to_frame()
    assert frame.loc["ppv", "estimate"] == pytest.approx(0.5)
    assert list(frame.columns) == ["estimate", "low", "high"]


def test_threshold_metrics_ipcw_weights_by_hand():
    # censoring KM: ex1 censored at 4 with 7 at risk -> G(4) = 6/7, so G(5-) = 6/7:
    # tp1 (t=2) and fn1 (t=3) weigh 1; tp2 (t=5) and every control weigh 7/6.
    _, w = outcome_at_horizon(TIME, EVENT, 5.0, method="ipcw")
    expected = {"tp1": 1, "tp2": 7 / 6, "fn1": 1, "ex1": 0}
    for i, wi in zip(IDS, w):
        assert wi == pytest.approx(expected.get(i, 7 / 6)), i
    m = threshold_metrics(TIME, EVENT, RISK, 5.0, 0.5, method="ipcw")
    assert (m.tp, m.fn, m.fp, m.tn) == pytest.approx((1 + 7 / 6, 1, 14 / 6, 21 / 6))
    assert m.sensitivity.estimate == pytest.approx((13 / 6) / (19 / 6))
    assert m.specificity.estimate == pytest.approx(3 / 5)


def test_ipcw_equals_exclude_without_censoring_before_horizon():
    rng = np.random.default_rng(3)
    time = rng.uniform(0.5, 10, 200)
    event = (time <= 5.0) | (rng.random(200) < 0.5)
    risk = rng.random(200)
    a = threshold_metrics(time, event, risk, 5.0, 0.4)
    b = threshold_metrics(time, event, risk, 5.0, 0.4, method="ipcw")
    assert a.to_frame().to_numpy() == pytest.approx(b.to_frame().to_numpy())


# ---------------------------------------------------------------- Youden


@pytest.mark.parametrize("method", ["exclude", "ipcw"])
def test_youden_against_sklearn_roc_curve(method):
    from sklearn.metrics import roc_curve

    rng = np.random.default_rng(11)
    n = 300
    x = rng.normal(size=n)
    t_ev = rng.exponential(1 / (0.1 * np.exp(x)))
    cens = rng.uniform(0, 15, n)
    time, event = np.minimum(t_ev, cens), t_ev <= cens
    risk = np.round(1 / (1 + np.exp(-x)), 2)  # ties
    y, w = outcome_at_horizon(time, event, 5.0, method=method)
    keep = w > 0
    fpr, tpr, thr = roc_curve(y[keep], risk[keep], sample_weight=w[keep], drop_intermediate=False)
    j = tpr - fpr
    best = thr[np.flatnonzero(j >= j.max() - 1e-12)].max()
    res = youden_threshold(time, event, risk, 5.0, method=method)
    assert res.youden_index == pytest.approx(j.max(), abs=1e-12)
    assert res.threshold == best
    m = threshold_metrics(time, event, risk, 5.0, res.threshold, method=method)
    assert m.sensitivity.estimate == pytest.approx(res.sensitivity)
    assert m.specificity.estimate == pytest.approx(res.specificity)


def test_youden_needs_cases_and_controls():
    time = np.array([6.0, 7.0, 8.0])
    with pytest.raises(SurvivalInputError, match="both cases"):
        youden_threshold(time, np.array([1, 1, 0]), np.array([0.1, 0.2, 0.3]), 5.0)


# ---------------------------------------------------------------- properties and edge cases


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(3, 60),
    seed=st.integers(0, 100_000),
    threshold=st.floats(0.0, 1.0),
    method=st.sampled_from(["exclude", "ipcw"]),
)
def test_measures_are_probabilities_and_counts_add_up(n, seed, threshold, method):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 10, n).astype(float)
    time[0] = 9.0
    event = rng.random(n) < 0.6
    risk = rng.random(n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # NaN / Haldane warnings are tested apart
        m = threshold_metrics(time, event, risk, 5.0, threshold, method=method)
    known = int(n - m.n_excluded)
    assert m.n_excluded == int(np.sum((time < 5.0) & ~event))
    if method == "exclude":
        assert m.tp + m.fp + m.tn + m.fn == known
    for est in (m.sensitivity, m.specificity, m.ppv, m.npv):
        if not np.isnan(est.estimate):
            assert 0.0 <= est.low <= est.estimate <= est.high <= 1.0
    for est in (m.lr_positive, m.lr_negative):
        if not np.isnan(est.estimate):
            assert 0.0 < est.low <= est.estimate <= est.high


def test_zero_cell_gets_haldane_correction_with_warning():
    # no false positive: every control is below the threshold
    time = np.array([1.0, 2.0, 8.0, 9.0])
    event = np.array([1, 1, 0, 0])
    risk = np.array([0.9, 0.2, 0.1, 0.1])
    with pytest.warns(UserWarning, match="Haldane"):
        m = threshold_metrics(time, event, risk, 5.0, 0.5)
    # cells + 0.5: TP 1.5, FN 1.5, FP 0.5, TN 2.5 -> LR+ = (1.5/3) / (0.5/3) = 3
    assert m.lr_positive.estimate == pytest.approx(3.0)
    assert m.specificity.estimate == 1.0


def test_nobody_positive_gives_nan_ppv_with_warning():
    with pytest.warns(UserWarning) as record:
        m = threshold_metrics(TIME, EVENT, RISK, 5.0, 0.95)
    messages = " ".join(str(r.message) for r in record)
    assert "PPV is undefined" in messages
    assert "Haldane" in messages  # no TP and no FP: zero cells for the likelihood ratios
    assert np.isnan(m.ppv.estimate)
    assert m.tp == 0 and m.fp == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "drop"}, "'method'"),
        ({"threshold": np.nan}, "finite"),
        ({"ci": 1.5}, "'ci'"),
        ({"horizon": 20.0}, "past the longest follow-up"),
    ],
)
def test_threshold_metrics_rejects_bad_input(kwargs, match):
    args = {"threshold": 0.5, "ci": 0.95, "method": "exclude", "horizon": 5.0}
    args.update(kwargs)
    with pytest.raises(SurvivalInputError, match=match):
        threshold_metrics(TIME, EVENT, RISK, **args)
