"""Uno's IPCW C against scikit-survival's concordance_index_ipcw."""

from __future__ import annotations

import numpy as np
import pytest
from _survival_cases import CASE_NAMES, make_case, make_train

from oncofusion.errors import NoComparablePairsError, SurvivalInputError
from oncofusion.metrics import concordance_index, concordance_index_uno

TOL = 1e-9

pytestmark = pytest.mark.filterwarnings("ignore:C-index")


def _sk(train_t, train_e, t, e, risk, tau=None):
    from sksurv.metrics import concordance_index_ipcw
    from sksurv.util import Surv

    return concordance_index_ipcw(
        Surv.from_arrays(train_e, train_t), Surv.from_arrays(e, t), risk, tau=tau
    )


def _assert_same(res, ref):
    assert res.value == pytest.approx(ref[0], abs=TOL)
    assert (res.concordant, res.discordant, res.tied_risk, res.tied_time) == tuple(
        int(c) for c in ref[1:]
    )


# Tiny cases from scikit-survival's tests/test_metrics.py (uno_c_data); train = test. The
# counts are hard-coded; values are checked against the installed scikit-survival (0.28),
# whose "tied_event" value moved from an older release's 0.4401618580 after its censoring-tie
# fix, and exactly for "no_ties", whose value has not changed.
_T10 = [1, 5, 6, 10, 11, 34, 45, 46, 50, 56]
_E10 = [0, 1, 1, 0, 1, 0, 1, 0, 0, 1]
HAND = {
    "no_ties": (_T10, _E10, [5, 8, 11, 19, 34, 12, 3, 9, 12, 20], (8, 15, 0, 0)),
    "tied_risk_1": (_T10, _E10, [5, 8, 11, 11, 34, 12, 3, 9, 12, 20], (8, 14, 1, 0)),
    "tied_risk_2": (_T10, _E10, [5, 8, 11, 11, 34, 12, 11, 9, 12, 20], (7, 14, 2, 0)),
    "tied_event": ([1, 5, 6, 11, 11, 34, 45, 45, 50, 55], [0, 1, 0, 1, 1, 0, 1, 0, 0, 1],
                   [5, 8, 11, 19, 34, 12, 3, 9, 12, 18], (11, 10, 0, 1)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(HAND))
def test_hand_cases(name):
    t, e, r, counts = HAND[name]
    res = concordance_index_uno(t, e, r)
    assert (res.concordant, res.discordant, res.tied_risk, res.tied_time) == counts
    ta, ea = np.asarray(t, float), np.asarray(e, bool)
    _assert_same(res, _sk(ta, ea, ta, ea, np.asarray(r, float)))
    if name == "no_ties":
        assert res.value == pytest.approx(0.347890360332615, abs=1e-12)


def test_hand_case_truncated_with_train():
    res = concordance_index_uno(
        [1, 3, 5, 8, 12, 13], [1, 0, 0, 1, 1, 1], [5, 8, 13, 11, 9, 4], tau=19,
        train_time=[2, 4, 6, 8, 10, 11, 15, 19], train_event=[0, 1, 0, 1, 0, 0, 0, 0],
    )  # fmt: skip
    assert res.value == pytest.approx(0.7543736528146774, abs=1e-12)
    assert (res.concordant, res.discordant) == (4, 4)


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_against_sksurv_self_reference(name, seed):
    t, e, r = make_case(name, seed)
    tau = float(np.quantile(t, 0.8))
    for tau_ in (None, tau):
        try:
            ref = _sk(t, e, t, e, r, tau=tau_)
        except ValueError:  # sksurv: G = 0 at an event time; we raise our own error
            with pytest.raises(NoComparablePairsError, match="censoring survival G"):
                concordance_index_uno(t, e, r, tau=tau_)
            continue
        _assert_same(concordance_index_uno(t, e, r, tau=tau_), ref)


@pytest.mark.parametrize("name", CASE_NAMES)
@pytest.mark.parametrize("seed", range(3))
def test_against_sksurv_with_train(name, seed):
    t, e, r = make_case(name, seed)
    tt, te = make_train(seed)
    tau = float(min(np.quantile(tt, 0.9), np.quantile(t, 0.9)))
    ref = _sk(tt, te, t, e, r, tau=tau)
    _assert_same(concordance_index_uno(t, e, r, tau, tt, te), ref)


def test_test_follow_up_past_training_needs_tau():
    t, e, r = make_case("continuous", 3)
    tt, te = make_train(3)
    cut = float(np.quantile(t[e], 0.5))  # the training follow-up ends mid-way ...
    keep = tt <= cut
    tt, te = np.r_[tt[keep], cut], np.r_[te[keep], True]  # ... with an event, so G(cut) > 0
    with pytest.raises(ValueError):  # scikit-survival refuses as well
        _sk(tt, te, t, e, r)
    with pytest.raises(SurvivalInputError, match="beyond the last follow-up time .* pass 'tau'"):
        concordance_index_uno(t, e, r, train_time=tt, train_event=te)
    _assert_same(concordance_index_uno(t, e, r, cut, tt, te), _sk(tt, te, t, e, r, tau=cut))


def test_zero_censoring_survival_at_event_raises():
    # scikit-survival's 'zero_prob_1': the last training time is censored, so G = 0 after it.
    train_t, train_e = [2, 4, 6, 8, 10, 11, 15, 19], [0, 1, 0, 1, 0, 0, 0, 0]
    t, e = [1, 3, 5, 7, 12, 13, 19], [1, 0, 0, 1, 1, 0, 1]
    with pytest.raises(NoComparablePairsError, match="censoring survival G .* is 0"):
        concordance_index_uno(t, e, [5, 8, 13, 11, 9, 7, 4], None, train_t, train_e)


def test_uncensored_train_gives_harrell():
    # With no censoring in the reference, G = 1 and Uno's C is Harrell's C.
    t, e, r = [1, 3, 5, 7, 12, 13, 18], [1, 0, 0, 1, 1, 0, 0], [5, 8, 13, 11, 9, 7, 4]
    uno = concordance_index_uno(t, e, r, train_time=[2, 4, 6, 8, 10, 11, 15, 19],
                                train_event=[1] * 8)  # fmt: skip
    assert uno == concordance_index(t, e, r)


def test_errors():
    t, e, r = [1.0, 2, 3, 4], [1, 1, 0, 1], [4.0, 3, 2, 1]
    with pytest.raises(NoComparablePairsError, match="before tau"):
        concordance_index_uno(t, e, r, tau=0.5)
    with pytest.raises(SurvivalInputError, match="'train_event' is missing"):
        concordance_index_uno(t, e, r, train_time=t)
    with pytest.raises(SurvivalInputError, match="'tau' must be a number"):
        concordance_index_uno(t, e, r, tau=float("nan"))
    with pytest.raises(NoComparablePairsError, match="all samples are censored"):
        concordance_index_uno(t, [0, 0, 0, 0], r)
