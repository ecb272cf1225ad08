"""Head-specific behaviour (the shared contract is in test_nn_contract.py)."""

from __future__ import annotations

import pytest
import torch

from oncofusion.errors import UnknownOptionError
from oncofusion.nn import HEADS


def test_discrete_time_pooled_head_is_one_linear_layer_with_sigmoid_hazards():
    torch.manual_seed(0)
    head = HEADS.build("discrete_time", in_features=5, n_intervals=12)
    z = torch.randn(3, 5)
    out = head(z)
    lin = head.net[0]
    torch.testing.assert_close(out["logit_hazard"], z @ lin.weight.t() + lin.bias)
    torch.testing.assert_close(out["hazard"], torch.sigmoid(out["logit_hazard"]))
    assert head(torch.full((1, 5), 1e4))["hazard"].isfinite().all()


def test_discrete_time_per_slice_head_shares_w_across_months():
    torch.manual_seed(0)
    head = HEADS.build("discrete_time", in_features=4, n_intervals=3, input="per_slice")
    z = torch.randn(2, 3, 4)
    out = head({"tokens": z, "embedding": z.mean(1)})
    lin = head.net[0]
    expected = (z @ lin.weight.t()).squeeze(-1) + lin.bias + head.interval_bias
    torch.testing.assert_close(out["logit_hazard"], expected)
    # the same representation in two months gives the same hazard up to the month bias
    z2 = z.clone()
    z2[:, 2] = z2[:, 0]
    with torch.no_grad():
        head.interval_bias.zero_()
    o2 = head(z2)["logit_hazard"]
    torch.testing.assert_close(o2[:, 2], o2[:, 0])
    with pytest.raises(ValueError, match="n_intervals=3"):
        head(torch.randn(2, 4, 4))
    with pytest.raises(UnknownOptionError, match="Did you mean 'per_slice'"):
        HEADS.build("discrete_time", in_features=4, n_intervals=3, input="perslice")


def test_discrete_time_time_embedding_gives_each_month_its_own_input():
    torch.manual_seed(0)
    head = HEADS.build("discrete_time", in_features=4, n_intervals=5, time_embedding=True, hidden=(6,))
    z = torch.randn(2, 4)
    out = head(z)
    manual = head.net(z[:, None] + head.time_embedding).squeeze(-1) + head.interval_bias
    torch.testing.assert_close(out["logit_hazard"], manual)
    assert out["logit_hazard"].shape == (2, 5)


def test_cox_head_log_hazard_is_linear_without_bias():
    torch.manual_seed(0)
    head = HEADS.build("cox", in_features=3)
    z = torch.randn(4, 3)
    out = head(z)
    torch.testing.assert_close(out["log_hazard"], z @ head.out.weight[0])
    assert head.out.bias is None and out["risk"] is out["log_hazard"]
    with pytest.raises(ValueError, match="D=3"):
        head(torch.randn(4, 2))


def test_per_arm_head_blocks_and_arm_selection():
    torch.manual_seed(0)
    head = HEADS.build("per_arm", in_features=4, arms=["sbrt", "surgery"], n_intervals=5, n_lc=2, trunk=(6,))
    z = torch.randn(3, 4)
    out = head(z)
    assert set(out) == {"sbrt", "surgery"}
    block = out["surgery"]
    assert block["logit_hazard"] is block["os_logit_hazard"] and block["lc_logit"].shape == (3, 2)
    assert not torch.equal(out["sbrt"]["logit_hazard"], out["surgery"]["logit_hazard"])
    picked = head.select_arm(out, torch.tensor([1, 0, 1]))
    assert torch.equal(picked["hazard"][0], out["surgery"]["hazard"][0])
    assert torch.equal(picked["lc_risk"][1], out["sbrt"]["lc_risk"][1])
    with pytest.raises(ValueError, match="arm indices"):
        head.select_arm(out, torch.tensor([0, -1, 1]))
    dt = HEADS.build("per_arm", in_features=4, arms=["a"], n_intervals=5, n_lc=3, lc="discrete_time")
    assert dt(z)["a"]["lc_hazard"].shape == (3, 3)
    no_lc = HEADS.build("per_arm", in_features=4, arms=["a"], n_intervals=5, n_lc=0)
    assert not any(k.startswith("lc") for k in no_lc(z)["a"])
    with pytest.raises(ValueError, match="distinct"):
        HEADS.build("per_arm", in_features=4, arms=["a", "a"], n_intervals=5)
