"""DeepHit (single and competing risks) and its ranking loss against pycox's formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _survival_refs import deephit_cr_reference, deephit_single_reference

from oncofusion.errors import SurvivalInputError, UnknownOptionError
from oncofusion.survival.losses import (
    DegenerateBatchWarning,
    deephit_competing_loss,
    deephit_loss,
    ranking_loss,
)

TOL = 1e-10


def _labels(seed: int, n: int = 30, k: int = 5, n_risks: int = 1):
    rng = np.random.default_rng(seed)
    event = np.where(rng.random(n) < 0.6, rng.integers(1, n_risks + 1, n), 0)
    idx = np.where(event > 0, rng.integers(0, k, n), rng.integers(0, k + 1, n))
    return idx, event


def test_ranking_loss_against_pairwise_loop():
    idx, event = _labels(0)
    rng = np.random.default_rng(0)
    cum = torch.as_tensor(np.sort(rng.random((30, 5)), axis=1))
    sigma = 0.3
    ref = np.zeros(30)
    pairs = 0
    for i in range(30):
        for j in range(30):
            if event[i] == 1 and idx[j] > idx[i]:  # j known to survive i's event interval
                ref[i] += np.exp(-(cum[i, idx[i]] - cum[j, idx[i]]).item() / sigma)
                pairs += 1
    ref /= 30
    assert pairs > 0
    ours = ranking_loss(idx, event, cum, sigma=sigma, reduction="none")
    np.testing.assert_allclose(ours.numpy(), ref, atol=TOL)
    assert ranking_loss(idx, event, cum, sigma=sigma).item() == pytest.approx(ref.mean(), abs=TOL)


@pytest.mark.parametrize("seed", [1, 2])
def test_deephit_single_against_pycox(seed):
    idx, event = _labels(seed)
    logits = torch.as_tensor(np.random.default_rng(seed).normal(size=(30, 5)) * 1.5)
    alpha, sigma = 0.7, 0.2
    nll_ref, rank_ref = deephit_single_reference(logits, idx, event, sigma)
    ours = deephit_loss(idx, event, logits, alpha=alpha, sigma=sigma, reduction="none")
    assert torch.allclose(ours, nll_ref + alpha * rank_ref, atol=TOL)
    # pycox's DeepHitSingleLoss is a*nll + (1-a)*rank: the same with alpha = (1-a)/a
    a = 1 / (1 + alpha)
    pycox_loss = a * nll_ref.mean() + (1 - a) * rank_ref.mean()
    assert deephit_loss(idx, event, logits, alpha=alpha, sigma=sigma).item() == pytest.approx(
        pycox_loss.item() / a, abs=TOL
    )


def test_deephit_competing_against_pycox():
    idx, event = _labels(3, n=40, k=4, n_risks=3)
    logits = torch.as_tensor(np.random.default_rng(3).normal(size=(40, 3, 4)))
    nll_ref, rank_ref = deephit_cr_reference(logits, idx, event, 0.5)
    ours = deephit_competing_loss(idx, event, logits, alpha=2.0, sigma=0.5, reduction="none")
    assert torch.allclose(ours, nll_ref + 2.0 * rank_ref, atol=TOL)


def test_competing_with_one_risk_equals_single_and_tails_agree():
    idx, event = _labels(4)
    logits = torch.as_tensor(np.random.default_rng(4).normal(size=(30, 5)))
    single = deephit_loss(idx, event, logits, reduction="none")
    cr = deephit_competing_loss(idx, event, logits.unsqueeze(1), reduction="none")
    assert torch.allclose(single, cr, atol=TOL)
    explicit = deephit_loss(
        idx, event, torch.nn.functional.pad(logits, (0, 1)), tail="explicit", reduction="none"
    )
    assert torch.allclose(single, explicit, atol=TOL)


def test_gradcheck():
    idx, event = _labels(5, n=8, k=3)
    x = torch.as_tensor(np.random.default_rng(5).normal(size=(8, 3))).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: deephit_loss(idx, event, z, alpha=0.5), (x,))
    cum = torch.as_tensor(np.sort(np.random.default_rng(6).random((8, 3)), axis=1)).requires_grad_()
    assert torch.autograd.gradcheck(lambda z: ranking_loss(idx, event, z, sigma=0.5), (cum,))
    idx_cr, ev_cr = _labels(7, n=8, k=3, n_risks=2)
    xc = torch.as_tensor(np.random.default_rng(7).normal(size=(8, 2, 3))).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: deephit_competing_loss(idx_cr, ev_cr, z, alpha=0.5), (xc,)
    )


def test_no_comparable_pair_warns():
    cum = torch.rand(3, 4, requires_grad=True)
    with pytest.warns(DegenerateBatchWarning, match="comparable pair"):
        loss = ranking_loss([1, 2, 4], [0, 0, 0], cum)
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(cum.grad, torch.zeros(3, 4))
    logits = torch.zeros(3, 4, dtype=torch.float64)
    with pytest.warns(DegenerateBatchWarning, match="ranking term is zero"):
        loss = deephit_loss([1, 2, 4], [0, 0, 0], logits)
    # the likelihood is still defined: uniform pmf over 5 cells, S(k) = (5 - k) / 5
    assert loss.item() == pytest.approx(-np.mean(np.log([4 / 5, 3 / 5, 1 / 5])), abs=TOL)
    with pytest.warns(DegenerateBatchWarning):
        deephit_competing_loss([1, 2, 4], [0, 0, 0], torch.zeros(3, 2, 4))


def test_batch_of_one_and_censored_past_grid():
    loss = deephit_loss([3], [0], torch.zeros(1, 3, dtype=torch.float64), alpha=0.0)
    assert loss.item() == pytest.approx(np.log(4), abs=TOL)  # only the tail remains: 1/4


def test_user_errors():
    with pytest.raises(SurvivalInputError, match="sigma"):
        ranking_loss([0, 1], [1, 0], torch.rand(2, 3), sigma=0.0)
    with pytest.raises(SurvivalInputError, match="alpha"):
        deephit_loss([0, 1], [1, 0], torch.rand(2, 3), alpha=-1.0)
    with pytest.raises(UnknownOptionError, match="implicit"):
        deephit_loss([0, 1], [1, 0], torch.rand(2, 3), tail="implict")
    with pytest.raises(SurvivalInputError, match="event_type"):
        deephit_competing_loss([0, 1], [3, 0], torch.rand(2, 2, 3))
    with pytest.raises(SurvivalInputError, match="event_type"):
        deephit_competing_loss([0, 1], [1.5, 0], torch.rand(2, 2, 3))
    with pytest.raises(SurvivalInputError, match="logits"):
        deephit_competing_loss([0, 1], [1, 0], torch.rand(2, 3))
