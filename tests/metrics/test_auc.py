"""Time-dependent (cumulative/dynamic) AUC against scikit-survival's cumulative_dynamic_auc."""

from __future__ import annotations

import numpy as np
import pytest
from _survival_cases import CASE_NAMES, make_case, make_train

from oncofusion.errors import SurvivalInputError
from oncofusion.metrics import AUCResult, time_dependent_auc

TOL = 1e-9


def _sk(train_t, train_e, t, e, risk, times):
    from sksurv.metrics import cumulative_dynamic_auc
    from sksurv.util import Surv

    return cumulative_dynamic_auc(
        Surv.from_arrays(train_e, train_t), Surv.from_arrays(e, t), risk, times
    )


def _assert_same(res: AUCResult, ref) -> None:
    np.testing.assert_allclose(res.auc, ref[0], rtol=0, atol=TOL)
    assert res.mean_auc == pytest.approx(ref[1], abs=TOL)


# scikit-survival's tests/test_metrics.py (uno_auc_data_15 / _20): expected AUC and mean AUC.
T15 = np.array(
    [
        10.88,
        19.78,
        40.92,
        98.7,
        70.19,
        10.15,
        28.95,
        29.57,
        17.9,
        63.78,
        36.22,
        83.14,
        13.69,
        99.51,
        3.19,
    ]
)
E15 = np.array([1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 0, 1], dtype=bool)
R15 = np.array(
    [
        -1.019,
        -0.016,
        0.132,
        0.269,
        -0.777,
        -1.077,
        0.894,
        -1.227,
        -0.417,
        0.072,
        -1.275,
        -0.91,
        -0.825,
        -0.292,
        -0.045,
    ]
)
T20 = np.array(
    [
        77.6,
        57.6,
        66.6,
        67.0,
        31.5,
        5.5,
        67.4,
        43.7,
        31.7,
        71.9,
        81.1,
        56.2,
        88.1,
        2.9,
        62.0,
        17.2,
        88.0,
        26.4,
        93.5,
        79.9,
    ]
)
E20 = np.array([1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1], dtype=bool)
HAND = {
    "single_time": (None, [28.0], [0.362963], 0.362963),
    "two_times": (None, [15.0, 66.0], [0.3030303, 0.45], 0.3943949),
    "min_to_max": (None, [3.19, 15, 66, 99.51 - 1e-6], [0.6428571, 0.3030303, 0.45, 0.3162996],
                   0.3999539),
    "train_test": ((T20, E20), [15.0, 66.0], [0.3030303, 0.4357061], 0.385509),
}  # fmt: skip


@pytest.mark.parametrize("name", list(HAND))
def test_hand_cases(name):
    train, times, auc, mean = HAND[name]
    tr = {} if train is None else {"train_time": train[0], "train_event": train[1]}
    res = time_dependent_auc(T15, E15, R15, times, **tr)
    np.testing.assert_allclose(res.auc, auc, atol=1e-6)
    assert res.mean_auc == pytest.approx(mean, abs=1e-6)
    tt, te = (T15, E15) if train is None else train
    _assert_same(res, _sk(tt, te, T15, E15, R15, times))
    assert float(res) == res.mean_auc
    np.testing.assert_array_equal(res.times, times)


def _grid(t: np.ndarray, e: np.ndarray, k: int = 4) -> np.ndarray:
    lo = max(np.sort(t[e])[min(2, e.sum() - 1)], t.min())
    hi = np.quantile(t, 0.85)
    return np.unique(np.linspace(lo, hi, k)) if hi > lo else np.array([lo])


def _late_events_censored(t, e, times):
    """Same data with events after the last time point censored: they never enter the AUC."""
    e2 = e.copy()
    e2[t > times[-1]] = False
    return e2


GRID_CASES = [c for c in CASE_NAMES if c not in ("all_censored_but_one", "few_samples")]


