"""The simulated CRLM cohort as data: determinism, the cohort format, visits, videos, truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from oncofusion.data import load_cohort
from oncofusion.data.simulate import oracle_metrics, simulate_crlm
from oncofusion.data.simulate.crlm import crlm_model
from oncofusion.data.simulate.crlm_markers import MarkerParams, VisitData, marker_loglik_terms
from oncofusion.data.simulate.perfusion import perfusion_parameters, render_ceus
from oncofusion.errors import CohortError, ConfigError


def _files(root):
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("crlm") / "cohort"
    simulate_crlm(40, 7, out, frames=3, size=12)
    return out


def test_same_seed_gives_byte_identical_files(tiny_dir, tmp_path):
    again = tmp_path / "again"
    simulate_crlm(40, 7, again, frames=3, size=12)
    a, b = _files(tiny_dir), _files(again)
    assert a.keys() == b.keys()
    assert any(k.endswith(".npy") for k in a) and "truth/oracle_risk.csv" in a
    assert all(a[k] == b[k] for k in a)
    other = simulate_crlm(40, 8, images=False).patients
    assert not other.equals(pd.read_csv(tiny_dir / "patients.csv", dtype={"patient_id": str}))


def test_images_flag_changes_only_the_images():
    with_img = simulate_crlm(25, 3, frames=2, size=8)
    without = simulate_crlm(25, 3, images=False)
    pd.testing.assert_frame_equal(with_img.patients, without.patients)
    pd.testing.assert_frame_equal(with_img.biomarkers, without.biomarkers)
    for k in with_img.truth:
        pd.testing.assert_frame_equal(with_img.truth[k], without.truth[k])
    assert without.imaging is None and "imaging" not in without.schema


def test_written_cohort_loads_and_has_exactly_the_declared_columns(tiny_dir):
    cohort = load_cohort(tiny_dir)  # opens every video as well
    schema = cohort.schema
    assert schema.time_unit == "months" and schema.horizons == [3, 6, 9, 12]
    assert schema.biomarkers == ["ezh2", "cd10"] and schema.imaging == "video"
    raw = pd.read_csv(tiny_dir / "patients.csv")
    assert list(raw.columns) == ["patient_id", "time", "event", *schema.clinical.all]
    assert list(pd.read_csv(tiny_dir / "biomarkers.csv").columns) == [
        "patient_id",
        "time",
        "ezh2",
        "cd10",
    ]
    img = cohort.imaging
    assert set(img["phase"]) == {"arterial", "portal", "delayed"}
    assert (img.groupby("patient_id").size() == 3).all()
    video = np.load(tiny_dir / img["path"].iloc[0])
    assert video.shape == (3, 12, 12) and video.dtype == np.float32 and (video >= 0).all()
    assert (tiny_dir / "truth" / "README.md").read_text().startswith("# Ground truth")
    # the truth folder is not read by the loader, and nothing else is stray
    assert {p.name for p in tiny_dir.iterdir()} == {
        "cohort.yaml",
        "patients.csv",
        "biomarkers.csv",
        "imaging.csv",
        "images",
        "truth",
    }


def test_visits_follow_the_protocol(crlm_big):
    bm = crlm_big.biomarkers
    p = crlm_big.patients.set_index("patient_id")
    follow = bm["patient_id"].map(p["time"])
    assert (bm["time"] >= 0).all() and (bm["time"] <= follow).all()
    # no visit at or after the event
    ev = bm["patient_id"].map(p["event"]) == 1
    assert (bm.loc[ev, "time"] <= follow[ev]).all()
    preop = bm[bm["time"] == 0]
    assert len(preop) / len(p) == pytest.approx(0.97, abs=0.015)
    pod5 = bm[(bm["time"] > 0) & (bm["time"] < 0.5)]
    assert np.allclose(pod5["time"], 0.164)
    # about 10% of the monthly visits of patients still followed are missed
    followed_12 = p.index[p["time"] >= 12]
    monthly = bm[bm["patient_id"].isin(followed_12) & (bm["time"] >= 0.5)]
    assert len(monthly) / (12 * len(followed_12)) == pytest.approx(0.90, abs=0.015)
    assert bm[["ezh2", "cd10"]].isna().mean().between(0.01, 0.03).all()
    assert not bm[["ezh2", "cd10"]].isna().all(axis=1).any()


def test_markers_rise_before_the_event(crlm_big):
    """Log EZH2 in the 1.5 months before a metastasis exceeds the patient's own earlier level."""
    bm = crlm_big.biomarkers.merge(crlm_big.patients[["patient_id", "time", "event"]], on="patient_id",
                                   suffixes=("", "_end"))  # fmt: skip
    late = bm[(bm["event"] == 1) & (bm["time_end"] > 5)].copy()
    late["to_event"] = late["time_end"] - late["time"]
    near = (
        late[late["to_event"] < 1.5].groupby("patient_id")["ezh2"].apply(lambda s: np.log(s).mean())
    )
    early = (
        late[(late["to_event"] > 4) & (late["time"] >= 1)]
        .groupby("patient_id")["ezh2"]
        .apply(lambda s: np.log(s).mean())
    )
    both = near.index.intersection(early.index)
    assert len(both) > 100
    assert (near[both] - early[both]).mean() > 0.4


