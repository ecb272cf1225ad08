"""MM-Care deep ensemble: the mixture of the members' outputs, config, training, save/load."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from nsclc_fixtures import shap_shortcut_and_full_pass, tiny_nsclc

from oncofusion.errors import ConfigError
from oncofusion.models.mmcare import MMCareEnsemble, MMCareNet, mixture_block
from oncofusion.models.mmcare_config import load_mmcare_config


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_nsclc(tmp_path_factory.mktemp("nsclc") / "c", n=40, seed=5, batch_size=12)


def _net(tiny, seed: int) -> MMCareNet:
    torch.manual_seed(seed)
    s = tiny["sizes"]
    return MMCareNet(
        tiny["cfg"].network, s["input_sizes"], 10, ["sbrt", "surgery"], n_lc=2,
        extra_encoder_args=s["extra_encoder_args"],
    ).eval()  # fmt: skip


def test_mixture_survival_is_the_average_of_the_members_curves():
    g = torch.Generator().manual_seed(0)
    hazards = [torch.rand(5, 8, generator=g) * 0.3 for _ in range(3)]
    risks = [torch.rand(5, 2, generator=g) for _ in range(3)]
    blocks = [{"hazard": h, "lc_risk": r} for h, r in zip(hazards, risks)]
    mixed = mixture_block(blocks)
    surv = torch.stack([torch.cumprod(1 - h, -1) for h in hazards]).mean(0)
    torch.testing.assert_close(torch.cumprod(1 - mixed["hazard"], -1), surv)
    torch.testing.assert_close(torch.sigmoid(mixed["logit_hazard"]), mixed["hazard"])
    torch.testing.assert_close(mixed["lc_risk"], torch.stack(risks).mean(0))
    torch.testing.assert_close(torch.sigmoid(mixed["lc_logit"]), mixed["lc_risk"])
    assert mixture_block(blocks[:1]) == blocks[0]


def test_ensemble_averages_members_and_keeps_the_network_contract(tiny):
    a, b = _net(tiny, 0), _net(tiny, 1)
    batch = tiny["batch"]
    with torch.no_grad():
        ens, oa, ob = MMCareEnsemble([a, b]).eval()(batch), a(batch), b(batch)
        same = MMCareEnsemble([a, copy.deepcopy(a)]).eval()(batch)
    for arm in ("sbrt", "surgery"):
        surv = (torch.cumprod(1 - oa["arms"][arm]["hazard"], -1)
                + torch.cumprod(1 - ob["arms"][arm]["hazard"], -1)) / 2  # fmt: skip
        got = ens["arms"][arm]
        torch.testing.assert_close(torch.cumprod(1 - got["os_hazard"], -1), surv)
        lc = (oa["arms"][arm]["lc_risk"] + ob["arms"][arm]["lc_risk"]) / 2
        torch.testing.assert_close(got["lc_risk"], lc)
        torch.testing.assert_close(same["arms"][arm]["hazard"], oa["arms"][arm]["hazard"])
        torch.testing.assert_close(same["arms"][arm]["lc_risk"], oa["arms"][arm]["lc_risk"])
    names = ["sbrt", "surgery"]
    for i, k in enumerate(batch["arm"].tolist()):
        torch.testing.assert_close(ens["hazard"][i], ens["arms"][names[k]]["hazard"][i])
    assert set(ens) == set(oa) - {"alignment_cost"}
    with torch.no_grad():  # the body explanations read: arms without a received arm
        body = MMCareEnsemble([a, b]).body(batch)
    torch.testing.assert_close(body["sbrt"]["hazard"], ens["arms"]["sbrt"]["hazard"])
    assert "attention" in body


def test_ensemble_config_is_validated():
    with pytest.raises(ConfigError, match="ensemble.members"):
        load_mmcare_config("mmcare-cpu", {"ensemble": {"members": 0}})
    assert load_mmcare_config("mmcare-cpu", {"ensemble": {"members": 3}}).ensemble.members == 3


def test_trained_ensemble_saves_and_loads(tiny, tmp_path):
    from oncofusion.models.mmcare_pipeline import train_mmcare
    from oncofusion.models.mmcare_predictor import MMCarePredictor

    over = {"train": {"max_epochs": 1, "batch_size": 16, "seed": 4}, "ensemble": {"members": 2},
            "decision": {"mc_samples": 0}}  # fmt: skip
    cfg = load_mmcare_config("mmcare-cpu", over)
    cohort = tiny["cohort"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = train_mmcare(cohort, cfg, work_dir=tmp_path / "work", resume=False)
        assert isinstance(run.model.network, MMCareEnsemble)
        assert run.model.training_summary["ensemble"]["seeds"] == [4, 1004]
        assert (tmp_path / "work" / "member1" / "best.ckpt").is_file()
        before = run.model.predict_arms(cohort)
        run.model.save(tmp_path / "run")
        after = MMCarePredictor.load(tmp_path / "run").predict_arms(cohort)
    np.testing.assert_allclose(after.os_hazard, before.os_hazard, rtol=1e-6)
    np.testing.assert_allclose(after.lc_control, before.lc_control, rtol=1e-6)
    members = run.model.network.members
    assert not torch.equal(members[0].body.head.heads["sbrt"]["os"][0].weight,
                           members[1].body.head.heads["sbrt"]["os"][0].weight)  # fmt: skip


def test_shap_shortcut_encodes_the_ct_once_per_member_and_matches_the_full_pass(tiny):
    from oncofusion.explain._batch import select_rows
    from oncofusion.explain.shap_values import _FixedModalities

    body = MMCareEnsemble([_net(tiny, 0), _net(tiny, 1)]).eval().body
    row = select_rows(tiny["batch"], [0])
    targets = [lambda o: o["sbrt"]["hazard"][:, 5], lambda o: o["surgery"]["lc_risk"][:, 1]]
    with torch.no_grad():
        f = _FixedModalities(body, row, targets, chunk=8)
        assert f.fast and len(f.features) == 2 and "imaging" in f.features[1]
        fast, full = shap_shortcut_and_full_pass(f, row, 6)
        torch.testing.assert_close(fast, full, atol=1e-5, rtol=1e-4)
