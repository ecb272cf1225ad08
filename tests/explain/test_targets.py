"""Targets: hazard, F(k), S(k), P_OS / P_LC under an arm, checked against hand-computed numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oncofusion.errors import ConfigError, UnknownOptionError
from oncofusion.explain import Target, make_target, target_values
from oncofusion.nn.heads.per_arm import PerArmHead

LOGITS = torch.tensor([[-2.0, -1.0, 0.5, 1.5], [0.3, -0.7, -3.0, 2.0]], dtype=torch.float64)


def _hand(logits: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    h = 1.0 / (1.0 + np.exp(-logits.numpy()))
    return h, np.cumprod(1.0 - h, axis=1)


@pytest.mark.parametrize("k", [0, 2, 3])
def test_discrete_targets_against_numpy(k: int) -> None:
    out = {"logit_hazard": LOGITS, "hazard": torch.sigmoid(LOGITS)}
    h, s = _hand(LOGITS)
    np.testing.assert_allclose(target_values(out, Target("hazard", k)).numpy(), h[:, k], rtol=1e-12)
    np.testing.assert_allclose(Target("survival", k)(out).numpy(), s[:, k], rtol=1e-12)
    np.testing.assert_allclose(Target("risk", k)(out).numpy(), 1 - s[:, k], rtol=1e-12)
    # log-odds is the logit of the value (for the hazard: the head's own logit)
    odds = Target("risk", k).log_odds(out).numpy()
    np.testing.assert_allclose(odds, np.log((1 - s[:, k]) / s[:, k]), rtol=1e-10)
    np.testing.assert_allclose(Target("hazard", k).log_odds(out).numpy(), LOGITS[:, k].numpy())


def test_hazard_only_block_gives_the_same_values() -> None:
    out = {"hazard": torch.sigmoid(LOGITS)}
    _, s = _hand(LOGITS)
    np.testing.assert_allclose(Target("risk", 3)(out).numpy(), 1 - s[:, 3], rtol=1e-10)


def test_gradients_stay_finite_when_the_risk_saturates() -> None:
    logit = torch.tensor([[30.0, 40.0], [-40.0, -30.0]], requires_grad=True)
    for t in (Target("risk", 1), Target("survival", 1)):
        for fn in (t, t.log_odds):
            (grad,) = torch.autograd.grad(fn({"logit_hazard": logit}).sum(), logit)
            assert torch.isfinite(grad).all()
    # log-odds keeps a usable gradient where the probability is flat
    (g,) = torch.autograd.grad(Target("risk", 1).log_odds({"logit_hazard": logit}).sum(), logit)
    assert float(g[1].abs().sum()) > 0.5


def test_make_target_places_times_on_the_grid() -> None:
    cuts = np.arange(13.0)  # monthly to a year
    assert make_target("hazard", time=12, cuts=cuts).index == 11  # (11, 12]
    assert make_target("hazard", time=0.5, cuts=cuts).index == 0
    assert make_target("hazard", time=0, cuts=cuts).index == 0
    assert make_target("risk", time=12, cuts=cuts).index == 11  # F at c_12
    assert make_target("risk", time=6.5, cuts=cuts).index == 5  # step: last cut <= 6.5 is 6
    assert make_target("survival", time=1, cuts=cuts).index == 0
    t = make_target("risk", time=12, cuts=cuts, arm="sbrt")
    assert (t.arm, t.time, t.higher_is_worse) == ("sbrt", 12.0, True)
    assert "t=12" in t.label and "sbrt" in t.label
    assert not make_target("survival", interval=2).higher_is_worse
    with pytest.raises(ConfigError, match="outside the model's grid"):
        make_target("risk", time=13, cuts=cuts)
    with pytest.raises(ConfigError, match="before the first interval ends"):
        make_target("risk", time=0.5, cuts=cuts)
    with pytest.raises(ConfigError, match="exactly one"):
        make_target("risk", interval=1, time=1, cuts=cuts)
    with pytest.raises(ConfigError, match="needs cuts"):
        make_target("risk", time=3)
    with pytest.raises(UnknownOptionError, match="Did you mean 'risk'"):
        make_target("rsik", interval=0)
    assert make_target("lc_control", time=3, cuts=[1, 3]).index == 1
    with pytest.raises(ConfigError, match="not one of the LC horizons"):
        make_target("lc_control", time=2, cuts=[1, 3])


def test_per_arm_targets_under_a_chosen_arm() -> None:
    torch.manual_seed(0)
    head = PerArmHead(in_features=5, arms=["sbrt", "surgery"], n_intervals=4, n_lc=2)
    out = head(torch.randn(3, 5))
    for arm in ("sbrt", "surgery"):
        _, s = _hand(out[arm]["logit_hazard"].detach().double())
        p_os = make_target("survival", interval=2, arm=arm)(out).detach().numpy()
        np.testing.assert_allclose(p_os, s[:, 2], rtol=1e-5)
        lc = out[arm]["lc_risk"].detach().numpy()[:, 1]
        p_lc = make_target("lc_control", interval=1, arm=arm)(out).detach().numpy()
        np.testing.assert_allclose(p_lc, 1 - lc, rtol=1e-5)
        np.testing.assert_allclose(Target("lc_risk", 1, arm)(out).detach().numpy(), lc, rtol=1e-5)
    assert not np.allclose(
        Target("survival", 2, "sbrt")(out).detach(), Target("survival", 2, "surgery")(out).detach()
    )
    with pytest.raises(ConfigError, match=r"per treatment arm \['sbrt', 'surgery'\]"):
        Target("survival", 2)(out)
    with pytest.raises(UnknownOptionError, match="Did you mean 'surgery'"):
        Target("survival", 2, "surgey")(out)
    with pytest.raises(ConfigError, match="out of range"):
        Target("lc_risk", 2, "sbrt")(out)


def test_discrete_time_lc_head() -> None:
    torch.manual_seed(1)
    head = PerArmHead(in_features=4, arms=["a", "b"], n_intervals=3, n_lc=3, lc="discrete_time")
    out = head(torch.randn(2, 4))
    _, s = _hand(out["b"]["lc_logit_hazard"].detach().double())
    np.testing.assert_allclose(
        Target("lc_control", 1, "b")(out).detach().numpy(), s[:, 1], rtol=1e-5
    )
    np.testing.assert_allclose(
        Target("lc_risk", 2, "b")(out).detach().numpy(), 1 - s[:, 2], rtol=1e-5
    )


def test_errors_name_the_problem() -> None:
    with pytest.raises(ConfigError, match="out of range: the model has 4 intervals"):
        Target("risk", 4)({"logit_hazard": LOGITS})
    with pytest.raises(ConfigError, match="no discrete-time hazard"):
        Target("risk", 0)({"log_hazard": LOGITS[:, 0]})
    with pytest.raises(ConfigError, match="no per-arm output"):
        Target("risk", 0, "sbrt")({"logit_hazard": LOGITS})
    with pytest.raises(ConfigError, match="local-control output"):
        Target("lc_risk", 0)({"logit_hazard": LOGITS})
    with pytest.raises(ConfigError, match=">= 0"):
        Target("risk", -1)