@pytest.mark.parametrize("name", GRID_CASES)
@pytest.mark.parametrize("seed", range(3))
def test_against_sksurv_self_reference(name, seed):
    t, e, r = make_case(name, seed)
    times = _grid(t, e)
    res = time_dependent_auc(t, e, r, times)
    try:
        ref = _sk(t, e, t, e, r, times)
    except ValueError:
        # scikit-survival computes 1/G for *every* event and refuses when G = 0 at a late
        # event; those events are controls at every time point and do not enter the AUC.
        e2 = _late_events_censored(t, e, times)
        ref = _sk(t, e2, t, e2, r, times)
    _assert_same(res, ref)


@pytest.mark.parametrize("seed", range(4))
def test_against_sksurv_with_train_and_2d_risk(seed):
    t, e, r = make_case("heavy_time_ties", seed)
    tt, te = make_train(seed, scale=30.0)
    times = _grid(t, e)
    times = times[times < tt.max()]
    rng = np.random.default_rng(seed)
    risk2d = r[:, None] + 0.3 * rng.normal(size=(t.size, times.size))
    for risk in (r, risk2d):
        res = time_dependent_auc(t, e, risk, times, tt, te)
        try:
            ref = _sk(tt, te, t, e, risk, times)
        except ValueError:
            e2 = _late_events_censored(t, e, times)
            ref = _sk(tt, te, t, e2, risk, times)
        _assert_same(res, ref)


def test_against_sksurv_whas500():
    from sksurv.datasets import load_whas500

    x, y = load_whas500()
    t, e = y["lenfol"].astype(float), y["fstat"]
    risk = x["age"].to_numpy(float) / 10 + x["bmi"].to_numpy(float) * -0.05
    times = np.array([200.0, 400, 600, 800, 1000, 1200, 1400])
    _assert_same(time_dependent_auc(t, e, risk, times), _sk(t, e, t, e, risk, times))
    tr = np.arange(300)
    te_ = np.arange(300, 500)
    _assert_same(
        time_dependent_auc(t[te_], e[te_], risk[te_], times, t[tr], e[tr]),
        _sk(t[tr], e[tr], t[te_], e[te_], risk[te_], times),
    )


@pytest.mark.parametrize("name", ["all_censored_but_one", "few_samples"])
def test_single_time_on_sparse_data_against_sksurv(name):
    t, e, r = make_case(name, 4)
    times = [float(t[e].min())]  # one event is a case; everyone observed longer is a control
    _assert_same(time_dependent_auc(t, e, r, times), _sk(t, e, t, e, r, times))


def test_perfect_risk_has_auc_one():
    t, e, _ = make_case("continuous", 1)
    res = time_dependent_auc(t, e, -t, _grid(t, e))
    np.testing.assert_allclose(res.auc, 1.0, atol=1e-12)
    assert res.mean_auc == pytest.approx(1.0, abs=1e-12)


def test_errors():
    t, e, r = make_case("continuous", 2)
    with pytest.raises(SurvivalInputError, match="within the follow-up"):
        time_dependent_auc(t, e, r, [t.max()])
    with pytest.raises(SurvivalInputError, match="within the follow-up"):
        time_dependent_auc(t, e, r, [t.min() - 1])
    with pytest.raises(SurvivalInputError, match="strictly increasing"):
        time_dependent_auc(t, e, r, [5.0, 2.0])
    with pytest.raises(SurvivalInputError, match="shape"):
        time_dependent_auc(t, e, np.c_[r, r, r], [2.0, 5.0])
    first_event = t[e].min()
    if t.min() < first_event:
        with pytest.raises(SurvivalInputError, match="no event happened at or before"):
            time_dependent_auc(t, e, r, [t.min()])
    with pytest.raises(SurvivalInputError, match="beyond the last follow-up"):
        cut = np.quantile(t, 0.3)
        time_dependent_auc(t, e, r, [np.quantile(t, 0.6)], np.r_[t[t < cut], cut],
                           np.r_[e[t < cut], True])  # fmt: skip
