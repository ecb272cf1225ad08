"""Policy value on real data by IPW with IPCW (Zhang et al. 2012; Bai, Tsiatis & O'Brien 2013).

References: a five-patient hand computation, the Kaplan-Meier estimate of each arm (the
estimator equals it exactly for "everyone arm a": Satten & Datta 2001), empirical proportions
without censoring, a stratified (standardisation) estimate with stratum-share propensities,
the real colon trial, and the bootstrap resamples recomputed one by one on resampled data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofusion.decide import ipw_policy_value
from oncofusion.errors import ConfigError, SurvivalInputError
from oncofusion.metrics._resample import resample_indices
from oncofusion.survival.nonparametric import kaplan_meier


def _trial(n: int, seed: int, *, censor: bool = True, round_to: float | None = 0.1):
    rng = np.random.default_rng(seed)
    arm = rng.choice(["obs", "lev", "lev5fu"], n)
    rate = pd.Series(arm).map({"obs": 0.25, "lev": 0.2, "lev5fu": 0.12}).to_numpy()
    t_event = rng.exponential(1 / rate)
    t_cens = rng.uniform(1, 12, n) if censor else np.full(n, np.inf)
    t = np.minimum(t_event, t_cens)
    if round_to:
        t = np.maximum(np.round(t / round_to) * round_to, round_to)  # ties, as in real data
    return t, (t_event <= t_cens).astype(int), arm


def test_five_patients_by_hand():
    time = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    event = np.array([1, 0, 1, 0, 1])
    # G (censoring KM): drops at 2 to 1 - 1/4 = 3/4.  Known status at tau = 3.5: the events at
    # 1 (weight 1/G(1-) = 1) and 3 (4/3) and the two followed past 3.5 (4/3 each); patient 2
    # is censored before tau.  Value = (4/3 + 4/3) / (1 + 4/3 + 8/3) = 8/15 = KM(3.5)
    v = ipw_policy_value(time, event, ["a"] * 5, "a", 3.5, arms=["a", "b"], n_resamples=0)
    assert v.value == pytest.approx(8 / 15)
    assert v.value == pytest.approx(kaplan_meier(time, event)(3.5))
    assert v.n_matched == 5 and np.isnan(v.low) and v.resamples.size == 0


@pytest.mark.parametrize("horizon", [2.0, 3.0, 5.5])
def test_everyone_arm_a_equals_the_kaplan_meier_of_arm_a(horizon):
    t, e, arm = _trial(450, 1)
    for a in ("obs", "lev", "lev5fu"):
        v = ipw_policy_value(t, e, arm, a, horizon, n_resamples=0)
        km = kaplan_meier(t[arm == a], e[arm == a])(horizon)
        assert v.value == pytest.approx(float(km), abs=1e-12)
        assert v.n_matched == int((arm == a).sum())


def test_censoring_exactly_at_the_horizon_counts_as_event_free():
    time = np.array([1.0, 2.0, 2.0, 3.0, 4.0])
    event = np.array([1, 1, 0, 0, 1])
    v = ipw_policy_value(time, event, ["a"] * 5, "a", 3.0, arms=["a", "b"], n_resamples=0)
    assert v.value == pytest.approx(float(kaplan_meier(time, event)(3.0)))  # 4/5 * 2/4 = 0.4


def test_without_censoring_values_are_empirical_proportions():
    t, e, arm = _trial(300, 2, censor=False)
    horizon = 4.0
    free = t > horizon
    shares = {a: free[arm == a].mean() for a in ("obs", "lev", "lev5fu")}
    for a, expected in shares.items():
        v = ipw_policy_value(t, e, arm, a, horizon, n_resamples=0)
        assert v.value == pytest.approx(expected)
    # the policy "the arm each patient received" matches everyone; weighted by 1/share of the
    # arm, every arm counts as much as the whole trial: the mean of the arm proportions
    v = ipw_policy_value(t, e, arm, arm, horizon, n_resamples=0)
    assert v.value == pytest.approx(np.mean(list(shares.values())))


def test_stratum_propensities_give_the_standardised_value():
    """Observational data, a discrete confounder, no censoring: IPW = direct standardisation."""
    rng = np.random.default_rng(3)
    n = 3000
    x = rng.integers(0, 3, n)  # e.g. comorbidity band
    surgery = rng.random(n) < np.array([0.8, 0.5, 0.15])[x]
    arm = np.where(surgery, "surgery", "sbrt")
    rate = 0.2 + 0.1 * x + np.where(surgery, 0.05 * x - 0.08 * (2 - x), 0.0)
    t = rng.exponential(1 / rate)
    e = np.ones(n, dtype=int)
    policy = np.where(x < 2, "surgery", "sbrt")
    share = np.array([surgery[x == s].mean() for s in range(3)])[x]
    prop = np.column_stack([1 - share, share])
    v = ipw_policy_value(t, e, arm, policy, 3.0, prop, arms=["sbrt", "surgery"], n_resamples=0)
    direct = sum((x == s).mean() * (t[(x == s) & (arm == policy)] > 3.0).mean() for s in range(3))
    assert v.value == pytest.approx(direct)
    naive = (t[arm == policy] > 3.0).mean()  # ignores confounding
    assert abs(naive - direct) > 0.01


def test_bootstrap_rows_equal_direct_computation_on_resampled_data():
    t, e, arm = _trial(120, 4)
    policy = np.where(t > 3, "lev", "obs")  # any policy; here one depending on the data
    v = ipw_policy_value(t, e, arm, policy, 3.0, n_resamples=6, seed=11)
    assert v.n_failed == 0 and v.resamples.shape == (6,)
    idx = next(resample_indices(t.size, 6, 11))
    direct = [
        ipw_policy_value(
            t[i], e[i], arm[i], policy[i], 3.0, n_resamples=0, arms=["lev", "lev5fu", "obs"]
        ).value
        for i in idx
    ]
    np.testing.assert_allclose(v.resamples, direct, atol=1e-12)
    assert v.low <= v.value <= v.high


def test_bootstrap_interval_covers_the_truth_and_shrinks_with_n():
    horizon = 3.0
    truth = np.exp(-0.12 * horizon)  # arm lev5fu: exponential with rate 0.12
    small = ipw_policy_value(*_trial(300, 5), "lev5fu", horizon, n_resamples=400)
    large = ipw_policy_value(*_trial(2400, 6), "lev5fu", horizon, n_resamples=400)
    assert small.low < truth < small.high
    assert large.low < truth < large.high
    ratio = (small.high - small.low) / (large.high - large.low)
    assert 2.0 < ratio < 4.0  # sqrt(8) = 2.8


def test_real_colon_trial_everyone_lev5fu_equals_its_kaplan_meier(tmp_path):
    from oncofusion.data.public import export_dataset

    export_dataset("colon", tmp_path / "colon")
    df = pd.read_csv(tmp_path / "colon" / "patients.csv")
    t, e, arm = df["time"].to_numpy(float), df["event"].to_numpy(), df["arm"].to_numpy()
    v = ipw_policy_value(t, e, arm, "lev5fu", 1826, n_resamples=200)
    km = kaplan_meier(t[arm == "lev5fu"], e[arm == "lev5fu"])(1826.0)
    assert v.value == pytest.approx(float(km), abs=1e-12)
    obs = ipw_policy_value(t, e, arm, "obs", 1826, n_resamples=200)
    # levamisole + 5-FU lowered recurrence (Moertel et al. 1990): the intervals barely touch
    assert v.value - obs.value > 0.1
    assert v.low > obs.value


def test_errors_name_the_problem():
    t, e, arm = _trial(60, 7)
    with pytest.raises(SurvivalInputError, match="past the follow-up of arm"):
        ipw_policy_value(t, e, arm, "obs", 100.0, n_resamples=0)
    with pytest.raises(SurvivalInputError, match="no patient received"):
        ipw_policy_value(t, e, np.full(60, "obs"), "lev", 2.0, arms=["obs", "lev"], n_resamples=0)
    with pytest.raises(ConfigError, match="horizon"):
        ipw_policy_value(t, e, arm, "obs", -1.0)
    with pytest.raises(ConfigError, match="n_resamples"):
        ipw_policy_value(t, e, arm, "obs", 2.0, n_resamples=1)
    with pytest.raises(SurvivalInputError, match="shape"):
        ipw_policy_value(t, e, arm, "obs", 2.0, np.full((60, 2), 0.5))
    with pytest.raises(SurvivalInputError, match=r"\(0, 1\]"):
        ipw_policy_value(t, e, arm, "obs", 2.0, np.zeros((60, 3)), arms=["lev", "lev5fu", "obs"])


def test_follow_up_ending_in_events_is_determined():
    """All of arm b fails before the horizon: its value is 0, not an error."""
    time = np.array([1.0, 2.0, 3.0, 1.0, 10.0, 12.0])
    event = np.array([1, 1, 1, 1, 0, 1])
    arm = np.array(["b", "b", "b", "a", "a", "a"])
    v = ipw_policy_value(time, event, arm, "b", 5.0, n_resamples=0)
    assert v.value == 0.0
