"""The wide (linear) part of a network (``network.linear``): contract, masks, gradients, SHAP."""

from __future__ import annotations

import pytest
import torch
from nsclc_fixtures import shap_shortcut_and_full_pass, tiny_nsclc

from oncofusion.errors import ConfigError
from oncofusion.models.mmcare import MMCareNet


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    head = {"name": "per_arm", "args": {"hidden": [32], "dropout": 0.2, "wide": "per_arm"}}
    over = {"network": {"linear": ["clinical", "genomics"], "head": head}}
    out = tiny_nsclc(tmp_path_factory.mktemp("nsclc") / "c", n=30, seed=3, batch_size=10, overrides=over)
    assert out["cfg"].network.head.args["wide"] == "per_arm"
    return out


def _net(tiny, network=None, seed: int = 0) -> MMCareNet:
    torch.manual_seed(seed)
    s = tiny["sizes"]
    return MMCareNet(network or tiny["cfg"].network, s["input_sizes"], 10, ["sbrt", "surgery"], n_lc=2,
                     extra_encoder_args=s["extra_encoder_args"]).eval()  # fmt: skip


def _randomise_wide(net: MMCareNet) -> None:
    g = torch.Generator().manual_seed(3)
    for arm in net.arms:
        for key in ("os_wide", "lc_wide"):
            layer = net.head.heads[arm][key]
            layer.weight.data = torch.randn(layer.weight.shape, generator=g)


def test_an_untrained_wide_part_leaves_the_deep_output_unchanged(tiny):
    deep = tiny["cfg"].network.model_copy(update={"linear": []})
    batch = tiny["batch"]
    wide_net, deep_net = _net(tiny), _net(tiny, deep)
    unexpected = deep_net.load_state_dict(wide_net.state_dict(), strict=False).unexpected_keys
    assert unexpected and all("_wide." in k for k in unexpected)  # the same deep weights
    with torch.no_grad():
        a, b = wide_net(batch), deep_net(batch)
    for arm in ("sbrt", "surgery"):
        torch.testing.assert_close(a["arms"][arm]["hazard"], b["arms"][arm]["hazard"])
        torch.testing.assert_close(a["arms"][arm]["lc_risk"], b["arms"][arm]["lc_risk"])
    w = tiny["sizes"]["input_sizes"]
    assert _net(tiny).head.wide_features == w["clinical"] + 1 + w["genomics"] + 1


def test_wide_term_is_linear_shift_of_the_logits_and_respects_the_mask(tiny):
    net = _net(tiny)
    _randomise_wide(net)
    batch = dict(tiny["batch"])
    with torch.no_grad():
        out = net(batch)
        wide = net.body.wide_input(batch)
        shift = net.head.heads["sbrt"]["os_wide"](wide)
        net.head.heads["sbrt"]["os_wide"].weight.zero_()
        net.head.heads["sbrt"]["os_wide"].bias.zero_()
        deep = net(batch)
    # the same shift on every OS interval (proportional odds)
    torch.testing.assert_close(out["arms"]["sbrt"]["logit_hazard"] - deep["arms"]["sbrt"]["logit_hazard"],
                               shift.expand(-1, 10))  # fmt: skip
    # a patient without genomics: their gene values do not reach the wide input
    mask = {k: v.clone() for k, v in batch["modality_mask"].items()}
    mask["genomics"][0] = False
    masked = {**batch, "modality_mask": mask}
    poked = {**masked, "genomics": masked["genomics"].clone()}
    poked["genomics"][0] += 5.0
    torch.testing.assert_close(net.body.wide_input(masked)[0], net.body.wide_input(poked)[0])
    n_clin = tiny["sizes"]["input_sizes"]["clinical"]
    assert net.body.wide_input(masked)[0, -1] == 0 and net.body.wide_input(masked)[0, n_clin] == 1


def test_wide_part_gets_gradients(tiny):
    net = _net(tiny).train()
    out = net(tiny["batch"])
    (out["arms"]["sbrt"]["logit_hazard"].sum() + out["arms"]["surgery"]["lc_logit"].sum()).backward()
    assert net.head.heads["sbrt"]["os_wide"].weight.grad.abs().sum() > 0
    assert net.head.heads["surgery"]["lc_wide"].weight.grad.abs().sum() > 0


def test_linear_needs_vector_modalities_of_the_network_and_a_head_with_a_wide_part(tiny):
    net_cfg = tiny["cfg"].network
    for bad in (["imaging"], ["biomarkers"], ["clinical", "clinical"]):
        with pytest.raises(ConfigError, match="network.linear"):
            _net(tiny, net_cfg.model_copy(update={"linear": bad}))
    # a vector modality the network leaves out (a cohort without genomics) has no wide input
    no_genomics = net_cfg.model_copy(update={"modalities": ["imaging", "clinical"]})
    assert _net(tiny, no_genomics).head.wide_features == tiny["sizes"]["input_sizes"]["clinical"] + 1
    no_vectors = net_cfg.model_copy(update={"modalities": ["imaging"]})
    assert _net(tiny, no_vectors).head.wide_features == 0
    from oncofusion.models.network import ComponentConfig, MultimodalSurvivalNet

    discrete = net_cfg.model_copy(update={"head": ComponentConfig(name="discrete_time")})
    with pytest.raises(ConfigError, match="has no linear part"):
        MultimodalSurvivalNet(discrete, tiny["sizes"]["input_sizes"], 10, tiny["sizes"]["extra_encoder_args"])


def test_shap_shortcut_includes_the_wide_part(tiny):
    from oncofusion.explain._batch import select_rows
    from oncofusion.explain.shap_values import _FixedModalities

    net = _net(tiny)
    _randomise_wide(net)
    row = select_rows(tiny["batch"], [1])
    targets = [lambda o: o["sbrt"]["hazard"][:, 4], lambda o: o["surgery"]["lc_risk"][:, 1]]
    with torch.no_grad():
        f = _FixedModalities(net.body, row, targets, chunk=8)
        assert f.fast  # the shortcut reproduces the full forward pass, wide term included
        fast, full = shap_shortcut_and_full_pass(f, row, 5)
        torch.testing.assert_close(fast, full, atol=1e-5, rtol=1e-4)


def test_shared_wide_part_shifts_every_arm_by_the_same_linear_term(tiny):
    from oncofusion.models.network import ComponentConfig

    net_cfg = tiny["cfg"].network
    shared = net_cfg.model_copy(update={"head": ComponentConfig(name="per_arm", args={**net_cfg.head.args, "wide": "shared"})})
    net = _net(tiny, shared)
    assert not any("wide" in k for arm in net.arms for k in net.head.heads[arm])
    layer = net.head.shared_wide["os_wide"]
    layer.weight.data = torch.linspace(-1, 1, layer.weight.numel()).reshape(layer.weight.shape)
    batch = tiny["batch"]
    with torch.no_grad():
        out = net(batch)
        shift = layer(net.body.wide_input(batch))
        layer.weight.zero_()
        deep = net(batch)
    for arm in net.arms:
        torch.testing.assert_close(out["arms"][arm]["logit_hazard"] - deep["arms"][arm]["logit_hazard"], shift.expand(-1, 10))
    with pytest.raises(ValueError, match="wide part"):
        _net(tiny, net_cfg.model_copy(update={"head": ComponentConfig(name="per_arm", args={"wide": "diagonal"})}))
