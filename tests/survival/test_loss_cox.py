"""Cox partial likelihood against lifelines, scikit-survival, torchsurv and an O(n^2) reference."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from _survival_refs import cox_nll_quadratic

from oncofusion.errors import SurvivalInputError, UnknownOptionError
from oncofusion.survival.losses import DegenerateBatchWarning, cox_partial_likelihood

TOL = 1e-8  # one stated tolerance (absolute, on log-likelihoods of a few hundred)


def _cohort(seed: int, n: int = 250, p: int = 2, max_time: int = 12):
    """Covariates and follow-up rounded to whole months over a year: heavy ties."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p))
    t_event = rng.exponential(6.0, n) * np.exp(-x @ np.linspace(0.6, -0.4, p))
    t_cens = rng.uniform(0, max_time, n)
    time = np.ceil(np.minimum(np.minimum(t_event, t_cens), max_time))
    event = (t_event <= t_cens) & (t_event <= max_time)
    return x, np.maximum(time, 1.0), event


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_efron_equals_lifelines_loglik_at_its_fit(seed):
    from lifelines import CoxPHFitter

    x, time, event = _cohort(seed)
    df = pd.DataFrame(x, columns=["a", "b"]).assign(T=time, E=event.astype(int))
    cph = CoxPHFitter().fit(df, "T", "E")  # lifelines handles ties with Efron
    log_hz = torch.as_tensor(x @ cph.params_.to_numpy())
    ours = cox_partial_likelihood(time, event, log_hz, ties="efron", reduction="sum")
    assert float(-ours) == pytest.approx(cph.log_likelihood_, abs=TOL)


def test_stratified_efron_equals_lifelines():
    from lifelines import CoxPHFitter

    x, time, event = _cohort(7, n=300)
    strata = np.random.default_rng(7).integers(0, 3, len(time))
    df = pd.DataFrame(x, columns=["a", "b"]).assign(T=time, E=event.astype(int), s=strata)
    cph = CoxPHFitter().fit(df, "T", "E", strata=["s"])
    log_hz = torch.as_tensor(x @ cph.params_.to_numpy())
    ours = cox_partial_likelihood(time, event, log_hz, strata=strata, reduction="sum")
    assert float(-ours) == pytest.approx(cph.log_likelihood_, abs=TOL)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
def test_equals_sksurv_objective_at_its_fit(ties):
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.linear_model.coxph import CoxPHOptimizer
    from sksurv.util import Surv

    x, time, event = _cohort(3)
    model = CoxPHSurvivalAnalysis(ties=ties).fit(x, Surv.from_arrays(event, time))
    # sksurv's objective: the average negative partial log-likelihood (alpha = 0)
    objective = CoxPHOptimizer(
        x, event, time, alpha=np.zeros(x.shape[1]), ties=ties
    ).nlog_likelihood(model.coef_)
    log_hz = torch.as_tensor(x @ model.coef_)
    ours = cox_partial_likelihood(time, event, log_hz, ties=ties, reduction="sum")
    assert float(ours) / len(time) == pytest.approx(objective, abs=1e-10)


@pytest.mark.parametrize("ties", ["breslow", "efron"])
@pytest.mark.parametrize("seed", [0, 1])
def test_heavy_ties_and_strata_against_quadratic_reference(ties, seed):
    rng = np.random.default_rng(seed)
    n = 120
    time = rng.integers(1, 6, n).astype(float)  # 5 distinct times for 120 samples
    event = rng.random(n) < 0.6
    strata = rng.choice(["a", "b", "c"], n)
    log_hz = torch.as_tensor(rng.normal(size=n) * 2)
    for s in (None, strata):
        ours = cox_partial_likelihood(time, event, log_hz, ties=ties, strata=s, reduction="sum")
        ref = cox_nll_quadratic(time, event, log_hz.numpy(), ties=ties, strata=s)
        assert float(ours) == pytest.approx(ref, abs=TOL)


def test_against_torchsurv_including_its_reduction_convention():
    from torchsurv.loss.cox import neg_partial_log_likelihood

    _x, time, event = _cohort(5, n=400)
    log_hz = torch.as_tensor(np.random.default_rng(5).normal(size=len(time)))
    t_t, e_t = torch.as_tensor(time), torch.as_tensor(event)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchsurv warns about ties on every call
        for ties in ("efron", "breslow"):
            ts_sum = neg_partial_log_likelihood(log_hz, e_t, t_t, ties_method=ties, reduction="sum")
            ts_mean = neg_partial_log_likelihood(
                log_hz, e_t, t_t, ties_method=ties, reduction="mean"
            )
            ours_sum = cox_partial_likelihood(time, event, log_hz, ties=ties, reduction="sum")
            ours_mean = cox_partial_likelihood(time, event, log_hz, ties=ties, reduction="mean")
            # torchsurv accumulates tied groups in float32: compare at float32 precision
            assert float(ours_sum) == pytest.approx(float(ts_sum), rel=1e-6)
            # with ties torchsurv's mean is over distinct event times, ours over events
            n_groups = len(np.unique(time[event]))
            assert float(ours_sum) / n_groups == pytest.approx(float(ts_mean), rel=1e-6)
            assert float(ours_mean) == pytest.approx(float(ours_sum) / event.sum(), rel=1e-12)
        # without ties both means are over events and agree
        t_cont = time + np.random.default_rng(1).uniform(0, 0.5, len(time))
        ts = neg_partial_log_likelihood(log_hz, e_t, torch.as_tensor(t_cont), reduction="mean")
    assert float(cox_partial_likelihood(t_cont, event, log_hz)) == pytest.approx(
        float(ts), rel=1e-6
    )


