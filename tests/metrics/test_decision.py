"""Decision curves at a horizon (Kaplan-Meier net benefit of Vickers et al. 2008).

References: hand computations on a six-patient example, and the identity with the
binary-outcome net benefit :math:`TP/n - FP/n \\cdot p_t/(1-p_t)` when nobody is censored
before the horizon.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics.decision import net_benefit, net_benefit_model, net_benefit_treat_all

# ids:           a    b    c    d    e    f
TIME = np.array([2.0, 3.0, 4.0, 6.0, 7.0, 8.0])
EVENT = np.array([1, 0, 1, 0, 1, 0])
RISK = np.array([0.8, 0.6, 0.5, 0.4, 0.2, 0.1])


def test_net_benefit_by_hand():
    out = net_benefit(TIME, EVENT, RISK, 5.0, [0.3, 0.5, 0.9])
    assert out.columns.tolist() == ["threshold", "model", "treat_all", "treat_none"]
    # p_t = 0.3: treated a, b, c, d (4/6). KM among them: 3/4 at t=2 (a), b censored at 3,
    # 1/2 at t=4 (c among c, d) -> S(5) = 3/8.  NB = 5/8 * 4/6 - 3/8 * 4/6 * 3/7 = 13/42
    # p_t = 0.5: treated a, b, c (3/6): S = 2/3 then 0 at t=4 -> NB = 1 * 1/2 - 0 = 1/2
    # p_t = 0.9: nobody treated -> 0
    np.testing.assert_allclose(out["model"], [13 / 42, 0.5, 0.0], atol=1e-12)
    # overall KM: 5/6 at t=2, b censored, 3/4 at t=4 (c among c, d, e, f) -> S(5) = 5/8
    # treat all: 3/8 - 5/8 * p/(1-p)
    expected_all = [3 / 8 - 5 / 8 * p / (1 - p) for p in (0.3, 0.5, 0.9)]
    np.testing.assert_allclose(out["treat_all"], expected_all, atol=1e-12)
    assert out["treat_all"].iloc[0] == pytest.approx(3 / 28)
    assert (out["treat_none"] == 0).all()


def test_threshold_zero_equals_treat_all_when_everyone_is_above():
    thresholds = [0.0, 0.05]  # every risk is >= 0.1
    model = net_benefit_model(TIME, EVENT, RISK, 5.0, thresholds)
    np.testing.assert_allclose(model, net_benefit_treat_all(TIME, EVENT, 5.0, thresholds))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 60),
    seed=st.integers(0, 100_000),
    thresholds=st.lists(st.floats(0.0, 0.99), min_size=1, max_size=8),
)
def test_equals_binary_net_benefit_without_censoring_before_horizon(n, seed, thresholds):
    rng = np.random.default_rng(seed)
    horizon = 5.0
    time = rng.uniform(0.5, 10.0, n)
    time[0] = 10.0
    event = (rng.random(n) < 0.7) | (time <= horizon)  # censoring only after the horizon
    risk = rng.random(n)
    y = event & (time <= horizon)
    nb = net_benefit_model(time, event, risk, horizon, thresholds)
    for j, p_t in enumerate(thresholds):
        treated = risk >= p_t
        tp, fp = np.sum(treated & y), np.sum(treated & ~y)
        assert nb[j] == pytest.approx(tp / n - fp / n * p_t / (1 - p_t), abs=1e-12)
        assert nb[j] <= y.mean() + 1e-12  # net benefit never exceeds the prevalence
    all_ = net_benefit_treat_all(time, event, horizon, thresholds)
    expected_all = [y.mean() - (1 - y.mean()) * p / (1 - p) for p in thresholds]
    np.testing.assert_allclose(all_, expected_all, rtol=0, atol=1e-12)


def test_warns_when_treated_group_is_not_followed_to_horizon():
    # ids g, h: highest risk, censored early; i: event at 1; j: followed long, no event
    time = np.array([1.0, 1.5, 1.0, 9.0])
    event = np.array([0, 0, 1, 0])
    risk = np.array([0.9, 0.9, 0.1, 0.1])
    with pytest.warns(UserWarning, match="carried forward"):
        out = net_benefit_model(time, event, risk, 5.0, [0.5])
    # treated g, h never have an event: S = 1 -> NB = -P(treated) * odds = -0.5
    assert out[0] == pytest.approx(-0.5)


@pytest.mark.parametrize(
    ("thresholds", "horizon", "match"),
    [
        ([0.2, 1.0], 5.0, r"in \[0, 1\)"),
        ([-0.1], 5.0, r"in \[0, 1\)"),
        ([0.2], 50.0, "past the longest follow-up"),
        ([np.nan], 5.0, r"in \[0, 1\)"),
    ],
)
def test_rejects_bad_input(thresholds, horizon, match):
    with pytest.raises(SurvivalInputError, match=match):
        net_benefit(TIME, EVENT, RISK, horizon, thresholds)


def test_rejects_risk_that_is_not_a_probability():
    with pytest.raises(SurvivalInputError, match="probability"):
        net_benefit(TIME, EVENT, RISK * 3, 5.0, [0.2])
