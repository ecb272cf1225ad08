"""Propensity model, overlap diagnostic, IPTW weights.

References: scikit-learn's ``LogisticRegression.predict_proba`` on the standardised features
(the JSON model must reproduce it), recovery of known logistic coefficients from a large
simulated sample, and the exact balancing property of inverse-probability weights with
stratum-share propensities.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from oncofusion.decide import (
    PropensityModel,
    effective_sample_size,
    iptw_weights,
    overlap_diagnostic,
)
from oncofusion.errors import ConfigError, ModelLoadError, SurvivalInputError, UnknownOptionError


def _binary_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.normal(60, 10, n), rng.normal(0, 1, n), rng.binomial(1, 0.4, n)])
    beta, b0 = np.array([0.05, -1.0, 0.8]), -3.0
    p = 1.0 / (1.0 + np.exp(-(b0 + x @ beta)))
    arm = np.where(rng.random(n) < p, "surgery", "sbrt")
    return x, arm, p


def test_binary_matches_sklearn_on_standardised_features():
    x, arm, _ = _binary_data(400, 1)
    model = PropensityModel(C=0.5).fit(x, arm, arms=["sbrt", "surgery"])
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    ref = LogisticRegression(C=0.5, max_iter=1000).fit(z, arm == "surgery").predict_proba(z)
    np.testing.assert_allclose(model.predict_proba(x), ref, atol=1e-10)
    assert model.arms == ["sbrt", "surgery"]


def test_recovers_known_coefficients_from_a_large_sample():
    x, arm, p_true = _binary_data(20_000, 2)
    model = PropensityModel(C=1e6).fit(x, arm, arms=["sbrt", "surgery"])
    st = model.to_dict()
    slope = np.asarray(st["coef"])[1] / np.asarray(st["scale"])  # back to the raw scale
    # standard errors are about 0.002, 0.02 and 0.04: the tolerances are 5 SE or more
    assert np.all(np.abs(slope - [0.05, -1.0, 0.8]) < [0.01, 0.1, 0.2]), slope
    assert np.abs(model.predict_proba(x)[:, 1] - p_true).max() < 0.05


def test_multinomial_matches_sklearn_and_rows_sum_to_one():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    logits = np.column_stack([np.zeros(300), x[:, 0], -x[:, 1]])
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    arm = np.array(["obs", "lev", "lev5fu"])[[rng.choice(3, p=row) for row in prob]]
    model = PropensityModel().fit(x, arm, arms=["obs", "lev", "lev5fu"])
    out = model.predict_proba(x)
    assert out.shape == (300, 3)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    codes = pd.Categorical(arm, categories=["obs", "lev", "lev5fu"]).codes
    ref = LogisticRegression(max_iter=1000).fit(z, codes).predict_proba(z)
    np.testing.assert_allclose(out, ref, atol=1e-8)


def test_json_round_trip_and_dataframe_column_order():
    x, arm, _ = _binary_data(200, 4)
    df = pd.DataFrame(x, columns=["age", "marker", "smoker"])
    model = PropensityModel().fit(df, arm)
    assert model.feature_names == ["age", "marker", "smoker"]
    text = model.to_json()
    assert "pickle" not in text and json.loads(text)["arms"] == ["sbrt", "surgery"]
    loaded = PropensityModel.from_json(text)
    shuffled = df[["smoker", "age", "marker"]]
    np.testing.assert_array_equal(loaded.predict_proba(shuffled), model.predict_proba(df))
    with pytest.raises(SurvivalInputError, match="marker"):
        loaded.predict_proba(df.drop(columns="marker"))


def test_bad_inputs_raise_clear_errors():
    x, arm, _ = _binary_data(50, 5)
    with pytest.raises(ConfigError, match="not fitted"):
        PropensityModel().predict_proba(x)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(SurvivalInputError, match=r"row\(s\) \[3\].*TabularPreprocessor"):
        PropensityModel().fit(bad, arm)
    with pytest.raises(SurvivalInputError, match="no training patient in arm"):
        PropensityModel().fit(x, arm, arms=["sbrt", "surgery", "chemo"])
    with pytest.raises(UnknownOptionError, match="Did you mean 'surgery'"):
        PropensityModel().fit(
            x, np.where(arm == "surgery", "surgey", arm), arms=["sbrt", "surgery"]
        )
    with pytest.raises(ConfigError, match="'C'"):
        PropensityModel(C=0)
    state = PropensityModel().fit(x, arm).to_dict()
    with pytest.raises(ModelLoadError, match="format_version"):
        PropensityModel.from_dict({**state, "format_version": 99})
    with pytest.raises(ModelLoadError, match="lacks"):
        PropensityModel.from_dict({"arms": ["a", "b"]})


def test_overlap_flags_patients_outside_support_and_warns_with_counts():
    p = np.array([[0.5, 0.5], [0.02, 0.98], [0.97, 0.03], [0.06, 0.94], [0.01, 0.99]])
    with pytest.warns(UserWarning, match=r"3 of 5 patients \(60.0%\).*sbrt: 2, surgery: 1"):
        out = overlap_diagnostic(p, ["sbrt", "surgery"], patient_ids=list("abcde"))
    assert out["outside"].tolist() == [False, True, True, False, True]
    assert out["lacking_arm"].tolist() == ["", "sbrt", "surgery", "", "sbrt"]
    np.testing.assert_allclose(out["min_propensity"], [0.5, 0.02, 0.03, 0.06, 0.01])
    assert out["patient_id"].tolist() == list("abcde")
    # the 1-D binary shorthand (P of the second arm) gives the same answer
    with pytest.warns(UserWarning):
        same = overlap_diagnostic(p[:, 1], ["sbrt", "surgery"], patient_ids=list("abcde"))
    pd.testing.assert_frame_equal(out, same)


def test_overlap_is_silent_when_everyone_is_inside():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = overlap_diagnostic(np.array([[0.3, 0.7], [0.9, 0.1]]), ["a", "b"], bounds=(0.1, 0.9))
    assert not out["outside"].any()
    with pytest.raises(ConfigError, match="low < high"):
        overlap_diagnostic(np.array([[0.3, 0.7]]), ["a", "b"], bounds=(0.9, 0.1))


def test_iptw_by_hand():
    p = np.array([[0.8, 0.2], [0.5, 0.5], [0.25, 0.75], [0.005, 0.995]])
    a = np.array([0, 1, 1, 0])
    raw = iptw_weights(p, a, stabilised=False, clip=None)
    np.testing.assert_allclose(raw, [1.25, 2.0, 4 / 3, 200.0])
    clipped = iptw_weights(p, a, stabilised=False)  # 0.005 -> 0.01
    np.testing.assert_allclose(clipped, [1.25, 2.0, 4 / 3, 100.0])
    stab = iptw_weights(p, a)  # marginal share of each arm is 1/2
    np.testing.assert_allclose(stab, 0.5 * clipped)
    named = iptw_weights(p, ["sbrt", "surgery", "surgery", "sbrt"], arms=["sbrt", "surgery"])
    np.testing.assert_allclose(named, stab)


def test_iptw_balances_a_discrete_covariate_exactly():
    """With stratum shares as propensities, each arm's weights sum to the stratum size."""
    rng = np.random.default_rng(6)
    n = 600
    x = rng.integers(0, 3, n)
    a = (rng.random(n) < np.array([0.2, 0.5, 0.8])[x]).astype(int)
    share1 = np.array([a[x == s].mean() for s in range(3)])[x]
    p = np.column_stack([1 - share1, share1])
    w = iptw_weights(p, a, stabilised=False, clip=None)
    for s in range(3):
        for arm in (0, 1):
            assert w[(x == s) & (a == arm)].sum() == pytest.approx((x == s).sum())
    # stabilised weights average 1 within each arm here (Austin & Stuart 2015)
    ws = iptw_weights(p, a, clip=None)
    for arm in (0, 1):
        assert ws[a == arm].mean() == pytest.approx(1.0)


def test_iptw_randomised_trial_gives_unit_stabilised_weights():
    a = np.array([0, 0, 1, 1, 1, 2])
    share = np.bincount(a) / a.size
    p = np.tile(share, (a.size, 1))
    np.testing.assert_allclose(iptw_weights(p, a), 1.0)


def test_iptw_errors():
    with pytest.raises(SurvivalInputError, match="infinite"):
        iptw_weights(np.array([[1.0, 0.0]]), [1], clip=None)
    with pytest.raises(ConfigError, match="> 0"):
        iptw_weights(np.array([[0.5, 0.5]]), [1], clip=(0.0, 1.0))
    with pytest.raises(SurvivalInputError, match="sum to 1"):
        iptw_weights(np.array([[0.5, 0.6]]), [1])
    with pytest.raises(SurvivalInputError, match="outside 0..1"):
        iptw_weights(np.array([[0.5, 0.5]]), [2])


def test_effective_sample_size():
    assert effective_sample_size(np.ones(7)) == pytest.approx(7.0)
    assert effective_sample_size([5.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert effective_sample_size([1.0, 3.0]) == pytest.approx(16 / 10)
    with pytest.raises(SurvivalInputError):
        effective_sample_size([-1.0, 2.0])
