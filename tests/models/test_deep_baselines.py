"""Deep comparators: DeepSurv, DeepHit and Dynamic-DeepHit (DMA-Net §2.6).

Small PBC2 subsets (the public longitudinal cohort) and a simulated Cox cohort; 2-3 epochs.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
import torch

import oncofusion
from oncofusion.data import Cohort, CohortSchema, load_cohort
from oncofusion.data.collate import collate_patients
from oncofusion.data.public import export_dataset
from oncofusion.errors import ConfigError, ModelLoadError
from oncofusion.models._deep_fitted import make_dataset, prepare_data
from oncofusion.models.deephit import DeepHitConfig, DeepHitNet, FittedDeepHit, fit_deephit
from oncofusion.models.deepsurv import (
    DeepSurvConfig,
    DeepSurvNet,
    FittedDeepSurv,
    breslow_on_grid,
    fit_deepsurv,
)
from oncofusion.models.dynamic_deephit import (
    DynamicDeepHitConfig,
    DynamicDeepHitNet,
    FittedDynamicDeepHit,
    fit_dynamic_deephit,
)
from oncofusion.models.registry import MODELS

SMALL = {"hidden": [16], "n_intervals": 8, "max_epochs": 2, "batch_size": 32, "seed": 3}
FITS = {
    "deepsurv": (fit_deepsurv, DeepSurvConfig, FittedDeepSurv),
    "deephit": (fit_deephit, DeepHitConfig, FittedDeepHit),
    "dynamic_deephit": (fit_dynamic_deephit, DynamicDeepHitConfig, FittedDynamicDeepHit),
}
TIMES = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0]


@pytest.fixture(scope="module")
def pbc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Cohort]:
    out = tmp_path_factory.mktemp("pbc2")
    export_dataset("pbc2", out)
    cohort = load_cohort(out)
    ids = cohort.patient_ids
    return {
        "train": cohort.subset(ids[:90]),
        "val": cohort.subset(ids[90:120]),
        "test": cohort.subset(ids[120:145]),
    }


@pytest.fixture(scope="module")
def fitted(pbc: dict[str, Cohort]) -> dict[str, object]:
    return {
        name: fit(pbc["train"], pbc["val"], cfg(**SMALL)) for name, (fit, cfg, _) in FITS.items()
    }


def _batch(cohort: Cohort, config: DeepHitConfig, n: int = 6) -> tuple[dict, dict]:
    data = prepare_data(cohort, cohort, config, max_visit_time=None)
    return collate_patients([data.train_set[i] for i in range(n)]), data.dims


# ---------------------------------------------------------------------- networks
@pytest.mark.parametrize("use", [["clinical"], ["biomarkers"], ["clinical", "biomarkers"]])
def test_network_shapes_and_inputs_per_modality(pbc: dict[str, Cohort], use: list[str]) -> None:
    cfg = DynamicDeepHitConfig(use=use, **SMALL)
    batch, dims = _batch(pbc["train"], cfg)
    cuts = np.linspace(0, 10, 9)
    torch.manual_seed(0)
    nets = {
        "deepsurv": DeepSurvNet(use, dims, cuts, [16], 0.0).eval(),
        "deephit": DeepHitNet(use, dims, cuts, [16], 0.0).eval(),
        "dynamic_deephit": DynamicDeepHitNet(cfg, dims, cuts).eval(),
    }
    expected = {"clinical": dims["clinical"] + 1, "biomarkers": 4 * dims["biomarkers"] + 1}
    assert nets["deephit"].inputs.out_features == sum(expected[m] for m in use)
    with torch.no_grad():
        out = {k: net(batch) for k, net in nets.items()}
    assert out["deepsurv"]["log_hz"].shape == (6,)
    for key in ("deephit", "dynamic_deephit"):
        assert out[key]["logits_pmf"].shape == (6, 8)
        h = out[key]["hazard"]
        assert h.shape == (6, 8) and bool(((h > 0) & (h < 1)).all())
        assert torch.allclose(torch.sigmoid(out[key]["logit_hazard"]), h)
    # a modality left out of `use` is never read: changing it changes nothing
    for modality, shift in (("biomarkers", 5.0), ("clinical", -3.0)):
        changed = dict(batch, **{modality: batch[modality] + shift})
        with torch.no_grad():
            for k, net in nets.items():
                key = "log_hz" if k == "deepsurv" else "logits_pmf"
                assert torch.equal(net(changed)[key], out[k][key]) == (modality not in use), (
                    k,
                    modality,
                )


def test_unavailable_modality_is_a_config_error(pbc: dict[str, Cohort]) -> None:
    with pytest.raises(ConfigError, match="genomics"):
        fit_deephit(pbc["train"], pbc["val"], DeepHitConfig(use=["genomics"], **SMALL))
    with pytest.raises(ValueError, match="use"):
        DeepHitConfig(use=[])


def test_dynamic_deephit_pmf_and_conditional_loss(pbc: dict[str, Cohort]) -> None:
    from oncofusion.models.dynamic_deephit import DynamicDeepHitObjective

    cfg = DynamicDeepHitConfig(**SMALL)
    batch, dims = _batch(pbc["train"], cfg, n=8)
    cuts = np.linspace(0, 12, 9)
    torch.manual_seed(0)
    net = DynamicDeepHitNet(cfg, dims, cuts)
    out = net(batch)
    # S from the hazards equals 1 - cumulative PMF
    pmf = torch.softmax(torch.nn.functional.pad(out["logits_pmf"], (0, 1)), dim=1)
    surv_h = torch.cumprod(1 - out["hazard"], dim=1)
    assert torch.allclose(surv_h, 1 - pmf[:, :-1].cumsum(1), atol=1e-5)
    last = batch["biomarker_times"].masked_fill(~batch["biomarker_valid"], 0).amax(1)
    assert torch.allclose(out["last_time"], last)
    terms = DynamicDeepHitObjective(cuts, alpha=1.0, beta=1.0, sigma=0.1)(out, batch)
    assert all(bool(torch.isfinite(v)) for v in terms.values())
    terms["loss"].backward()
    assert net.next_head.weight.grad is not None and net.next_head.weight.grad.abs().sum() > 0
    assert net.rnn.weight_ih_l0.grad.abs().sum() > 0


# ---------------------------------------------------------------------- fitted models
@pytest.mark.parametrize("name", list(FITS))
def test_survival_is_a_probability_and_non_increasing(
    fitted: dict, pbc: dict[str, Cohort], name: str
) -> None:
    model = fitted[name]
    with (
        pytest.warns(UserWarning, match="last grid cut")
        if name != "deepsurv"
        else contextlib.nullcontext()
    ):
        surv = model.predict_survival(pbc["test"], TIMES + [50.0])
    assert surv.shape == (len(pbc["test"]), len(TIMES) + 1)
    assert np.isfinite(surv).all() and (surv >= 0).all() and (surv <= 1).all()
    assert (np.diff(surv, axis=1) <= 1e-12).all()
    np.testing.assert_allclose(surv[:, 0], 1.0, atol=1e-12)
    assert surv[:, -2].std() > 0  # patients differ
    risk = model.predict_risk(pbc["test"], 3.0)
    np.testing.assert_allclose(risk, 1 - surv[:, TIMES.index(3.0)])


@pytest.mark.parametrize("name", list(FITS))
def test_save_load_round_trip_gives_identical_predictions(
    fitted: dict, pbc: dict[str, Cohort], name: str, tmp_path
) -> None:
    model = fitted[name]
    assert MODELS.get(name) is FITS[name][2]
    model.save(tmp_path / name)
    loaded = oncofusion.load(str(tmp_path / name))
    assert type(loaded) is type(model) and loaded.config == model.config
    times = [0.0, 0.7, 1.0, 2.5, 4.0]
    np.testing.assert_array_equal(
        loaded.predict_survival(pbc["test"], times), model.predict_survival(pbc["test"], times)
    )
    if name == "dynamic_deephit":
        np.testing.assert_array_equal(
            loaded.predict_survival(pbc["test"], times, landmark=1.5),
            model.predict_survival(pbc["test"], times, landmark=1.5),
        )
    # a tampered run refuses to load
    (tmp_path / name / "model.json").write_text(
        (tmp_path / name / "model.json").read_text().replace("1", "2", 1)
    )
    with pytest.raises(ModelLoadError, match="checksum"):
        oncofusion.load(str(tmp_path / name))


@pytest.mark.parametrize("name", list(FITS))
def test_same_seed_gives_same_weights(pbc: dict[str, Cohort], name: str) -> None:
    fit, cfg, _ = FITS[name]
    small = {**SMALL, "max_epochs": 1}
    a = fit(pbc["train"], pbc["val"], cfg(**small)).net.state_dict()
    b = fit(pbc["train"], pbc["val"], cfg(**small)).net.state_dict()
    c = fit(pbc["train"], pbc["val"], cfg(**{**small, "seed": 4})).net.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(
        torch.equal(a[k], c[k])
        for k in a
        if torch.is_floating_point(a[k]) and a[k].isfinite().all()
    )


# ---------------------------------------------------------------------- DeepSurv
def _simulated_cox_cohort(n: int, seed: int, tmp_path) -> Cohort:
    """h(t | x) = 0.1 exp(1.5 x1): x1 carries the signal, x2 is noise; uniform censoring."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    t_event = rng.exponential(1.0 / (0.1 * np.exp(1.5 * x1)))
    t_cens = rng.uniform(2.0, 30.0, size=n)
    patients = pd.DataFrame(
        {
            "patient_id": [f"p{i:03d}" for i in range(n)],
            "time": np.minimum(t_event, t_cens).round(3) + 0.001,
            "event": (t_event <= t_cens).astype(int),
            "x1": x1,
            "x2": x2,
        }
    )
    # one noise marker at baseline (PatientDataset currently needs >= 1 biomarker column)
    markers = pd.DataFrame(
        {"patient_id": patients["patient_id"], "time": 0.0, "m1": rng.normal(size=n)}
    )
    schema = CohortSchema(
        name="sim", time_unit="months", clinical={"continuous": ["x1", "x2"]}, biomarkers=["m1"]
    )
    return Cohort(root=tmp_path, schema=schema, patients=patients, biomarkers=markers)