def test_marker_likelihood_matches_multivariate_normal():
    """The closed form integrating out the patient offset equals the Gaussian likelihood."""
    mp = MarkerParams()
    t = np.array([[0.0, 0.164, 1.05, 1.9, 3.1, np.nan]])
    rng = np.random.default_rng(1)
    logv = rng.normal(1.5, 0.5, (1, 6, 2))
    logv[0, 3, 1] = np.nan
    visits = VisitData(time=t, log_value=logv)
    t_mid = np.array([1.2, 2.6, 4.0, 9.0, np.inf])
    f1, f2, g, h = marker_loglik_terms(mp, visits, 3.5, t_mid)

    def exact(d, j):
        total = 0.0
        for k in range(2):
            use = (
                np.isfinite(t[0])
                & np.isfinite(logv[0, :, k])
                & (np.nan_to_num(t[0], nan=99) <= 3.5)
            )
            tt = t[0, use]
            mean = mp.log_median[k] + mp.surgery_response(k, tt) + mp.loading[k] * d
            mean = mean + mp.rise[k] * mp.ramp(tt, t_mid[j])
            cov = mp.sd_noise[k] ** 2 * np.eye(tt.size) + mp.sd_patient[k] ** 2
            total += multivariate_normal(mean, cov).logpdf(logv[0, use, k])
        return total

    pairs = [(d, j) for d in (-1.3, 0.2, 1.7) for j in range(t_mid.size)]
    closed = np.array([f1[0] * d + f2[0] * d * d + g[0, j] + d * h[0, j] for d, j in pairs])
    brute = np.array([exact(d, j) for d, j in pairs])
    np.testing.assert_allclose(closed - closed[0], brute - brute[0], atol=1e-9)


def test_perfusion_video_encodes_the_latent_factors():
    def render(u1, u2, phase, frame):
        return render_ceus(
            perfusion_parameters(u1, u2), np.random.default_rng(5), frames=6, size=32
        )[phase][frame]

    centre = (slice(12, 20), slice(12, 20))
    # kinetics u1: earlier, brighter arterial peak and faster washout (darker delayed phase)
    assert (
        render(1.0, 0.0, "arterial", 0)[centre].mean()
        > render(-1.0, 0.0, "arterial", 0)[centre].mean()
    )
    assert (
        render(1.0, 0.0, "delayed", -1)[centre].mean()
        < render(-1.0, 0.0, "delayed", -1)[centre].mean()
    )
    # morphology u2: central perfusion defect with a bright rim in the arterial phase
    hi, lo = render(0.0, 2.0, "arterial", -1), render(0.0, -2.0, "arterial", -1)
    yy, xx = np.mgrid[:32, :32]
    r = np.hypot(yy - 15.5, xx - 15.5)
    ring, core = (r > 6) & (r < 10), r < 3
    assert hi[ring].mean() / hi[core].mean() > 1.3 * lo[ring].mean() / lo[core].mean()


