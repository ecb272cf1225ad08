"""MM-Care building blocks without training: config, network, objective, LC labels, outputs.

The cohort is a tiny simulated NSCLC cohort (40 patients, 16^3 CT patches); batches come
from the real :class:`PatientDataset` + ``collate_patients`` path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from nsclc_fixtures import tiny_nsclc

from oncofusion.data.dataset import PatientDataset
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.errors import CohortError, ConfigError
from oncofusion.models.mmcare import MMCareNet
from oncofusion.models.mmcare_config import (
    is_mmcare_config,
    load_mmcare_config,
    mmcare_config_from_dict,
)
from oncofusion.models.mmcare_objective import LCTargets, MMCareObjective, lc_horizon_labels
from oncofusion.models.mmcare_outputs import ArmPredictions
from oncofusion.models.mmcare_pipeline import (
    adapt_network,
    check_arms,
    lc_horizons_for,
)
from oncofusion.survival.discretize import Discretizer


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_nsclc(tmp_path_factory.mktemp("nsclc") / "c", n=40, seed=3, batch_size=16)


def _net(tiny, n_lc=2, lc="binary", seed=0) -> MMCareNet:
    torch.manual_seed(seed)
    s = tiny["sizes"]
    return MMCareNet(
        tiny["cfg"].network,
        s["input_sizes"],
        10,
        ["sbrt", "surgery"],
        n_lc=n_lc,
        lc=lc,
        extra_encoder_args=s["extra_encoder_args"],
    ).eval()


# ---------------------------------------------------------------------------- config
def test_packaged_configs_validate_and_dispatch():
    for name in ("mmcare-cpu", "mmcare-gpu"):
        cfg = load_mmcare_config(name)
        assert cfg.model == "mmcare" and cfg.loss.os == 0.7 and cfg.loss.lc == 0.3
        assert cfg.network.fusion.name == "bidirectional_cross_attention"
        assert cfg.network.fusion.args["heads"] == 4 and cfg.network.fusion.args["steps"] == 2
        assert cfg.network.encoders["imaging"].args["attention"] == "spatial"
        assert len(cfg.network.encoders["clinical"].args["hidden"]) == 3
        assert cfg.decision.alpha == 0.7 and cfg.decision.beta == 0.3
        assert is_mmcare_config(name)
    assert not is_mmcare_config("dmanet-cpu")


def test_config_errors_name_the_field():
    raw = load_mmcare_config("mmcare-cpu").model_dump(mode="json")
    raw["loss"]["lambda_os"] = 0.5
    with pytest.raises(ConfigError, match="loss.lambda_os"):
        mmcare_config_from_dict(raw)
    raw = load_mmcare_config("mmcare-cpu").model_dump(mode="json")
    raw["network"]["head"] = {"name": "discrete_time", "args": {}}
    with pytest.raises(ConfigError, match="per_arm"):
        mmcare_config_from_dict(raw)
    raw = load_mmcare_config("mmcare-cpu").model_dump(mode="json")
    raw["decision"]["mc_samples"] = 1
    with pytest.raises(ConfigError, match="mc_samples"):
        mmcare_config_from_dict(raw)


# ---------------------------------------------------------------------------- network
def test_network_gives_every_arm_and_the_received_one(tiny):
    net = _net(tiny)
    b = tiny["batch"]
    with torch.no_grad():
        out = net(b)
    assert set(out["arms"]) == {"sbrt", "surgery"}
    for block in out["arms"].values():
        assert block["os_hazard"].shape == (16, 10) and block["lc_risk"].shape == (16, 2)
        assert bool(((block["os_hazard"] > 0) & (block["os_hazard"] < 1)).all())
    arm = b["arm"].numpy()
    assert set(arm) <= {0, 1} and len(set(arm)) == 2  # both arms in the batch
    for i, a in enumerate(arm):
        name = ["sbrt", "surgery"][a]
        torch.testing.assert_close(out["hazard"][i], out["arms"][name]["os_hazard"][i])
        torch.testing.assert_close(out["received"]["lc_logit"][i], out["arms"][name]["lc_logit"][i])


def test_missing_genomics_is_masked_not_read(tiny):
    net = _net(tiny)
    b = dict(tiny["batch"])
    absent = ~b["modality_mask"]["genomics"]
    assert bool(absent.any()), "the tiny cohort should have patients without genomics"
    with torch.no_grad():
        ref = net(b)["hazard"]
        b["genomics"] = b["genomics"] + 100.0 * torch.randn_like(b["genomics"])
        moved = net(b)["hazard"]
    torch.testing.assert_close(ref[absent], moved[absent])
    assert not torch.allclose(ref[~absent], moved[~absent])


def test_network_rejects_bad_arms(tiny):
    s = tiny["sizes"]
    with pytest.raises(ConfigError, match="at least two arms"):
        MMCareNet(
            tiny["cfg"].network,
            s["input_sizes"],
            10,
            ["surgery"],
            n_lc=2,
            extra_encoder_args=s["extra_encoder_args"],
        )
    with pytest.raises(ConfigError, match="reserved"):
        MMCareNet(
            tiny["cfg"].network,
            s["input_sizes"],
            10,
            ["hazard", "sbrt"],
            n_lc=2,
            extra_encoder_args=s["extra_encoder_args"],
        )


# ---------------------------------------------------------------------------- LC labels
def test_lc_horizon_labels_by_hand():
    # training censoring: censored at 5 and 20 (of 4): G(t) = 1 for t<5, 2/3 on [5, 20), 0 after 20
    train_t = np.array([2.0, 5.0, 8.0, 20.0])
    train_e = np.array([1, 0, 1, 0])
    t = np.array([3.0, 10.0, 10.0, 4.0, 12.0])
    e = np.array([1, 1, 0, 0, 0])
    y, obs, w = lc_horizon_labels(t, e, [10.0], train_time=train_t, train_event=train_e)
    # case by 10 (t=3): 1/G(3-)=1; case at exactly 10: 1/G(10-)=1.5; censored at exactly 10:
    # followed to the horizon -> control, 1/G(10-)=1.5; censored at 4 -> unknown; t=12 control
    np.testing.assert_array_equal(y[:, 0], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(obs[:, 0], [True, True, True, False, True])
    np.testing.assert_allclose(w[:, 0], [1.0, 1.5, 1.5, 0.0, 1.5])


def test_lc_targets_discrete_grid(tiny):
    pts = tiny["cohort"].patients
    t = LCTargets.build(pts, pts["patient_id"].tolist(), [12.0, 36.0], "discrete_time")
    has = pts["lc_time"].notna().to_numpy()
    assert t.has_lc.sum() == has.sum()
    lt, le = pts["lc_time"].to_numpy(float), pts["lc_event"].to_numpy(float)
    # an LC failure in (12, 36] is in interval 1; LC followed to exactly 36 survived both
    i = np.flatnonzero(has & (le == 1) & (lt > 12) & (lt <= 36))
    assert (t.interval_index[i] == 1).all() and (t.event[i] == 1).all()
    j = np.flatnonzero(has & (le == 0) & (lt == 36))
    assert (t.interval_index[j] == 2).all() and (t.event[j] == 0).all()


# ---------------------------------------------------------------------------- objective
def _objective(tiny, mode="binary", iptw=None, **loss):
    cfg = load_mmcare_config("mmcare-cpu", {"loss": {"lc_mode": mode, **loss}})
    pts = tiny["cohort"].patients
    disc = Discretizer.equidistant(10, horizon=60.0).fit(pts["time"], pts["event"])
    targets = LCTargets.build(pts, pts["patient_id"].tolist(), [12.0, 36.0], mode)
    return MMCareObjective(disc, cfg.loss, lc_targets=targets, iptw=iptw), disc


@pytest.mark.parametrize("mode", ["binary", "discrete_time"])
def test_objective_supervises_only_the_received_arm(tiny, mode):
    net = _net(tiny, lc=mode).train()
    obj, _ = _objective(tiny, mode, smooth=0.0)
    b = dict(tiny["batch"])
    b["arm"] = torch.zeros_like(b["arm"])  # everyone received sbrt
    terms = obj(net(b), b)
    assert torch.isfinite(terms["loss"]) and set(terms) >= {"os", "lc", "loss"}
    terms["loss"].backward()
    head = net.head.heads
    g_sbrt = sum(float(p.grad.abs().sum()) for p in head["sbrt"].parameters() if p.grad is not None)
    g_surg = [p.grad for p in head["surgery"].parameters()]
    assert g_sbrt > 0
    assert all(g is None or float(g.abs().sum()) == 0.0 for g in g_surg)


def test_objective_weights_patients_by_iptw(tiny):
    from oncofusion.survival.losses import discrete_nll

    net = _net(tiny)
    b = tiny["batch"]
    ids = list(b["patient_id"])
    w = {p: (3.0 if k % 2 else 0.5) for k, p in enumerate(ids)}
    obj, disc = _objective(tiny, iptw=w, lc=0.0, smooth=0.0)
    with torch.no_grad():
        out = net(b)
        terms = obj(out, b)
        lab = disc.transform(b["time"].numpy(), b["event"].numpy().astype(bool))
        per = discrete_nll(lab.interval_index, lab.event, out["logit_hazard"], reduction="none")
        wt = torch.tensor([w[p] for p in ids])
        expected = 0.7 * (wt * per).sum() / wt.sum()
    torch.testing.assert_close(terms["loss"], expected)
    assert abs(float(terms["os"]) - float(per.mean())) > 1e-4  # the weights matter


def test_objective_needs_the_received_arm(tiny):
    net = _net(tiny)
    obj, _ = _objective(tiny)
    b = dict(tiny["batch"])
    out = net(b)
    b["arm"] = torch.full_like(b["arm"], -1)
    with pytest.raises(CohortError, match="arm"):
        obj(out, b)


# ---------------------------------------------------------------------------- pipeline helpers
def test_adapt_network_to_what_the_cohort_has(tiny):
    cfg = tiny["cfg"]
    c = tiny["cohort"]
    same, notes = adapt_network(cfg, c)
    assert same.network.encoders["genomics"].name == "gcn" and notes == []
    bare = c.subset(c.patient_ids)
    bare.gene_graph, bare.imaging = None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new, notes = adapt_network(cfg, bare)
    assert new.network.modalities == ["clinical", "genomics"]
    assert new.network.encoders["genomics"].name == "genomic_mlp" and len(notes) == 2


def test_arms_and_lc_horizons(tiny):
    c = tiny["cohort"]
    assert lc_horizons_for(tiny["cfg"], c, c.patient_ids) == [
        12.0,
        36.0,
    ]  # LC followed to 36 months
    no_arm = c.subset(c.patient_ids)
    no_arm.patients = no_arm.patients.assign(arm=lambda d: d["arm"].where(d.index > 2))
    with pytest.raises(CohortError, match="no arm"):
        check_arms(no_arm)


def test_a_level_only_in_validation_is_known_to_the_preprocessing(tiny):

    c = tiny["cohort"]
    pts = c.patients.copy()
    pts.loc[0, "histology"] = "large_cell"  # a level only patient 0 (a validation patient) has
    c2 = c.subset(c.patient_ids)
    c2.patients = pts
    c2.metadata.pop("categorical_levels", None)
    ids = pts["patient_id"].tolist()
    pre = TabularPreprocessor().fit(c2, ids[10:], vocabulary_from_cohort=True)
    assert "histology=large_cell" in pre.clinical_feature_names
    values, _ = pre.transform_clinical(c2.subset(ids[:1]).patients)
    col = pre.clinical_feature_names.index("histology=large_cell")
    assert values[0, col] == 1.0


# ---------------------------------------------------------------------------- outputs
def _preds(n=6, draws=None) -> ArmPredictions:
    rng = np.random.default_rng(1)
    haz = rng.uniform(0.01, 0.2, (n, 2, 5))
    lc = np.sort(rng.uniform(0.5, 1.0, (n, 2, 2)), axis=-1)[..., ::-1]
    return ArmPredictions(
        patient_ids=[f"p{i}" for i in range(n)], arms=["sbrt", "surgery"], cuts=np.arange(0.0, 61.0, 12.0),
        os_hazard=haz, lc_horizons=np.array([12.0, 36.0]), lc_control=lc,
        received=np.array(["sbrt", "surgery", "", "sbrt", "surgery", "sbrt"][:n], dtype=object),
        propensity=np.full((n, 2), 0.5), outside_support=np.zeros(n, bool), os_horizons=[12.0, 36.0, 60.0],
        os_surv_draws=draws, lc_control_draws=None if draws is None else np.repeat(lc[None], draws.shape[0], 0),
    )  # fmt: skip


def test_arm_predictions_probabilities_and_recommendation():
    p = _preds()
    np.testing.assert_allclose(
        p.os_at([12.0, 36.0])[..., 1], np.prod(1 - p.os_hazard[..., :3], axis=-1)
    )
    rec = p.recommend(alpha=0.7, beta=0.3, horizon=36.0)
    u = 0.7 * p.os_at([36.0])[..., 0] + 0.3 * p.lc_at(36.0)
    np.testing.assert_array_equal(rec["recommended"], np.array(["sbrt", "surgery"])[u.argmax(1)])
    np.testing.assert_allclose(rec["benefit"], np.abs(u[:, 0] - u[:, 1]))
    assert rec["low"].isna().all()  # no draws, no interval
    with pytest.raises(ConfigError, match="local control is predicted at"):
        p.lc_at(24.0)
    frame = p.received_prediction().to_frame()
    assert {"os_sbrt_36", "lc_surgery_36", "propensity_sbrt", "risk_36"} <= set(frame.columns)
    assert np.isnan(frame.loc[2, "risk_36"]) and np.isfinite(
        frame.loc[0, "risk_36"]
    )  # no received arm


def test_recommendation_interval_from_draws():
    base = _preds()
    surv = base.os_surv
    draws = np.stack([np.clip(surv + s, 0, 1) for s in np.linspace(-0.2, 0.2, 25)])
    draws[:, :, 0] -= np.linspace(0, 0.3, 25)[:, None, None]  # sbrt uncertain downwards
    p = _preds(draws=np.clip(draws, 0, 1))
    rec = p.recommend(alpha=1.0, beta=0.0, horizon=36.0, ci=0.9)
    assert rec["low"].notna().all() and (rec["low"] <= rec["high"]).all()
    clear = rec["low"] > 0
    assert (rec.loc[clear, "preference"] == rec.loc[clear, "recommended"]).all()
    assert (rec.loc[~clear, "preference"] == "no clear preference").all()
    assert isinstance(rec, pd.DataFrame) and len(rec) == 6


# ---------------------------------------------------------------------------- ROI step
class _FakeSegmenter:
    """Predicts an empty mask for the first patient and one voxel for the others."""

    def predict_masks(self, cohort):
        out = {}
        for k, pid in enumerate(cohort.imaging["patient_id"].astype(str)):
            m = np.zeros((16, 16, 16), np.uint8)
            if k > 0:
                m[8, 8, 8] = 1
            out[pid] = m
        return out


def test_mask_roi_is_ct_times_dilated_mask_never_blank(tiny, tmp_path):
    from oncofusion.models.mmcare_config import ROIConfig
    from oncofusion.models.mmcare_data import roi_step_cohort

    c = tiny["cohort"].subset(tiny["cohort"].patient_ids[:4])
    view = roi_step_cohort(
        c, _FakeSegmenter(), ROIConfig(enabled=True, mode="mask", margin=1), tmp_path
    )
    masks = [np.load(view.root / p) for p in view.imaging["mask_path"]]
    assert masks[0].all()  # empty prediction -> the whole patch, not a blank image
    assert [int(m.sum()) for m in masks[1:]] == [7, 7, 7]  # one voxel dilated once (6-connected)
    ds = PatientDataset(view, tiny["pre"], image_shape=(16, 16, 16))
    orig = PatientDataset(c, tiny["pre"], image_shape=(16, 16, 16))
    i = ds.index_of(view.imaging["patient_id"].iloc[1])
    torch.testing.assert_close(
        ds[i]["imaging"], orig[orig.index_of(view.imaging["patient_id"].iloc[1])]["imaging"]
    )
    assert int(ds[i]["imaging_seg"].sum()) == 7


def test_crop_roi_writes_a_resized_cohort(tiny, tmp_path):
    from oncofusion.models.mmcare_config import ROIConfig
    from oncofusion.models.mmcare_data import roi_step_cohort

    c = tiny["cohort"].subset(tiny["cohort"].patient_ids[:3])
    roi = ROIConfig(enabled=True, mode="crop", margin=2, out_shape=[8, 8, 8])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        view = roi_step_cohort(c, _FakeSegmenter(), roi, tmp_path)
    shapes = {np.load(view.root / p).shape for p in view.imaging["path"]}
    assert shapes == {(8, 8, 8)} and view.patients is c.patients
