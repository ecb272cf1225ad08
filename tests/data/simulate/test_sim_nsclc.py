"""The simulated early-stage NSCLC cohort (MM-Care, seed paper 002): format, realism, truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oncofusion.data import load_cohort
from oncofusion.data.simulate import simulate_nsclc
from oncofusion.data.simulate.nsclc_genomics import EXPRESSION_GENES, MODULES
from oncofusion.errors import ConfigError
from oncofusion.survival.nonparametric import kaplan_meier


def _files(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("nsclc") / "cohort"
    simulate_nsclc(30, 4, out, size=16)
    return out


def test_same_seed_gives_byte_identical_files(tiny_dir, tmp_path):
    simulate_nsclc(30, 4, tmp_path / "again", size=16)
    a, b = _files(tiny_dir), _files(tmp_path / "again")
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a)
    assert any(k.endswith("_mask.npy") for k in a)
    other = simulate_nsclc(30, 5, images=False)
    assert not other.patients.equals(simulate_nsclc(30, 4, images=False).patients)


def test_written_cohort_loads_with_volumes_masks_genomics_and_graph(tiny_dir):
    cohort = load_cohort(tiny_dir)
    s = cohort.schema
    assert s.arms == ["sbrt", "surgery"] and s.imaging == "volume" and s.horizons == [12, 36, 60]
    assert s.extra == ["site"] and len(s.genomics) == 45
    raw = pd.read_csv(tiny_dir / "patients.csv")
    assert list(raw.columns) == [
        "patient_id",
        "time",
        "event",
        "arm",
        "lc_time",
        "lc_event",
        *s.clinical.all,
        "site",
    ]
    assert (cohort.patients["lc_time"] <= cohort.patients["time"]).all()
    assert (cohort.patients["lc_time"] <= 36).all()
    row = cohort.imaging.iloc[0]
    vol, mask = np.load(tiny_dir / row["path"]), np.load(tiny_dir / row["mask_path"])
    assert vol.shape == mask.shape == (16, 16, 16) and vol.dtype == np.float32
    assert set(np.unique(mask)) == {0, 1}
    assert vol[mask == 1].mean() > vol[mask == 0].mean() + 300  # nodule (HU) brighter than lung
    graph = cohort.gene_graph
    assert set(graph["gene_a"]) | set(graph["gene_b"]) == set(s.genomics)


def test_confounding_direction(nsclc_big):
    p = nsclc_big.patients
    sbrt = p["arm"] == "sbrt"
    assert sbrt.mean() == pytest.approx(0.40, abs=0.03)
    assert p.loc[sbrt, "age"].mean() > p.loc[~sbrt, "age"].mean() + 3
    assert p.loc[sbrt, "fev1_pct"].mean() < p.loc[~sbrt, "fev1_pct"].mean() - 5
    assert p.loc[sbrt, "charlson"].mean() > p.loc[~sbrt, "charlson"].mean() + 0.5
    e = nsclc_big.truth["potential_outcomes"]["propensity_sbrt"]
    assert e[sbrt].mean() > e[~sbrt].mean() + 0.15
    assert e.between(0.0, 1.0, inclusive="neither").all()


def test_os_and_lc_rates_by_arm(nsclc_big):
    p = nsclc_big.patients
    for arm, (lo, hi) in {"surgery": (0.60, 0.72), "sbrt": (0.48, 0.60)}.items():
        m = (p["arm"] == arm).to_numpy()
        os3 = kaplan_meier(p["time"].to_numpy()[m], p["event"].to_numpy()[m])(36.0)
        assert lo <= os3 <= hi, (arm, os3)
        lc3 = kaplan_meier(p["lc_time"].to_numpy()[m], p["lc_event"].to_numpy()[m])(35.99)
        assert 0.85 <= lc3 <= 0.92, (arm, lc3)
    po = nsclc_big.truth["potential_outcomes"]
    assert 0.84 <= po[["lc_sbrt_36", "lc_surgery_36"]].to_numpy().mean() <= 0.90


def test_kaplan_meier_matches_true_os_by_arm(nsclc_big):
    p, po = nsclc_big.patients, nsclc_big.truth["potential_outcomes"]
    for arm in ("sbrt", "surgery"):
        m = (p["arm"] == arm).to_numpy()
        km = kaplan_meier(p["time"].to_numpy()[m], p["event"].to_numpy()[m])
        truth = po.loc[m, [f"os_{arm}_{t}" for t in (12, 36, 60)]].mean().to_numpy()
        np.testing.assert_allclose(km(np.array([12.0, 36.0, 60.0])), truth, atol=0.03)


@pytest.mark.filterwarnings("ignore:Tied event times")  # lifelines jitters ties (seeded)
def test_local_failure_incidence_matches_truth(nsclc_big):
    """Aalen-Johansen cumulative incidence of local failure (death competing) vs the truth."""
    from lifelines import AalenJohansenFitter

    p, lat = nsclc_big.patients, nsclc_big.truth["latent"]
    par = nsclc_big.params
    grid = np.linspace(0.0, 36.0, 721)
    for arm in ("sbrt", "surgery"):
        m = (p["arm"] == arm).to_numpy()
        lc_t, lc_e = p["lc_time"].to_numpy()[m], p["lc_event"].to_numpy()[m]
        died_first = (
            (p["event"].to_numpy()[m] == 1) & (lc_e == 0) & (lc_t == p["time"].to_numpy()[m])
        )
        code = np.where(lc_e == 1, 1, np.where(died_first, 2, 0))
        ajf = AalenJohansenFitter(calculate_variance=False, seed=0).fit(
            lc_t, code, event_of_interest=1
        )
        observed = float(ajf.cumulative_density_.loc[:35.99].iloc[-1, 0])
        # truth: integral of f_LC(t) S_OS(t) dt under the patient's arm
        eta_lc = lat[f"eta_lc_{arm}"].to_numpy()[m][:, None]
        eta_os = lat[f"eta_os_{arm}"].to_numpy()[m][:, None]
        s_lc = np.exp(-(grid ** par["lc_shape"]) * np.exp(eta_lc))
        s_os = np.exp(-(grid ** par["os_shape"]) * np.exp(eta_os))
        cif = np.sum(-np.diff(s_lc, axis=1) * (s_os[:, 1:] + s_os[:, :-1]) / 2, axis=1)
        assert observed == pytest.approx(cif.mean(), abs=0.015), arm


def test_heterogeneous_effects_and_recommendation_rule(nsclc_big):
    po, p, lat = (
        nsclc_big.truth["potential_outcomes"],
        nsclc_big.patients,
        nsclc_big.truth["latent"],
    )
    score = {a: 0.7 * po[f"os_{a}_36"] + 0.3 * po[f"lc_{a}_36"] for a in ("sbrt", "surgery")}
    np.testing.assert_allclose(po["score_sbrt"], score["sbrt"])
    best = np.where(score["sbrt"] > score["surgery"], "sbrt", "surgery")
    assert (po["optimal_arm"] == best).all()
    assert 0.25 < (po["optimal_arm"] == "sbrt").mean() < 0.6
    assert 0.55 < (po["optimal_arm"] == p["arm"]).mean() < 0.8
    benefit = po["score_sbrt"] - po["score_surgery"]
    assert benefit.std() > 0.05
    # frail patients gain from SBRT; fit patients from surgery
    assert np.corrcoef(lat["fitness_deficit"], benefit)[0, 1] > 0.2
    for k in ("os_sbrt_12", "os_sbrt_60", "lc_surgery_12"):
        assert po[k].between(0, 1).all()
    assert (po["os_surgery_60"] <= po["os_surgery_36"]).all()


def test_custom_recommendation_weights():
    from oncofusion.data.simulate.nsclc_outcomes import NSCLCParams

    po = simulate_nsclc(
        200, 1, images=False, params=NSCLCParams(os_weight=0.0, lc_weight=1.0)
    ).truth["potential_outcomes"]
    np.testing.assert_allclose(po["score_surgery"], po["lc_surgery_36"])


def test_genomics_subset_and_graph_smooth_signal(nsclc_big):
    g, p, lat = nsclc_big.genomics, nsclc_big.patients, nsclc_big.truth["latent"]
    assert len(g) / len(p) == pytest.approx(0.60, abs=0.03)
    has = p["patient_id"].isin(g["patient_id"])
    assert has[p["arm"] == "surgery"].mean() > has[p["arm"] == "sbrt"].mean() + 0.15
    for col, (lo, hi) in {
        "egfr": (0.1, 0.25),
        "kras": (0.15, 0.3),
        "tp53": (0.35, 0.6),
        "stk11": (0.05, 0.15),
    }.items():
        assert lo < g[col].mean() < hi, col
    assert ((g["egfr"] + g["kras"]) <= 1).all()  # mutually exclusive drivers
    assert 0.25 < (g["pd_l1"] < 1).mean() < 0.5 and 0.1 < (g["pd_l1"] >= 50).mean() < 0.35
    # a gene alone reads its module weakly; its graph neighbourhood reads it well
    graph = nsclc_big.gene_graph
    merged = g.merge(lat[["patient_id", "proliferation"]], on="patient_id")
    gene = MODULES["proliferation"][0]
    nbrs = set(graph.loc[graph["gene_a"] == gene, "gene_b"]) | set(
        graph.loc[graph["gene_b"] == gene, "gene_a"]
    )
    nbrs = [x for x in nbrs if x in EXPRESSION_GENES] + [gene]
    r_gene = np.corrcoef(merged[gene], merged["proliferation"])[0, 1]
    r_nbhd = np.corrcoef(merged[nbrs].mean(axis=1), merged["proliferation"])[0, 1]
    assert r_gene < 0.6 and r_nbhd > r_gene + 0.15


def test_bad_arguments():
    with pytest.raises(ConfigError, match="positive number"):
        simulate_nsclc(0)
    with pytest.raises(ConfigError, match="size"):
        simulate_nsclc(5, size=4)
