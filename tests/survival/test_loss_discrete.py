"""Discrete-time NLL against a loop, pycox's formula, the life table, and its MLE."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _survival_refs import discrete_nll_loop, pycox_nll_logistic_hazard, to_pycox_index

from oncofusion.errors import SurvivalInputError, UnknownOptionError
from oncofusion.survival import Discretizer, survival_from_hazard
from oncofusion.survival.losses import DegenerateBatchWarning, discrete_nll, hazard_smoothness

TOL = 1e-10


def _labels(seed: int, n: int = 40, k: int = 6):
    rng = np.random.default_rng(seed)
    event = (rng.random(n) < 0.5).astype(int)
    idx = np.where(event == 1, rng.integers(0, k, n), rng.integers(0, k + 1, n))
    logits = torch.as_tensor(rng.normal(size=(n, k)) * 2)
    return idx, event, logits


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_direct_loop_of_dmanet_formula(seed):
    idx, event, logits = _labels(seed)
    per = discrete_nll(idx, event, logits, reduction="none")
    np.testing.assert_allclose(per.numpy(), discrete_nll_loop(logits.numpy(), idx, event), atol=TOL)
    assert float(discrete_nll(idx, event, logits)) == pytest.approx(per.mean().item(), abs=TOL)
    assert float(discrete_nll(idx, event, logits, reduction="sum")) == pytest.approx(
        per.sum().item(), abs=TOL
    )


def test_equals_pycox_nll_logistic_hazard():
    idx, event, logits = _labels(4, n=60, k=8)
    # pycox has one more output, for t <= c_0, which every sample survives: give it a
    # logit and remove its (known) contribution softplus(phi0) from pycox's loss
    phi0 = torch.full((60, 1), -1.3, dtype=torch.float64)
    phi = torch.cat([phi0, logits], dim=1)
    ref = pycox_nll_logistic_hazard(
        phi, torch.as_tensor(to_pycox_index(idx, event)), torch.as_tensor(event)
    )
    ref = ref - torch.nn.functional.softplus(phi0).view(-1)
    ours = discrete_nll(idx, event, logits, reduction="none")
    assert torch.allclose(ours, ref, atol=TOL)


def test_mle_of_constant_hazard_is_events_over_at_risk_intervals():
    idx, event, _ = _labels(5, n=200, k=10)
    d = event.sum()
    at_risk = np.where(event == 1, idx + 1, idx).sum()  # intervals at risk, convention above
    h_hat = d / at_risk
    theta = torch.tensor(np.log(h_hat / (1 - h_hat)), requires_grad=True)
    loss = discrete_nll(idx, event, theta.expand(200, 10), reduction="sum")
    (grad,) = torch.autograd.grad(loss, theta)
    assert abs(grad.item()) < 1e-9
    # and it is the minimum: a numerical optimiser from elsewhere lands there
    theta2 = torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS(
        [theta2], max_iter=100, tolerance_grad=1e-12, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        val = discrete_nll(idx, event, theta2.expand(200, 10), reduction="sum")
        val.backward()
        return val

    opt.step(closure)
    assert torch.sigmoid(theta2).item() == pytest.approx(h_hat, abs=1e-8)


def test_per_interval_mle_reproduces_kaplan_meier_of_lifelines():
    """Free hazards per interval maximise at d_k / n_k; their product is the KM estimate
    on times moved to interval ends (events) and starts (censorings), pycox's rule."""
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(6)
    time = rng.exponential(5, 300).round(2) + 0.01
    event = rng.random(300) < 0.6
    disc = Discretizer.from_cuts([0, 1, 2, 4, 6, 9, 12])
    lab = disc.transform(time, event)
    k = disc.n_intervals
    at_risk = (np.arange(k)[None, :] < lab.interval_index[:, None]) | (
        (np.arange(k)[None, :] == lab.interval_index[:, None]) & lab.event[:, None]
    )
    d = np.bincount(lab.interval_index[lab.event], minlength=k)
    h_hat = d / at_risk.sum(0)
    logit = torch.tensor(np.log(h_hat / (1 - h_hat)), requires_grad=True)
    loss = discrete_nll(lab.interval_index, lab.event, logit.expand(300, k), reduction="sum")
    (grad,) = torch.autograd.grad(loss, logit)
    assert grad.abs().max() < 1e-9
    cuts = disc.cuts
    moved = np.where(
        lab.event, cuts[np.minimum(lab.interval_index + 1, k)], cuts[lab.interval_index]
    )
    km = KaplanMeierFitter().fit(moved, lab.event)
    ref = km.survival_function_at_times(cuts[1:]).to_numpy()
    np.testing.assert_allclose(survival_from_hazard(h_hat), ref, atol=1e-12)


def test_balanced_event_weight_follows_dmanet():
    idx, event, logits = _labels(7)
    at_risk = (np.arange(6)[None, :] < idx[:, None]) | (
        (np.arange(6)[None, :] == idx[:, None]) & (event[:, None] == 1)
    )
    y = (np.arange(6)[None, :] == idx[:, None]) & (event[:, None] == 1)
    n_all, n_ev = at_risk.sum(), y.sum()
    w = np.where(y, n_all / (2 * n_ev), n_all / (2 * (n_all - n_ev))) * at_risk
    p = 1 / (1 + np.exp(-logits.numpy()))
    ref = -(w * (y * np.log(p) + (1 - y) * np.log1p(-p))).sum(1).mean()
    assert float(discrete_nll(idx, event, logits, event_weight="balanced")) == pytest.approx(
        ref, abs=TOL
    )
    explicit = discrete_nll(
        idx, event, logits, event_weight=(n_all / (2 * n_ev), n_all / (2 * (n_all - n_ev)))
    )
    assert float(explicit) == pytest.approx(ref, abs=TOL)


