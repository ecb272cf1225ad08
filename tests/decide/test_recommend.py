"""Recommendation by the weighted prognosis U = alpha P_OS + beta P_LC (MM-Care section 4.7).

References: hand computations on named patients, a per-draw loop for the benefit interval,
and properties (benefit >= 0, recommended = argmax) on random inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oncofusion.decide import NO_CLEAR_PREFERENCE, recommend, utility
from oncofusion.errors import ConfigError, SurvivalInputError

ARMS = ["sbrt", "surgery"]
# fmt: off
#                    sbrt  surgery
P_OS = np.array([[0.80, 0.70],  # anna: OS favours SBRT
                 [0.60, 0.75],  # ben: surgery better on both
                 [0.70, 0.70]])  # cara: OS tie, LC decides
P_LC = np.array([[0.90, 0.95],
                 [0.80, 0.90],
                 [0.85, 0.95]])
# fmt: on


def test_known_answer_with_mmcare_weights():
    out = recommend(P_OS, P_LC, ARMS, patient_ids=["anna", "ben", "cara"])
    # anna: 0.7*0.8+0.3*0.9 = 0.83 vs 0.7*0.7+0.3*0.95 = 0.775 -> sbrt by 0.055
    # ben:  0.42+0.24 = 0.66 vs 0.525+0.27 = 0.795 -> surgery by 0.135
    # cara: 0.49+0.255 = 0.745 vs 0.49+0.285 = 0.775 -> surgery by 0.03
    np.testing.assert_allclose(out["utility_sbrt"], [0.83, 0.66, 0.745])
    np.testing.assert_allclose(out["utility_surgery"], [0.775, 0.795, 0.775])
    assert out["recommended"].tolist() == ["sbrt", "surgery", "surgery"]
    np.testing.assert_allclose(out["benefit"], [0.055, 0.135, 0.03], atol=1e-12)
    assert out["preference"].tolist() == ["sbrt", "surgery", "surgery"]
    assert out["low"].isna().all() and out["high"].isna().all()
    assert (out["interval"] == "unavailable").all()
    assert out.columns.tolist() == [
        "patient_id",
        "utility_sbrt",
        "utility_surgery",
        "recommended",
        "benefit",
        "low",
        "high",
        "preference",
        "interval",
    ]


def test_weights_are_parameters():
    out = recommend(P_OS, P_LC, ARMS, alpha=1.0, beta=0.0)
    assert out["recommended"].tolist() == ["sbrt", "surgery", "sbrt"]  # cara ties on OS
    assert out["preference"].tolist() == ["sbrt", "surgery", NO_CLEAR_PREFERENCE]
    only_os = recommend(P_OS, None, ARMS, alpha=1.0, beta=0.0)
    pd.testing.assert_frame_equal(out, only_os)


@pytest.mark.parametrize("alpha, beta", [(-0.1, 0.3), (0.7, -1.0), (0.0, 0.0), (np.nan, 0.3)])
def test_negative_or_empty_weights_are_rejected(alpha, beta):
    with pytest.raises(ConfigError, match="alpha|beta"):
        recommend(P_OS, P_LC, ARMS, alpha=alpha, beta=beta)


def test_interval_from_draws_agrees_with_a_per_draw_loop():
    rng = np.random.default_rng(0)
    d, n = 200, 3
    os_d = np.clip(P_OS + rng.normal(0, 0.04, (d, n, 2)), 0, 1)
    lc_d = np.clip(P_LC + rng.normal(0, 0.04, (d, n, 2)), 0, 1)
    out = recommend(P_OS, P_LC, ARMS, p_os_draws=os_d, p_lc_draws=lc_d, ci=0.9)
    best = out["recommended"].map({"sbrt": 0, "surgery": 1}).to_numpy()
    for i in range(n):
        margins = []
        for j in range(d):
            u = 0.7 * os_d[j, i] + 0.3 * lc_d[j, i]
            margins.append(u[best[i]] - u[1 - best[i]])
        lo, hi = np.quantile(margins, [0.05, 0.95])
        assert out["low"][i] == pytest.approx(lo) and out["high"][i] == pytest.approx(hi)
    # ben's margin (0.135) is far from 0; cara's (0.03) is within the draw noise
    assert out["preference"][1] == "surgery"
    assert out["preference"][2] == NO_CLEAR_PREFERENCE
    assert out["interval"][0] == "90% percentile of 200 draws"


def test_draws_equal_to_the_point_estimate_give_a_degenerate_interval():
    draws_os = np.repeat(P_OS[None], 50, axis=0)
    draws_lc = np.repeat(P_LC[None], 50, axis=0)
    out = recommend(P_OS, P_LC, ARMS, p_os_draws=draws_os, p_lc_draws=draws_lc)
    np.testing.assert_allclose(out["low"], out["benefit"])
    np.testing.assert_allclose(out["high"], out["benefit"])
    assert out["preference"].tolist() == ["sbrt", "surgery", "surgery"]


def test_three_arms_benefit_is_over_the_runner_up():
    p_os = np.array([[0.5, 0.9, 0.8]])
    out = recommend(p_os, None, ["a", "b", "c"], alpha=1.0, beta=0.0)
    assert out["recommended"][0] == "b"
    assert out["benefit"][0] == pytest.approx(0.1)


def test_draw_and_shape_errors():
    draws = np.repeat(P_OS[None], 50, axis=0)
    with pytest.raises(SurvivalInputError, match="p_lc_draws"):
        recommend(P_OS, P_LC, ARMS, p_os_draws=draws)
    with pytest.raises(SurvivalInputError, match="same number of draws"):
        recommend(P_OS, P_LC, ARMS, p_os_draws=draws, p_lc_draws=draws[:10])
    with pytest.raises(SurvivalInputError, match=r"probabilities in \[0, 1\]"):
        recommend(P_OS * 2, P_LC, ARMS)
    with pytest.raises(SurvivalInputError, match="one column per arm"):
        recommend(P_OS, P_LC, ["a", "b", "c"])
    with pytest.raises(ConfigError, match="p_lc"):
        recommend(P_OS, None, ARMS)
    with pytest.warns(UserWarning, match="few"):
        recommend(P_OS, P_LC, ARMS, p_os_draws=draws[:5], p_lc_draws=draws[:5])


def test_utility_works_on_draw_arrays():
    rng = np.random.default_rng(1)
    a, b = rng.random((4, 3, 2)), rng.random((4, 3, 2))
    np.testing.assert_allclose(utility(a, b, alpha=0.6, beta=0.4), 0.6 * a + 0.4 * b)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 30),
    k=st.integers(2, 4),
    seed=st.integers(0, 10_000),
    alpha=st.floats(0.0, 2.0),
    beta=st.floats(0.01, 2.0),
)
def test_recommended_arm_is_the_argmax_and_benefit_is_non_negative(n, k, seed, alpha, beta):
    rng = np.random.default_rng(seed)
    p_os, p_lc = rng.random((n, k)), rng.random((n, k))
    arms = [f"arm{j}" for j in range(k)]
    out = recommend(p_os, p_lc, arms, alpha=alpha, beta=beta)
    u = alpha * p_os + beta * p_lc
    assert (out["recommended"] == np.asarray(arms)[u.argmax(axis=1)]).all()
    assert (out["benefit"] >= 0).all()
    np.testing.assert_allclose(
        out["benefit"], np.sort(u, axis=1)[:, -1] - np.sort(u, axis=1)[:, -2]
    )
