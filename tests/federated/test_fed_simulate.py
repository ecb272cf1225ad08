"""In-process federations on Flower: logs, the saved model, reproducibility, FedProx, the CLI."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from fed_helpers import CONFIG, TINY, tiny_config
from typer.testing import CliRunner

import oncofusion
from oncofusion.federated.config import FederatedConfig
from oncofusion.federated.simulate import simulate_federation


@pytest.fixture(scope="module")
def fedavg(crlm_sites, tmp_path_factory):  # type: ignore[no-untyped-def]
    test_ids = crlm_sites.patient_ids[::6]
    fed = FederatedConfig(rounds=2, local_epochs=1, seed=1)
    res = simulate_federation(crlm_sites, tiny_config(), fed, tmp_path_factory.mktemp("fedavg"), test_ids=test_ids)
    return res, test_ids


def test_rounds_csv_has_site_weighted_pooled_and_test_rows(fedavg) -> None:
    res, test_ids = fedavg
    log = pd.read_csv(res.rounds_csv)
    assert list(log.columns) == ["round", "scope", "site", "n", "events", "auc", "ibs", "train_loss"]
    for r in (1, 2):
        rows = log[log["round"] == r]
        assert sorted(rows.loc[rows.scope == "site", "site"]) == ["site_1", "site_2", "site_3"]
        assert set(rows.scope) == {"site", "weighted", "pooled", "test"}
        sites = rows[rows.scope == "site"]
        assert (sites["train_loss"] > 0).all()
        weighted = rows[rows.scope == "weighted"].iloc[0]
        assert weighted["n"] == sites["n"].sum() == rows[rows.scope == "pooled"].iloc[0]["n"]
        ok = sites["ibs"].notna()
        assert weighted["ibs"] == pytest.approx(np.average(sites.ibs[ok], weights=sites.n[ok]))
        test = rows[rows.scope == "test"].iloc[0]
        assert test["n"] == len(test_ids) and 0 <= test["auc"] <= 1 and 0 < test["ibs"] < 1
    assert (log[log.scope == "pooled"]["round"] == 0).any()  # the initial model is evaluated too


def test_sites_trained_on_their_own_patients_only(fedavg, crlm_sites) -> None:
    res, test_ids = fedavg
    counts = crlm_sites.subset([p for p in crlm_sites.patient_ids if p not in set(test_ids)]).patients["site"].value_counts()
    for name, info in res.sites.items():
        assert info["n_train"] + info["n_val"] == counts[name]


def test_the_federated_model_is_an_ordinary_run(fedavg, crlm_sites) -> None:
    res, test_ids = fedavg
    model = oncofusion.load(str(res.run_dir))
    pred = model.predict(crlm_sites.subset(test_ids))
    assert pred.surv.shape == (len(test_ids), 6)
    assert np.all(np.diff(pred.surv, axis=1) <= 1e-7) and np.all((pred.surv > 0) & (pred.surv <= 1))
    fed = __import__("json").loads((res.run_dir / "federation.json").read_text())
    assert fed["strategy"] == "fedavg" and fed["selected_round"] == res.best_round in (1, 2)
    assert not fed["authenticated"] and fed["rejected_messages"] == []
    # the saved model is the selected round's: its test AUC is the logged one
    log = pd.read_csv(res.rounds_csv)
    logged = log[(log["round"] == res.best_round) & (log.scope == "test")].iloc[0]
    from oncofusion.federated.local import survival_metrics

    p = crlm_sites.subset(test_ids).patients.set_index("patient_id").loc[pred.patient_ids]
    train = [pid for pid in crlm_sites.patient_ids if pid not in set(test_ids)]
    # the censoring reference of the logged metric: the sites' training patients
    site_train = crlm_sites.subset(train).patients
    m = survival_metrics(p["time"].to_numpy(float), p["event"].to_numpy(int), pred.surv, pred.cuts[1:], horizon=12.0,
                         train_time=site_train["time"].to_numpy(float), train_event=site_train["event"].to_numpy(int))
    assert math.isfinite(m["auc"]) and abs(m["auc"] - logged["auc"]) < 0.1


def test_same_seed_same_model_and_fedprox_differs(tmp_path) -> None:
    from oncofusion.data import load_cohort

    tiny = load_cohort(TINY)
    cfg = tiny_config()
    runs = {}
    # 3 local epochs of one batch each: the proximal pull acts from the second local step on
    common = {"rounds": 2, "seed": 4, "select": "last", "local_epochs": 3}
    for name, fed in (("a", FederatedConfig(**common)), ("b", FederatedConfig(**common)),
                      ("prox", FederatedConfig(**common, strategy="fedprox", mu=5.0))):
        res = simulate_federation(tiny, cfg, fed, tmp_path / name)
        runs[name] = torch.load(res.run_dir / "weights.pt", weights_only=True)
    a, b, prox = runs["a"], runs["b"], runs["prox"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.allclose(a[k].float(), prox[k].float()) for k in a)


def test_cli_simulate_and_assign_sites(tmp_path, crlm_sites) -> None:
    import yaml

    from oncofusion.cli import app

    (tmp_path / "cfg.yaml").write_text(yaml.safe_dump(CONFIG))
    runner = CliRunner()
    base = tmp_path / "cohort"
    from oncofusion.federated.sites import write_cohort_dir

    write_cohort_dir(oncofusion.load_cohort(str(crlm_sites.root)), base)
    r = runner.invoke(app, ["federated", "assign-sites", str(base), "--n-sites", "3", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "tnm_stage" in r.output and (tmp_path / "s" / "patients.csv").is_file()
    r = runner.invoke(app, ["federated", "simulate", str(tmp_path / "s"), "--site-column", "site", "--rounds", "1",
                            "--config", str(tmp_path / "cfg.yaml"), "--strategy", "fedprox", "--mu", "0.01",
                            "--test-fraction", "0.2", "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    log = pd.read_csv(tmp_path / "out" / "rounds.csv")
    assert set(log.scope) == {"site", "weighted", "pooled", "test"}
    assert "selected round 1" in r.output
    r = runner.invoke(app, ["federated", "simulate", str(base), "--rounds", "1", "--config", str(tmp_path / "cfg.yaml"),
                            "--out", str(tmp_path / "out2")])
    assert r.exit_code == 2 and "no 'site' column" in r.output
