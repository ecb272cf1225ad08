"""Decision targets (MM-Care): P_OS(tau), P_LC(tau) and the expected benefit, read off a
per-arm output, equal what ArmPredictions and the recommendation compute from it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.errors import ConfigError, UnknownOptionError
from oncofusion.explain import DecisionTarget, decision_targets
from oncofusion.models.mmcare_data import outputs_to_numpy
from oncofusion.models.mmcare_outputs import ArmPredictions
from oncofusion.nn.heads.per_arm import PerArmHead

ARMS = ["sbrt", "surgery"]
CUTS = np.arange(0.0, 61.0, 6.0)  # 10 intervals of 6 months
LC_H = [12.0, 36.0]


def _output(lc: str = "binary", seed: int = 0, n: int = 7) -> dict:
    torch.manual_seed(seed)
    head = PerArmHead(in_features=5, arms=ARMS, n_intervals=10, n_lc=2, lc=lc)
    with torch.no_grad():
        head.heads["sbrt"]["lc"][-1].bias.copy_(torch.tensor([0.5, -0.5]))  # P_LC non-monotone raw
    with torch.no_grad():
        return {"arms": head(torch.randn(n, 5))}


def _arm_predictions(out: dict, lc: str) -> ArmPredictions:
    haz, lc_c = outputs_to_numpy(out, ARMS, 2, lc)
    n = haz.shape[0]
    return ArmPredictions(
        patient_ids=[f"p{i}" for i in range(n)], arms=ARMS, cuts=CUTS, os_hazard=haz,
        lc_horizons=np.asarray(LC_H), lc_control=lc_c, received=np.full(n, "", dtype=object),
        propensity=np.full((n, 2), 0.5), outside_support=np.zeros(n, bool),
    )  # fmt: skip


def _per_arm(out: dict) -> dict:
    return {a: out["arms"][a] for a in ARMS}


@pytest.mark.parametrize("lc", ["binary", "discrete_time"])
@pytest.mark.parametrize("horizon", [36.0, 33.0])  # on the grid, and between two cuts
def test_targets_equal_the_per_arm_predictions_and_the_recommendation(lc: str, horizon: float) -> None:
    out = _output(lc)
    ap = _arm_predictions(out, lc)
    per_arm = _per_arm(out)
    lc_h = [12.0, horizon]
    ap.lc_horizons = np.asarray(lc_h)
    rec = ap.recommend(alpha=0.7, beta=0.3, horizon=horizon)
    p_os = ap.os_at([horizon])[..., 0]
    for j, arm in enumerate(ARMS):
        ts = decision_targets(ARMS, cuts=CUTS, horizon=horizon, lc_horizons=lc_h, recommended=arm)
        with torch.no_grad():
            np.testing.assert_allclose(ts[f"os_{arm}"](per_arm).numpy(), p_os[:, j], rtol=1e-5)
            np.testing.assert_allclose(ts[f"lc_{arm}"](per_arm).numpy(), ap.lc_at(horizon)[:, j], rtol=1e-5)
            benefit = ts["benefit"](per_arm).numpy()
        u = rec[[f"utility_{a}" for a in ARMS]].to_numpy()
        np.testing.assert_allclose(benefit, u[:, j] - u[:, 1 - j], atol=1e-6)
        mine = (rec["recommended"] == arm).to_numpy()
        np.testing.assert_allclose(benefit[mine], rec["benefit"].to_numpy()[mine], atol=1e-6)
    # the binary head's raw P_LC rises from 12 to 36 months for SBRT; the target, like the
    # predictions, holds it non-increasing (so it is not 1 - lc_risk at 36)
    if lc == "binary":
        raw = 1 - out["arms"]["sbrt"]["lc_risk"].detach().numpy()
        assert (raw[:, 1] > raw[:, 0]).any()
        t = DecisionTarget("lc", "sbrt", horizon, tuple(CUTS), lc_index=1)
        with torch.no_grad():
            np.testing.assert_allclose(t(per_arm).numpy(), raw.min(axis=1), rtol=1e-5)


def test_benefit_without_local_control_is_the_os_difference() -> None:
    out = _per_arm(_output())
    ts = decision_targets(ARMS, cuts=CUTS, horizon=36.0, recommended="surgery", alpha=0.7, beta=0.3)
    assert set(ts) == {"os_sbrt", "os_surgery", "benefit"}  # no LC output, no LC targets
    with torch.no_grad():
        b = ts["benefit"](out)
        np.testing.assert_allclose(b, 0.7 * (ts["os_surgery"](out) - ts["os_sbrt"](out)), rtol=1e-6)


def test_probabilities_have_log_odds_and_the_benefit_has_gradients() -> None:
    out = _output()
    per_arm = {a: {k: v.clone().requires_grad_(True) for k, v in out["arms"][a].items()} for a in ARMS}
    ts = decision_targets(ARMS, cuts=CUTS, horizon=36.0, lc_horizons=LC_H, recommended="sbrt")
    p = ts["os_sbrt"](per_arm)
    np.testing.assert_allclose(ts["os_sbrt"].log_odds(per_arm).detach(), torch.logit(p.detach().double()),
                               rtol=1e-4)  # fmt: skip
    assert ts["os_sbrt"].is_probability and not ts["benefit"].is_probability
    assert not ts["benefit"].higher_is_worse
    assert "benefit of sbrt over surgery at t=36" == ts["benefit"].label
    with pytest.raises(ConfigError, match="no log-odds"):
        ts["benefit"].log_odds(per_arm)
    (g,) = torch.autograd.grad(ts["benefit"](per_arm).sum(), per_arm["surgery"]["logit_hazard"])
    assert torch.isfinite(g).all() and float(g.abs().sum()) > 0


def test_decision_target_errors() -> None:
    with pytest.raises(ConfigError, match="outside the model's grid"):
        DecisionTarget("os", "sbrt", 72.0, tuple(CUTS))
    with pytest.raises(ConfigError, match="needs versus"):
        DecisionTarget("benefit", "sbrt", 36.0, tuple(CUTS))
    with pytest.raises(ConfigError, match="not at the decision horizon"):
        decision_targets(ARMS, cuts=CUTS, horizon=30.0, lc_horizons=LC_H, recommended="sbrt")
    with pytest.raises(UnknownOptionError, match="Did you mean 'surgery'"):
        decision_targets(ARMS, cuts=CUTS, horizon=36.0, recommended="surgey")