def test_deepsurv_learns_a_known_signal_and_its_hazard_matches_breslow(tmp_path) -> None:
    from oncofusion.metrics import concordance_index

    train = _simulated_cox_cohort(160, 0, tmp_path)
    val = _simulated_cox_cohort(60, 1, tmp_path)
    cfg = DeepSurvConfig(
        use=["clinical"],
        hidden=[16],
        dropout=0.0,
        lr=1e-2,
        max_epochs=12,
        batch_size=64,
        n_intervals=10,
        patience=20,
    )
    model = fit_deepsurv(train, val, cfg)
    eta = model.predict_log_hazard(train)
    p = train.patients
    c = concordance_index(p["time"].to_numpy(), p["event"].to_numpy(), eta)
    assert c.value > 0.75
    assert np.corrcoef(eta, p["x1"])[0, 1] > 0.8  # the signal variable drives the risk
    # the network's discrete hazard reproduces S(c_k) of the Breslow baseline
    ds = make_dataset(train, model.preprocessor, cfg.use, None)
    batch = collate_patients([ds[i] for i in range(len(ds))])
    with torch.no_grad():
        out = model.net.eval()(batch)
    surv_h = torch.cumprod(1 - out["hazard"].double(), dim=1).numpy()
    np.testing.assert_allclose(surv_h, model.predict_survival(train, model.cuts[1:]), atol=2e-5)


