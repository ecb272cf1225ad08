"""IPCW Brier loss against scikit-survival's brier_score; masked BCE against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.errors import SurvivalInputError
from oncofusion.survival import censoring_kaplan_meier
from oncofusion.survival.losses import (
    CensoringWeights,
    DegenerateBatchWarning,
    binary_outcome_loss,
    censoring_weights,
    horizon_labels,
    ipcw_brier_loss,
)

TOL = 1e-10


def _data(seed: int, n: int = 150):
    rng = np.random.default_rng(seed)
    t_ev = rng.exponential(8, n)
    t_c = rng.uniform(0, 15, n)
    time = np.minimum(t_ev, t_c) + 0.01  # continuous: no event/censoring ties
    event = t_ev <= t_c
    return time, event


def _surv(n: int, k: int, seed: int) -> torch.Tensor:
    h = np.random.default_rng(seed).uniform(0.02, 0.3, (n, k))
    return torch.as_tensor(np.cumprod(1 - h, axis=1))


@pytest.mark.parametrize("t_eval", [2.0, 5.0, 9.0])
def test_single_interval_equals_sksurv_brier_score(t_eval):
    from sksurv.metrics import brier_score
    from sksurv.util import Surv

    train_t, train_e = _data(0, 300)
    time, event = _data(1)
    surv = _surv(len(time), 1, 2)
    grid = [0.0, t_eval]
    g = censoring_weights(time, grid, train_t, train_e)
    ours = ipcw_brier_loss(time, event, surv, grid, censoring_survival=g)
    _, ref = brier_score(
        Surv.from_arrays(train_e, train_t), Surv.from_arrays(event, time), surv.numpy(), [t_eval]
    )
    assert ours.item() == pytest.approx(ref[0], abs=TOL)


def test_integrated_over_grid_is_width_weighted_mean_of_sksurv_scores():
    from sksurv.metrics import brier_score
    from sksurv.util import Surv

    train_t, train_e = _data(3, 300)
    time, event = _data(4)
    grid = np.array([0.0, 1.0, 2.5, 4.0, 7.0, 10.0])
    surv = _surv(len(time), 5, 5)
    g = censoring_weights(time, grid, train_t, train_e)
    ours = ipcw_brier_loss(time, event, surv, grid, censoring_survival=g)
    _, ref = brier_score(
        Surv.from_arrays(train_e, train_t), Surv.from_arrays(event, time), surv.numpy(), grid[1:]
    )
    assert ours.item() == pytest.approx(np.sum(ref * np.diff(grid)) / 10.0, abs=TOL)
    # a KaplanMeier (callable with left_limit) gives the same weights
    km = censoring_kaplan_meier(train_t, train_e)
    assert ipcw_brier_loss(time, event, surv, grid, censoring_survival=km).item() == pytest.approx(
        ours.item(), abs=TOL
    )
    # without weights: the censoring KM of the batch itself
    own = censoring_weights(time, grid, time, event)
    assert ipcw_brier_loss(time, event, surv, grid).item() == pytest.approx(
        ipcw_brier_loss(time, event, surv, grid, censoring_survival=own).item(), abs=TOL
    )


def test_brier_gradcheck_and_all_censored_batch():
    time, event = _data(6, 10)
    grid = [0.0, 2.0, 4.0, 6.0]
    g = censoring_weights(time, grid, *_data(7, 200))
    s = _surv(10, 3, 8).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: ipcw_brier_loss(time, event, z, grid, censoring_survival=g), (s,)
    )
    # all censored: only the 'still event-free' terms remain; finite and differentiable
    w = CensoringWeights(at_time=np.ones(3), at_grid=np.array([0.8, 0.5]))
    surv = torch.tensor([[0.9, 0.7], [0.6, 0.6], [1.0, 0.5]], dtype=torch.float64)
    loss = ipcw_brier_loss(
        [5.0, 1.5, 0.5], [0, 0, 0], surv, [0.0, 1.0, 2.0], censoring_survival=w, reduction="none"
    )
    ref = [0.5 * (0.1**2 / 0.8 + 0.3**2 / 0.5), 0.5 * 0.4**2 / 0.8, 0.0]
    np.testing.assert_allclose(loss.numpy(), ref, atol=TOL)


def test_brier_user_errors():
    time, event = np.array([1.0, 3.0]), np.array([1, 0])
    surv = torch.full((2, 2), 0.5, dtype=torch.float64)
    with pytest.raises(SurvivalInputError, match="probabilities"):
        ipcw_brier_loss(time, event, surv + 1, [0, 1, 2])
    with pytest.raises(SurvivalInputError, match="one column per interval"):
        ipcw_brier_loss(time, event, surv, [0, 1, 2, 3])
    with pytest.raises(SurvivalInputError, match="strictly increasing"):
        ipcw_brier_loss(time, event, surv, [0, 2, 1])
    zero = CensoringWeights(at_time=np.ones(2), at_grid=np.array([1.0, 0.0]))
    with pytest.raises(SurvivalInputError, match="infinite"):
        ipcw_brier_loss(np.array([1.0, 3.0]), event, surv, [0, 1, 2], censoring_survival=zero)
    with pytest.raises(SurvivalInputError, match="censoring_weights"):
        ipcw_brier_loss(
            time,
            event,
            surv,
            [0, 1, 2],
            censoring_survival=CensoringWeights(np.ones(3), np.ones(2)),
        )


def test_binary_outcome_loss_equals_sklearn_log_loss_on_observed():
    from sklearn.metrics import log_loss

    time, event = _data(9, 200)
    lab = horizon_labels(time, event, [3.0, 6.0], train_time=time, train_event=event)
    logit = torch.as_tensor(np.random.default_rng(9).normal(size=(200, 2)))
    p = torch.sigmoid(logit).numpy()
    for col in range(2):
        m = lab.observed[:, col]
        ref = log_loss(lab.target[m, col], p[m, col], labels=[0, 1])
        ours = binary_outcome_loss(lab.target[:, col], logit[:, col], observed_mask=m)
        assert ours.item() == pytest.approx(ref, abs=1e-9)
        ref_w = log_loss(
            lab.target[m, col], p[m, col], sample_weight=lab.ipcw_weight[m, col], labels=[0, 1]
        )
        ours_w = binary_outcome_loss(
            lab.target[:, col], logit[:, col], observed_mask=m, weight=lab.ipcw_weight[:, col]
        )
        assert ours_w.item() == pytest.approx(ref_w, abs=1e-9)
    x = logit[:12].clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda z: binary_outcome_loss(
            lab.target[:12], z, observed_mask=lab.observed[:12], weight=lab.ipcw_weight[:12]
        ),
        (x,),
    )


def test_horizon_labels_by_hand():
    time = np.array([1.0, 2.0, 4.0, 5.0])
    event = np.array([1, 0, 1, 0])
    lab = horizon_labels(time, event, [3.0])
    assert lab.target[:, 0].tolist() == [1, 0, 0, 0]
    assert lab.observed[:, 0].tolist() == [True, False, True, True]
    # censoring KM of the data itself: G drops at 2 (1 of 3 at risk) and at 5
    assert lab.ipcw_weight[:, 0].tolist() == pytest.approx([1.0, 0.0, 1.5, 1.5])


def test_binary_degenerate_and_errors():
    z = torch.zeros(3, requires_grad=True)
    with pytest.warns(DegenerateBatchWarning, match="no observed outcome"):
        loss = binary_outcome_loss([1, 0, 1], z, observed_mask=[False, False, False])
    loss.backward()
    assert loss.item() == 0.0
    with pytest.warns(DegenerateBatchWarning):
        none = binary_outcome_loss([1, 0, 1], z, observed_mask=[0, 0, 0], reduction="none")
    assert none.shape == (3,)
    with pytest.raises(SurvivalInputError, match="shape"):
        binary_outcome_loss([1, 0], z, observed_mask=[1, 1, 1])
    with pytest.raises(SurvivalInputError, match="target"):
        binary_outcome_loss([2, 0, 1], z, observed_mask=[1, 1, 1])
    with pytest.raises(SurvivalInputError, match="weight"):
        binary_outcome_loss([1, 0, 1], z, observed_mask=[1, 1, 1], weight=[1.0, -1.0, 1.0])
    with pytest.raises(SurvivalInputError, match="horizons"):
        horizon_labels([1.0, 2.0], [1, 0], [0.0])
