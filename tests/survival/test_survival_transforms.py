"""Hazard/survival/PMF conversions, interpolation, RMST and landmark conditioning."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import quad, solve_ivp

from oncofusion.errors import SurvivalInputError, UnknownOptionError
from oncofusion.survival import (
    cumulative_hazard_from_hazard,
    cumulative_risk_from_hazard,
    hazard_from_pmf,
    hazard_from_survival,
    hazard_rate_from_hazard,
    interpolate_survival,
    landmark_conditional,
    pmf_from_hazard,
    restricted_mean_survival_time,
    survival_from_hazard,
    survival_from_logit_hazard,
)

TOL = 1e-12
H = np.array([[0.1, 0.2, 0.05, 0.3], [0.0, 0.5, 0.25, 0.1]])
GRID = np.array([0.0, 1.0, 3.0, 4.0, 6.0])


def test_survival_and_pmf_by_hand():
    s = survival_from_hazard(H)
    np.testing.assert_allclose(s, np.cumprod(1 - H, axis=1), atol=TOL)
    np.testing.assert_allclose(cumulative_risk_from_hazard(H), 1 - s, atol=TOL)
    np.testing.assert_allclose(cumulative_hazard_from_hazard(H), -np.log(s), atol=TOL)
    f = pmf_from_hazard(H)
    prev = np.hstack([np.ones((2, 1)), s[:, :-1]])
    np.testing.assert_allclose(f, H * prev, atol=TOL)
    np.testing.assert_allclose(pmf_from_hazard(H, with_tail=True).sum(1), 1.0, atol=TOL)
    np.testing.assert_allclose(hazard_from_pmf(f), H, atol=TOL)
    np.testing.assert_allclose(hazard_from_survival(s), H, atol=TOL)


def test_torch_in_torch_out_with_gradients():
    logit = torch.tensor(np.log(H[:1] / (1 - H[:1]) + 1e-300), requires_grad=True)
    s = survival_from_logit_hazard(logit)
    assert isinstance(s, torch.Tensor) and s.requires_grad
    np.testing.assert_allclose(s.detach().numpy(), survival_from_hazard(H[:1]), atol=TOL)
    assert torch.autograd.gradcheck(lambda z: survival_from_logit_hazard(z), (logit,))
    assert isinstance(survival_from_hazard(H), np.ndarray)


def test_extreme_logits_and_tiny_risks_stay_exact():
    logit = torch.tensor([[-1000.0, 1000.0, 0.0]], dtype=torch.float64)
    s = survival_from_logit_hazard(logit)
    assert torch.equal(s, torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64))
    tiny = np.full((1, 3), 1e-13)
    np.testing.assert_allclose(
        cumulative_risk_from_hazard(tiny), [[1e-13, 2e-13, 3e-13]], rtol=1e-9
    )


def test_hazard_rate_solves_the_survival_ode():
    """DMA-Net §2.3.1: with lambda_k = -log(1 - h_k)/width, dS/dt = -lambda S gives S(c_k)."""
    rate = hazard_rate_from_hazard(H[0], GRID)
    np.testing.assert_allclose(rate, -np.log1p(-H[0]) / np.diff(GRID), atol=TOL)
    np.testing.assert_allclose(hazard_rate_from_hazard(H[0]), -np.log1p(-H[0]), atol=TOL)

    def lam(t):
        return rate[min(np.searchsorted(GRID, t, side="right") - 1, 3)]

    sol = solve_ivp(
        lambda t, y: -lam(t) * y,
        (0, 6),
        [1.0],
        t_eval=[1.0, 2.0, 3.0, 3.5, 5.0, 6.0],
        rtol=1e-11,
        atol=1e-13,
        max_step=0.01,
    )
    ours = interpolate_survival(survival_from_hazard(H[0]), GRID, sol.t, method="exponential")
    np.testing.assert_allclose(ours, sol.y[0], atol=1e-8)


def test_interpolation_methods():
    s = survival_from_hazard(H)
    for method in ("step", "linear", "exponential"):
        np.testing.assert_allclose(
            interpolate_survival(s, GRID, GRID, method=method),
            np.hstack([np.ones((2, 1)), s]),
            atol=TOL,
        )
    mid = interpolate_survival(s, GRID, [2.0], method="linear")[:, 0]
    np.testing.assert_allclose(mid, (s[:, 0] + s[:, 1]) / 2, atol=TOL)
    geo = interpolate_survival(s, GRID, [2.0], method="exponential")[:, 0]
    np.testing.assert_allclose(geo, np.sqrt(s[:, 0] * s[:, 1]), atol=TOL)
    np.testing.assert_allclose(
        interpolate_survival(s, GRID, [2.9], method="step")[:, 0], s[:, 0], atol=TOL
    )
    np.testing.assert_allclose(
        interpolate_survival(s, GRID, [9.0], beyond="hold")[:, 0], s[:, -1], atol=TOL
    )
    with pytest.raises(SurvivalInputError, match="past the last cut"):
        interpolate_survival(s, GRID, [9.0])
    with pytest.raises(SurvivalInputError, match="non-negative"):
        interpolate_survival(s, GRID, [-1.0])
    with pytest.raises(UnknownOptionError, match="exponential"):
        interpolate_survival(s, GRID, [1.0], method="expo")
    with pytest.raises(SurvivalInputError, match="K \\+ 1"):
        interpolate_survival(s, GRID[1:], [1.0])
    # before a grid that starts later (a landmark grid), S = 1
    assert interpolate_survival(s[:1], GRID + 2, [1.0])[0, 0] == 1.0
    # survival reaching 0 inside the grid: no NaN
    dead = np.array([[0.5, 0.0, 0.0, 0.0]])
    out = interpolate_survival(dead, GRID, [0.5, 1.0, 2.0, 5.0])
    np.testing.assert_allclose(out, [[np.sqrt(0.5), 0.5, 0.0, 0.0]], atol=TOL)


def test_step_interpolation_equals_lifelines_kaplan_meier():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(0)
    time = rng.integers(1, 20, 100).astype(float)
    event = rng.random(100) < 0.7
    km = KaplanMeierFitter().fit(time, event)
    grid = np.r_[0.0, np.unique(time)]
    s = km.survival_function_at_times(grid[1:]).to_numpy()
    t = rng.uniform(0, grid[-1], 50)
    np.testing.assert_allclose(
        interpolate_survival(s, grid, t, method="step"),
        km.survival_function_at_times(t).to_numpy(),
        atol=TOL,
    )


def test_rmst_against_lifelines_and_quadrature():
    from lifelines import KaplanMeierFitter
    from lifelines.utils import restricted_mean_survival_time as lifelines_rmst

    rng = np.random.default_rng(1)
    time = rng.exponential(5, 80).round(1) + 0.1
    event = rng.random(80) < 0.8
    km = KaplanMeierFitter().fit(time, event)
    grid = np.r_[0.0, np.unique(time)]
    s = km.survival_function_at_times(grid[1:]).to_numpy()
    for tau in (3.0, 7.25):
        assert restricted_mean_survival_time(s, grid, tau, method="step") == pytest.approx(
            lifelines_rmst(km, t=tau), abs=1e-9
        )
    s2 = survival_from_hazard(H)
    for method in ("exponential", "linear"):
        for tau in (2.5, 6.0):
            ours = restricted_mean_survival_time(s2, GRID, tau, method=method)
            ref = [
                quad(
                    lambda u, i=i, m=method: interpolate_survival(
                        s2[i : i + 1], GRID, [u], method=m
                    )[0, 0],
                    0,
                    tau,
                    points=GRID[1:-1],
                    epsabs=1e-12,
                )[0]
                for i in range(2)
            ]
            np.testing.assert_allclose(ours, ref, atol=1e-9)
    np.testing.assert_allclose(
        restricted_mean_survival_time(s2, GRID, 6.0, method="linear"),
        np.trapezoid(np.hstack([np.ones((2, 1)), s2]), GRID, axis=1),
        atol=TOL,
    )
    dead = np.array([[0.5, 0.0, 0.0, 0.0]])
    assert restricted_mean_survival_time(dead, GRID, 6.0)[0] == pytest.approx(
        0.5 / np.log(2), abs=TOL
    )
    with pytest.raises(SurvivalInputError, match="tau"):
        restricted_mean_survival_time(s2, GRID, 7.0)
    x = torch.tensor(H + 0.01, requires_grad=True)  # away from 0: gradcheck perturbs
    assert torch.autograd.gradcheck(
        lambda z: restricted_mean_survival_time(survival_from_hazard(z), GRID, 5.0), (x,)
    )


def test_landmark_conditional():
    s = survival_from_hazard(H)
    cond, grid = landmark_conditional(s, GRID, 3.0)
    np.testing.assert_allclose(grid, [3.0, 4.0, 6.0])
    np.testing.assert_allclose(cond, s[:, 2:] / s[:, 1:2], atol=TOL)
    cond, grid = landmark_conditional(s, GRID, 2.0, method="exponential")
    s2 = interpolate_survival(s, GRID, [2.0])
    np.testing.assert_allclose(grid, [2.0, 3.0, 4.0, 6.0])
    np.testing.assert_allclose(cond, s[:, 1:] / s2, atol=TOL)
    # the conditional curve is a survival curve on its own grid
    np.testing.assert_allclose(interpolate_survival(cond, grid, [2.0])[:, 0], 1.0)
    ct, _ = landmark_conditional(torch.tensor(s, requires_grad=True), GRID, 2.0)
    assert isinstance(ct, torch.Tensor) and ct.requires_grad
    with pytest.raises(SurvivalInputError, match="landmark"):
        landmark_conditional(s, GRID, 6.0)
    with pytest.raises(SurvivalInputError, match="undefined"):
        landmark_conditional(np.array([[0.5, 0.0, 0.0, 0.0]]), GRID, 3.5)


def test_input_errors():
    with pytest.raises(SurvivalInputError, match="probabilities"):
        survival_from_hazard([[0.2, 1.2]])
    with pytest.raises(SurvivalInputError, match="non-increasing"):
        hazard_from_survival([[0.5, 0.7]])
    with pytest.raises(SurvivalInputError, match="more than 1"):
        hazard_from_pmf([[0.6, 0.6]])
    with pytest.raises(SurvivalInputError, match="NaN"):
        survival_from_logit_hazard(np.array([[np.nan]]))


def test_package_exports_resolve_lazily():
    import subprocess
    import sys

    import oncofusion.survival as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    code = "import sys, oncofusion.survival as s; s.Discretizer; s.kaplan_meier; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"  # numpy-only names do not pull in torch
