"""MM-Care fusion comparison / ablations under identical splits, and a real randomised trial
(colon: three arms, no local control, no imaging or genomics)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from oncofusion.data import load_cohort
from oncofusion.models.mmcare_compare import compare_fusions, variant_config, variants_for
from oncofusion.models.mmcare_config import load_mmcare_config

TINY = {"train": {"max_epochs": 1, "batch_size": 16}, "decision": {"mc_samples": 0}}


def test_variants_change_only_what_they_name():
    base = load_mmcare_config("mmcare-cpu")
    table = variants_for(base)
    assert set(table) >= {
        "ECF",
        "LPF",
        "WFSF",
        "adaptive (MM-Care)",
        "w/o genomics",
        "w/o dual-task",
        "w/o spatial attention",
    }
    lpf = variant_config(base, table["LPF"][0], seed=3)
    assert lpf.network.fusion.name == "late" and lpf.network.head.args["hidden"] == []
    assert lpf.train.seed == 3 and lpf.network.encoders == base.network.encoders
    ecf = variant_config(base, table["ECF"][0], seed=0)
    assert ecf.network.fusion.name == "concat" and "heads" not in ecf.network.fusion.args
    nogen = variant_config(base, table["w/o genomics"][0], seed=0)
    assert nogen.network.modalities == ["imaging", "clinical"]
    noatt = variant_config(base, table["w/o spatial attention"][0], seed=0)
    assert noatt.network.encoders["imaging"].args["attention"] == "none"
    assert noatt.network.encoders["imaging"].args["use_segmentation"] is True
    os_only, lc_only = (variant_config(base, o, seed=0) for o in table["w/o dual-task"])
    assert (os_only.loss.os, os_only.loss.lc) == (0.7, 0.0)
    assert (lc_only.loss.os, lc_only.loss.lc, lc_only.train.monitor) == (0.0, 0.3, "val_loss")


def test_compare_fusions_shares_splits_and_writes_tables(tmp_path, monkeypatch):
    import oncofusion.models.mmcare_pipeline as pipeline
    from oncofusion.data.simulate import simulate_nsclc

    seen = []
    real = pipeline.train_mmcare

    def spy(cohort, cfg, **kw):
        seen.append((cfg.train.seed, kw["splits"]))
        return real(cohort, cfg, **kw)

    monkeypatch.setattr(pipeline, "train_mmcare", spy)
    simulate_nsclc(70, 5, str(tmp_path / "c"), size=16)
    cohort = load_cohort(tmp_path / "c")
    base = load_mmcare_config("mmcare-cpu", TINY)
    tables = compare_fusions(
        cohort,
        base,
        tmp_path / "cmp",
        seeds=[0],
        progress=False,
        variants=["adaptive (MM-Care)", "LPF", "w/o dual-task"],
        n_resamples=10,
    )
    per = tables["per_seed"]
    assert list(per["variant"]) == ["adaptive (MM-Care)", "LPF", "w/o dual-task"]
    assert per["value_share"].between(0, 1 + 1e-12).all() and per["agreement"].between(0, 1).all()
    assert list(tables["fusion_comparison"]["variant"]) == ["LPF", "adaptive (MM-Care)"]
    assert list(tables["ablation"]["variant"]) == ["adaptive (MM-Care)", "w/o dual-task"]
    for name in ("per_seed", "fusion_comparison", "ablation"):
        assert (tmp_path / "cmp" / f"{name}.md").is_file()
    # identical splits and seeds: the four trainings (dual-task ablation: two) share them
    assert len(seen) == 4 and all(s == seen[0] for s in seen)


def test_colon_trial_three_arms_without_lc(tmp_path):
    from oncofusion.data.public import export_dataset
    from oncofusion.models.mmcare_eval import evaluate_mmcare
    from oncofusion.models.mmcare_pipeline import train_mmcare

    export_dataset("colon", tmp_path / "colon")
    full = load_cohort(tmp_path / "colon")
    rng = np.random.default_rng(0)
    cohort = full.subset(list(rng.choice(full.patient_ids, 240, replace=False)))
    cfg = load_mmcare_config(
        "mmcare-cpu", {**TINY, "decision": {"mc_samples": 0, "randomised": True}}
    )
    with pytest.warns(UserWarning, match="no imaging, genomics data"):
        run = train_mmcare(cohort, cfg, work_dir=tmp_path / "w")
    model = run.model
    assert model.config.network.modalities == ["clinical"] and model.lc_horizons == []
    assert model.arms == ["obs", "lev", "lev5fu"] and model.decision_horizon == 1826.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = evaluate_mmcare(
            model,
            cohort,
            run.splits["test"],
            train_ids=run.splits["train"],
            val_ids=run.splits["val"],
            n_resamples=30,
        )
    assert "lc" not in rep.tables
    rec = rep.tables["recommendation"].set_index("policy")
    assert {"MM-Care", "everyone obs", "everyone lev", "everyone lev5fu", "random"} <= set(
        rec.index
    )
    assert "agreement" not in rec and rec["ipw_value"].between(0, 1).all()
    assert (rec["ipw_low"] <= rec["ipw_value"]).all() and (
        rec["ipw_value"] <= rec["ipw_high"]
    ).all()
    # in a randomised trial, "everyone obs" by IPW equals the Kaplan-Meier of the obs arm at the horizon
    from oncofusion.survival.nonparametric import kaplan_meier

    test = cohort.subset(run.splits["test"]).patients
    obs = test[test["arm"] == "obs"]
    km = float(kaplan_meier(obs["time"].to_numpy(), obs["event"].to_numpy().astype(bool))(1826.0))
    assert rec.loc["everyone obs", "ipw_value"] == pytest.approx(km, abs=1e-9)