def test_deepsurv_live_baseline_follows_the_weights(tmp_path) -> None:
    train = _simulated_cox_cohort(40, 2, tmp_path)
    cfg = DeepSurvConfig(use=["clinical"], **SMALL)
    data = prepare_data(train, train, cfg, max_visit_time=None)
    torch.manual_seed(0)
    net = DeepSurvNet(cfg.use, data.dims, data.cuts, [8], 0.0)
    batch = collate_patients([data.train_set[i] for i in range(len(data.train_set))])
    time, event = train.patients["time"].to_numpy(), train.patients["event"].to_numpy().astype(bool)
    assert "hazard" not in net.eval()(batch)  # no baseline yet
    net.set_reference(net.inputs(batch), time, event)

    def check() -> torch.Tensor:
        with torch.no_grad():
            out = net.eval()(batch)
        eta = out["log_hz"].double().numpy()
        expected = np.exp(
            -np.exp(eta)[:, None] * breslow_on_grid(time, event, eta, data.cuts[1:])[None]
        )
        np.testing.assert_allclose(
            torch.cumprod(1 - out["hazard"].double(), 1).numpy(), expected, atol=1e-6
        )
        return out["hazard"]

    before = check()
    opt = torch.optim.AdamW(net.parameters(), lr=0.1)
    net.train()
    net(batch)["log_hz"].sum().backward()
    opt.step()
    after = check()  # recomputed from the updated weights, not the cached baseline
    assert not torch.allclose(before, after)


