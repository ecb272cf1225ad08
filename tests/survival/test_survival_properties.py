"""Property tests (hypothesis) for the conversions, the discretizer and the losses."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from oncofusion.survival import (
    Discretizer,
    hazard_from_pmf,
    hazard_from_survival,
    interpolate_survival,
    pmf_from_hazard,
    survival_from_hazard,
    survival_from_logit_hazard,
)
from oncofusion.survival.losses import cox_partial_likelihood, deephit_loss, discrete_nll

SETTINGS = settings(max_examples=60, deadline=None)
logit_arrays = st.integers(1, 12).flatmap(
    lambda k: arrays(np.float64, (3, k), elements=st.floats(-800, 800, allow_nan=False))
)
hazard_arrays = st.integers(1, 10).flatmap(
    lambda k: arrays(np.float64, (2, k), elements=st.floats(0.0, 0.999))
)


@SETTINGS
@given(logit_arrays)
def test_survival_monotone_in_unit_interval_for_any_logits(logits):
    s = survival_from_logit_hazard(logits)
    assert np.isfinite(s).all() and (s >= 0).all() and (s <= 1).all()
    assert (np.diff(s, axis=1) <= 0).all()


@SETTINGS
@given(hazard_arrays)
def test_pmf_with_tail_sums_to_one_and_round_trips(h):
    pmf = pmf_from_hazard(h, with_tail=True)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(hazard_from_pmf(pmf, with_tail=True), h, rtol=1e-9, atol=1e-12)
    if pmf[:, -1].min() > 1e-3:  # without the tail it is 1 - sum(f): fine unless ~0
        np.testing.assert_allclose(hazard_from_pmf(pmf[:, :-1]), h, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hazard_from_survival(survival_from_hazard(h)), h, atol=1e-7)


@SETTINGS
@given(hazard_arrays, st.sampled_from(["step", "linear", "exponential"]), st.data())
def test_interpolation_exact_at_grid_and_monotone(h, method, data):
    k = h.shape[1]
    widths = data.draw(arrays(np.float64, k, elements=st.floats(0.1, 5.0)))
    grid = np.r_[0.0, np.cumsum(widths)]
    s = survival_from_hazard(h)
    at_grid = interpolate_survival(s, grid, grid, method=method)
    np.testing.assert_allclose(at_grid, np.hstack([np.ones((2, 1)), s]), atol=1e-12)
    t = np.sort(data.draw(arrays(np.float64, 8, elements=st.floats(0.0, float(grid[-1])))))
    vals = interpolate_survival(s, grid, t, method=method)
    assert (np.diff(vals, axis=1) <= 1e-12).all() and (vals >= 0).all() and (vals <= 1).all()


@SETTINGS
@given(st.lists(st.floats(0.0, 30.0), min_size=1, max_size=30), st.data())
def test_discretizer_labels_respect_their_interval(times, data):
    t = np.array(times)
    e = np.array(data.draw(st.lists(st.booleans(), min_size=len(t), max_size=len(t))))
    cuts = np.array([0.0, 1.0, 2.5, 6.0, 12.0, 24.0])
    lab = Discretizer.from_cuts(cuts).transform(t, e)
    k = 5
    for ti, ei, idx, eo in zip(t, e, lab.interval_index, lab.event):
        if eo:  # an event lies in (c_idx, c_idx+1] (or at c_0 for idx 0)
            assert ei and (cuts[idx] < ti or idx == 0) and ti <= cuts[idx + 1]
        else:  # censored (or past the grid): followed through idx intervals, not through idx + 1
            assert cuts[idx] <= ti and (idx == k or ti < cuts[idx + 1])


@SETTINGS
@given(st.integers(2, 25), st.integers(0, 10_000))
def test_losses_finite_and_cox_invariant_to_order(n, seed):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 6, n).astype(float)
    event = rng.random(n) < 0.5
    event[0] = True
    x = torch.as_tensor(rng.normal(size=n) * 5)
    perm = rng.permutation(n)
    a = cox_partial_likelihood(time, event, x, reduction="sum")
    b = cox_partial_likelihood(time[perm], event[perm], x[perm], reduction="sum")
    assert torch.isfinite(a) and abs(a.item() - b.item()) < 1e-9
    assert a.item() >= -1e-12  # a negative log of a probability
    idx = np.minimum(time.astype(int) - 1, 3)
    logits = torch.as_tensor(rng.normal(size=(n, 4)) * 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for loss in (discrete_nll(idx, event, logits), deephit_loss(idx, event, logits)):
            assert torch.isfinite(loss) and loss.item() >= 0
