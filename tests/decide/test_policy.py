"""Policy evaluation against simulated truth (MM-Care Table 7 with values).

References: hand computations on four named patients, the Wilson interval of the agreement
count, and the expected agreement of random choice (1/2 for two arms).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofusion.decide import (
    agreement,
    constant_policy,
    guideline_policy,
    policy_report,
    policy_value_oracle,
    random_policy,
)
from oncofusion.errors import ConfigError, SurvivalInputError, UnknownOptionError
from oncofusion.metrics._wilson import wilson_interval

ARMS = ["sbrt", "surgery"]
# fmt: off
#                     sbrt  surgery      optimal
TRUE_U = np.array([[0.80, 0.60],      # ada   sbrt
                   [0.50, 0.90],      # bo    surgery
                   [0.70, 0.75],      # cy    surgery
                   [0.40, 0.30]])     # di    sbrt
# fmt: on
OPTIMAL = np.array(["sbrt", "surgery", "surgery", "sbrt"])


def test_oracle_value_and_agreement_by_hand():
    model = ["sbrt", "surgery", "sbrt", "sbrt"]  # wrong only for cy
    assert policy_value_oracle(model, TRUE_U, arms=ARMS) == pytest.approx(
        (0.8 + 0.9 + 0.7 + 0.4) / 4
    )
    assert policy_value_oracle([0, 1, 1, 0], TRUE_U) == pytest.approx((0.8 + 0.9 + 0.75 + 0.4) / 4)
    assert agreement(model, OPTIMAL) == pytest.approx(0.75)
    assert agreement([0, 1, 0, 0], OPTIMAL, arms=ARMS) == pytest.approx(0.75)
    with pytest.raises(UnknownOptionError, match="Did you mean 'surgery'"):
        policy_value_oracle(["sbrt", "sugery", "sbrt", "sbrt"], TRUE_U, arms=ARMS)
    with pytest.raises(SurvivalInputError, match="one entry per patient"):
        policy_value_oracle(["sbrt"] * 3, TRUE_U, arms=ARMS)


def test_policy_report_has_table7_shape_and_hand_values():
    policies = {
        "model": ["sbrt", "surgery", "sbrt", "sbrt"],
        "everyone surgery": constant_policy(4, "surgery"),
        "everyone sbrt": constant_policy(4, "sbrt"),
    }
    out = policy_report(policies, TRUE_U, OPTIMAL, arms=ARMS)
    assert out["policy"].tolist() == [
        "model",
        "everyone surgery",
        "everyone sbrt",
        "oracle (true optimal)",
    ]
    oracle = (0.8 + 0.9 + 0.75 + 0.4) / 4
    np.testing.assert_allclose(out["agreement"], [0.75, 0.5, 0.5, 1.0])
    values = np.array([2.8 / 4, 2.55 / 4, 2.4 / 4, oracle])
    np.testing.assert_allclose(out["value"], values)
    np.testing.assert_allclose(out["value_share"], values / oracle)
    np.testing.assert_allclose(out["regret"], oracle - values, atol=1e-12)
    np.testing.assert_allclose(out["share_surgery"], [0.25, 1.0, 0.0, 0.5])
    np.testing.assert_allclose(out[["share_sbrt", "share_surgery"]].sum(axis=1), 1.0)
    lo, hi = wilson_interval(3, 4, 0.95)[1:]
    assert out.loc[0, "agreement_low"] == pytest.approx(lo)
    assert out.loc[0, "agreement_high"] == pytest.approx(hi)
    assert out.attrs["oracle_value"] == pytest.approx(oracle)


def test_default_optimal_is_the_argmax_of_true_utility():
    a = policy_report({"m": [0, 0, 1, 1]}, TRUE_U, include_oracle=False)
    b = policy_report({"m": [0, 0, 1, 1]}, TRUE_U, [0, 1, 1, 0], include_oracle=False)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 1


def test_report_errors():
    with pytest.raises(ConfigError, match="non-empty dict"):
        policy_report({}, TRUE_U)
    with pytest.raises(SurvivalInputError, match="<= 0"):
        policy_report({"m": [0, 0, 1, 1]}, np.zeros((4, 2)))
    with pytest.raises(SurvivalInputError, match="finite"):
        policy_report({"m": [0, 0, 1, 1]}, np.full((4, 2), np.nan))


def test_random_policy_is_seeded_and_agrees_about_half_the_time():
    r1 = random_policy(4000, ARMS, seed=7)
    r2 = random_policy(4000, ARMS, seed=7)
    assert (r1 == r2).all()
    assert not (r1 == random_policy(4000, ARMS, seed=8)).all()
    rng = np.random.default_rng(0)
    optimal = np.where(rng.random(4000) < 0.3, "sbrt", "surgery")
    # agreement ~ Binomial(4000, 1/2)/4000: SE 0.008
    assert agreement(r1, optimal) == pytest.approx(0.5, abs=0.03)
    skew = random_policy(4000, ARMS, seed=7, p=[0.3, 0.7])
    # expected agreement 0.3*0.3 + 0.7*0.7 = 0.58
    assert agreement(skew, optimal) == pytest.approx(0.58, abs=0.03)
    with pytest.raises(ConfigError, match="summing to 1"):
        random_policy(10, ARMS, p=[0.5, 0.6])


def test_guideline_policy_by_hand():
    df = pd.DataFrame({"fev1_pct": [95.0, 60.0, 85.0, 80.0, 81.0], "cci": [0, 0, 4, 2, 3]})
    out = guideline_policy(df, "fev1_pct", "cci")
    # fit = FEV1 >= 80 and CCI <= 2
    assert out.tolist() == ["surgery", "sbrt", "sbrt", "surgery", "sbrt"]
    strict = guideline_policy(df, "fev1_pct", "cci", fev1_min=90.0, charlson_max=0)
    assert strict.tolist() == ["surgery", "sbrt", "sbrt", "sbrt", "sbrt"]


def test_guideline_policy_errors_name_column_and_fix():
    df = pd.DataFrame({"fev1": [2.1, 1.2, 3.0], "charlson": [0, 1, 2]})
    with pytest.raises(SurvivalInputError, match="look like litres"):
        guideline_policy(df)
    assert guideline_policy(df, fev1_min=1.5).tolist() == ["surgery", "sbrt", "surgery"]
    with pytest.raises(SurvivalInputError, match="'cci'"):
        guideline_policy(df, "fev1", "cci", fev1_min=1.5)
    gap = pd.DataFrame({"fev1": [85.0, np.nan], "charlson": [0, 1]})
    with pytest.raises(SurvivalInputError, match=r"row\(s\) \[1\]"):
        guideline_policy(gap)