def test_label_smoothing_targets():
    idx, event, logits = _labels(8)
    eps = 0.05
    at_risk = (np.arange(6)[None, :] < idx[:, None]) | (
        (np.arange(6)[None, :] == idx[:, None]) & (event[:, None] == 1)
    )
    y = ((np.arange(6)[None, :] == idx[:, None]) & (event[:, None] == 1)).astype(float)
    ys = y * (1 - eps) + eps / 2
    p = 1 / (1 + np.exp(-logits.numpy()))
    ref = -(at_risk * (ys * np.log(p) + (1 - ys) * np.log1p(-p))).sum(1).mean()
    assert float(discrete_nll(idx, event, logits, label_smoothing=eps)) == pytest.approx(
        ref, abs=TOL
    )


def test_stable_for_extreme_logits():
    idx = np.array([0, 2, 3])
    event = np.array([1, 0, 1])
    logits = torch.tensor(
        [[800.0, -800.0, 0.0], [-800.0, -800.0, 5.0], [-800.0, -900.0, 700.0]], dtype=torch.float64
    )
    with pytest.raises(SurvivalInputError):  # index 3 for an event is past the 3 intervals
        discrete_nll(idx, event, logits)
    loss = discrete_nll(np.array([0, 2, 2]), event, logits, reduction="none")
    assert torch.isfinite(loss).all()
    assert float(loss[0]) == pytest.approx(0.0, abs=1e-12)  # certain event, predicted


@pytest.mark.parametrize("kwargs", [{}, {"event_weight": "balanced"}, {"label_smoothing": 0.1}])
def test_gradcheck(kwargs):
    idx, event, logits = _labels(9, n=7, k=4)
    x = logits.clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda z: discrete_nll(idx, event, z, **kwargs), (x,))


def test_degenerate_batches():
    logits = torch.zeros(3, 4, requires_grad=True)
    with pytest.warns(DegenerateBatchWarning, match="no sample is at risk"):
        loss = discrete_nll([0, 0, 0], [0, 0, 0], logits)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros(3, 4))
    # no event at all is a valid likelihood (censored contributions only): no warning
    loss = discrete_nll([2, 4, 1], [0, 0, 0], torch.zeros(3, 4, dtype=torch.float64))
    assert float(loss) == pytest.approx(7 * np.log(2) / 3, abs=TOL)
    with pytest.warns(DegenerateBatchWarning, match="balanced"):
        a = discrete_nll(
            [2, 4, 1], [0, 0, 0], torch.zeros(3, 4, dtype=torch.float64), event_weight="balanced"
        )
    assert float(a) == pytest.approx(float(loss), abs=TOL)
    one = discrete_nll([1], [1], torch.zeros(1, 4, dtype=torch.float64))  # a batch of one
    assert float(one) == pytest.approx(2 * np.log(2), abs=TOL)


def test_user_errors():
    logits = torch.zeros(2, 3)
    with pytest.raises(SurvivalInputError, match="interval_index"):
        discrete_nll([0, 4], [0, 0], logits)  # censored index may be K=3 at most
    with pytest.raises(SurvivalInputError, match="interval_index"):
        discrete_nll([0, 3], [0, 1], logits)  # an event cannot be at K
    with pytest.raises(SurvivalInputError, match="whole"):
        discrete_nll([0.5, 1], [0, 1], logits)
    with pytest.raises(SurvivalInputError, match="one entry per prediction row"):
        discrete_nll([0, 1, 2], [0, 1, 1], logits)
    with pytest.raises(SurvivalInputError, match="label_smoothing"):
        discrete_nll([0, 1], [0, 1], logits, label_smoothing=1.0)
    with pytest.raises(SurvivalInputError, match="event_weight"):
        discrete_nll([0, 1], [0, 1], logits, event_weight="inverse")
    with pytest.raises(SurvivalInputError, match="event_weight"):
        discrete_nll([0, 1], [0, 1], logits, event_weight=(1.0, -2.0))
    with pytest.raises(UnknownOptionError, match="Available: mean, none, sum"):
        discrete_nll([0, 1], [0, 1], logits, reduction="avg")
    with pytest.raises(SurvivalInputError, match="torch.Tensor"):
        discrete_nll([0, 1], [0, 1], np.zeros((2, 3)))
    with pytest.raises(SurvivalInputError, match="floating"):
        discrete_nll([0, 1], [0, 1], torch.zeros(2, 3, dtype=torch.long))


def test_hazard_smoothness_value_gradcheck_and_single_interval():
    logit = torch.tensor(
        [[0.0, 1.0, 3.0], [2.0, 2.0, -1.0]], dtype=torch.float64, requires_grad=True
    )
    assert hazard_smoothness(logit, reduction="none").tolist() == [5.0, 9.0]
    assert hazard_smoothness(logit).item() == 7.0
    assert hazard_smoothness(logit, reduction="sum").item() == 14.0
    assert torch.autograd.gradcheck(lambda z: hazard_smoothness(z), (logit,))
    single = torch.zeros(2, 1, requires_grad=True)
    with pytest.warns(DegenerateBatchWarning, match="single interval"):
        out = hazard_smoothness(single)
    out.backward()
    assert out.item() == 0.0