# ---------------------------------------------------------------------- Dynamic-DeepHit
def test_dynamic_deephit_landmark_ignores_visits_after_s(
    fitted: dict, pbc: dict[str, Cohort]
) -> None:
    model = fitted["dynamic_deephit"]
    test, s = pbc["test"], 2.0
    horizons = [0.0, 0.5, 1.0, 3.0]
    ref = model.predict_survival(test, horizons, landmark=s)
    np.testing.assert_allclose(ref[:, 0], 1.0, atol=1e-12)  # S(s | T > s) = 1
    bm = test.biomarkers.copy()
    late = bm["time"] > s
    assert late.any() and (~late).any()
    markers = test.schema.biomarkers
    bm.loc[late, markers] = bm.loc[late, markers] * 3.0 + 1.0
    extra = bm.drop_duplicates("patient_id").assign(time=s + 0.25)
    changed = Cohort(
        test.root,
        test.schema,
        test.patients,
        pd.concat([bm, extra])
        .sort_values(["patient_id", "time"], kind="stable")
        .reset_index(drop=True),
    )
    np.testing.assert_array_equal(model.predict_survival(changed, horizons, landmark=s), ref)
    # ...while a visit before s does change it, and so do later visits at a later landmark
    early = bm.copy()
    early.loc[~late, markers] = early.loc[~late, markers] * 3.0 + 1.0
    moved = Cohort(test.root, test.schema, test.patients, early)
    assert not np.allclose(model.predict_survival(moved, horizons, landmark=s), ref)
    later = model.predict_survival(changed, horizons, landmark=s + 1.0)
    assert not np.allclose(later, model.predict_survival(test, horizons, landmark=s + 1.0))
    np.testing.assert_array_equal(
        model.predict_survival(test, horizons), model.predict_survival(test, horizons, landmark=0.0)
    )


def test_dynamic_deephit_patient_without_visits(fitted: dict, pbc: dict[str, Cohort]) -> None:
    test = pbc["test"]
    first = test.patient_ids[0]
    bm = test.biomarkers[test.biomarkers["patient_id"] != first].reset_index(drop=True)
    surv = fitted["dynamic_deephit"].predict_survival(
        Cohort(test.root, test.schema, test.patients, bm), [1.0, 2.0]
    )
    assert np.isfinite(surv).all() and ((surv >= 0) & (surv <= 1)).all()


@pytest.mark.parametrize("name", list(FITS))
def test_a_level_only_in_the_test_split_is_known_from_the_cohort_vocabulary(
    tmp_path, name: str
) -> None:
    # A rare category (e.g. NRAS mutant) that a stratified split puts only in the test part
    # made the comparators raise "level did not occur in the training patients" at predict
    # time; the subset remembers the cohort's levels, as the DMA-Net pipeline uses them.
    export_dataset("pbc2", tmp_path)
    patients = pd.read_csv(tmp_path / "patients.csv", dtype={"patient_id": str})
    patients.loc[[130, 131], "sex"] = "x"
    patients.to_csv(tmp_path / "patients.csv", index=False)
    cohort = load_cohort(tmp_path)
    ids = cohort.patient_ids
    train, val = cohort.subset(ids[:90]), cohort.subset(ids[90:120])
    test = cohort.subset(ids[120:145])
    assert "x" not in set(train.patients["sex"]) | set(val.patients["sex"])
    fit, cfg, _ = FITS[name]
    model = fit(train, val, cfg(**SMALL))
    surv = model.predict_survival(test, [1.0, 3.0])
    assert surv.shape == (25, 2) and np.isfinite(surv).all()