def test_truth_is_internally_consistent(crlm_big):
    t = crlm_big.truth
    lat = t["latent"]
    np.testing.assert_allclose(t["dynamic_risk"]["m00"], t["oracle_risk"]["all_12"], atol=1e-12)
    assert t["dynamic_risk"]["m12"].dropna().max() < 1e-12
    # the dynamic risk is given exactly for the patients still followed at each month
    time = crlm_big.patients["time"].to_numpy()
    for m in (0, 4, 8):
        assert (t["dynamic_risk"][f"m{m:02d}"].notna().to_numpy() == (time >= m)).all()
    risk = t["oracle_risk"].drop(columns="patient_id").to_numpy()
    assert ((risk >= 0) & (risk <= 1)).all()
    for s in ("clinical", "imaging", "markers", "all"):
        curve = t["oracle_risk"][[f"{s}_{k:02d}" for k in range(1, 13)]].to_numpy()
        assert (np.diff(curve, axis=1) >= -1e-12).all()
    # the observed outcome is the true event time, censored
    event = crlm_big.patients["event"].to_numpy() == 1
    floored = np.maximum(np.floor(lat["event_time"][event] * 1000 + 1e-9) / 1000, 0.001)
    np.testing.assert_allclose(time[event], floored, atol=1e-9)
    assert (lat["event_time"][~event] > time[~event]).all()
    h = t["hazard"].drop(columns="patient_id").to_numpy()
    shape = np.asarray(crlm_model().params.hazard_shape)
    beta0 = crlm_model().beta0
    expected = 1.0 - np.exp(-np.exp(lat["eta"].to_numpy())[:, None] * shape[None, :])
    np.testing.assert_allclose(h, expected, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(
        lat["eta"], beta0 + 1.0 * lat["z_clinical"] + 3.0 * lat["aggressiveness"], atol=1e-9
    )


def test_oracle_metrics_on_a_split_and_against_scikit_survival(tiny_dir, crlm_big):
    from oncofusion.data.simulate.oracle_eval import _Backend

    ids = crlm_big.patient_ids[:600]
    res = oracle_metrics(crlm_big, ids)
    assert (res["n"][res["subset"] == "all"] == 600).all()
    be = _Backend()
    be._m = None  # the scikit-survival fallback
    p = crlm_big.patients.iloc[:600]
    risk = crlm_big.truth["oracle_risk"].iloc[:600]
    auc_sk, _ = be.auc(
        p["time"].to_numpy(),
        p["event"].to_numpy(),
        risk[["imaging_06"]].to_numpy(),
        np.array([6.0]),
    )
    got = res.query("subset == 'imaging' and metric == 'auc_6'")["value"].item()
    assert got == pytest.approx(auc_sk[0], abs=1e-12)
    with pytest.raises(CohortError, match="not in the cohort"):
        oracle_metrics(crlm_big, ["CRLM9999"])
    from_dir = oracle_metrics(tiny_dir)
    assert set(from_dir["subset"]) >= {"clinical", "imaging", "markers", "all"}
    with pytest.raises(CohortError, match="truth"):
        oracle_metrics(tiny_dir / "truth")


def test_bad_arguments_raise_clear_errors(tiny_dir):
    with pytest.raises(ConfigError, match="positive number of patients"):
        simulate_crlm(0)
    with pytest.raises(ConfigError, match="frames"):
        simulate_crlm(5, frames=0)
    from oncofusion.errors import OncofusionError

    with pytest.raises(OncofusionError, match="not empty"):
        simulate_crlm(5, 0, tiny_dir)