def test_reduction_none_splits_tie_groups_evenly_and_ignores_input_order():
    time = np.array([2.0, 1.0, 2.0, 3.0, 2.0, 1.0])
    event = np.array([1, 1, 1, 0, 1, 0])
    log_hz = torch.tensor([0.3, -0.2, 1.1, 0.5, -0.7, 0.0], dtype=torch.float64)
    per = cox_partial_likelihood(time, event, log_hz, reduction="none")
    assert per.shape == (6,)
    assert float(per[3]) == 0.0 and float(per[5]) == 0.0  # censored
    assert float(per.sum()) == pytest.approx(
        cox_nll_quadratic(time, event, log_hz.numpy()), abs=TOL
    )
    # the three events at t=2 share the group's denominator term: per_i + eta_i is equal
    shared = (per + log_hz)[[0, 2, 4]]
    assert torch.allclose(shared, shared[0].expand(3), atol=1e-12)
    perm = np.array([4, 0, 5, 2, 1, 3])
    per_perm = cox_partial_likelihood(time[perm], event[perm], log_hz[perm], reduction="none")
    assert torch.allclose(per_perm, per[perm], atol=1e-12)


def test_stable_for_extreme_log_hazards_and_shift_invariant():
    rng = np.random.default_rng(11)
    n = 60
    time = rng.integers(1, 10, n).astype(float)
    event = rng.random(n) < 0.7
    spread = rng.uniform(-900, 900, n)  # exp() overflows in float64
    spread[np.argmax(time)], spread[np.argmin(time)] = -900.0, 900.0  # forces the exact path
    spread = torch.as_tensor(spread)
    for ties in ("efron", "breslow"):
        ours = cox_partial_likelihood(time, event, spread, ties=ties, reduction="sum")
        assert torch.isfinite(ours)
        ref = cox_nll_quadratic(time, event, spread.numpy(), ties=ties)
        assert float(ours) == pytest.approx(ref, rel=1e-10)
    base = torch.as_tensor(rng.normal(size=n))
    a = cox_partial_likelihood(time, event, base)
    b = cox_partial_likelihood(time, event, base + 500.0)
    assert float(a) == pytest.approx(float(b), abs=1e-9)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_gradcheck(ties, reduction):
    rng = np.random.default_rng(2)
    time = rng.integers(1, 5, 14).astype(float)
    event = rng.random(14) < 0.6
    strata = rng.integers(0, 2, 14)
    x = torch.tensor(rng.normal(size=14), dtype=torch.float64, requires_grad=True)
    for s in (None, strata):
        assert torch.autograd.gradcheck(
            lambda z, s=s: cox_partial_likelihood(
                time, event, z, ties=ties, strata=s, reduction=reduction
            ),
            (x,),
        )


def test_float32_log_hz_of_shape_n_by_1_and_tensor_inputs():
    time = torch.tensor([3.0, 1.0, 2.0, 2.0])
    event = torch.tensor([True, True, False, True])
    log_hz = torch.tensor([[0.1], [0.4], [-0.3], [0.2]], requires_grad=True)
    loss = cox_partial_likelihood(time, event, log_hz)
    loss.backward()
    assert loss.dtype == torch.float32 and log_hz.grad.shape == (4, 1)
    ref = cox_nll_quadratic(time.numpy(), event.numpy(), log_hz.detach().numpy().ravel()) / 3
    assert loss.item() == pytest.approx(ref, rel=1e-6)


def test_no_event_warns_and_returns_connected_zero():
    x = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    with pytest.warns(DegenerateBatchWarning, match="no event"):
        loss = cox_partial_likelihood([1.0, 2.0, 3.0], [0, 0, 0], x)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(x.grad, torch.zeros(3))
    with pytest.warns(DegenerateBatchWarning):
        none = cox_partial_likelihood([1.0, 2.0, 3.0], [0, 0, 0], x, reduction="none")
    assert none.shape == (3,) and not none.any()


def test_batch_of_one_warns():
    x = torch.tensor([0.3], requires_grad=True)
    with pytest.warns(DegenerateBatchWarning, match="one sample"):
        loss = cox_partial_likelihood([4.0], [1], x)
    assert loss.item() == 0.0
    loss.backward()


def test_user_errors_name_the_input():
    x = torch.zeros(3)
    with pytest.raises(UnknownOptionError, match="efron"):
        cox_partial_likelihood([1, 2, 3], [1, 0, 1], x, ties="efrom")
    with pytest.raises(UnknownOptionError, match="mean"):
        cox_partial_likelihood([1, 2, 3], [1, 0, 1], x, reduction="average")
    with pytest.raises(SurvivalInputError, match="strata"):
        cox_partial_likelihood([1, 2, 3], [1, 0, 1], x, strata=[0, 1])
    with pytest.raises(SurvivalInputError, match="log_hz"):
        cox_partial_likelihood([1, 2, 3], [1, 0, 1], torch.zeros(3, 2))
    with pytest.raises(SurvivalInputError, match="log_hz"):
        cox_partial_likelihood([1, 2, 3], [1, 0, 1], torch.tensor([0.0, float("nan"), 1.0]))
    with pytest.raises(SurvivalInputError, match="time"):
        cox_partial_likelihood([1, -2, 3], [1, 0, 1], x)
    with pytest.raises(SurvivalInputError, match="event"):
        cox_partial_likelihood([1, 2, 3], [1, 2, 1], x)
