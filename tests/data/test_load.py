"""Loading valid cohorts: types, CSV/Parquet equivalence, the example cohort, the summary."""

from __future__ import annotations

import filecmp
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oncofusion
import oncofusion.data
from oncofusion.data import Cohort, load_cohort
from oncofusion.data.summary import median_follow_up, summarise

TINY = Path(oncofusion.__file__).parent / "data" / "examples" / "tiny"


def copy_tiny(tmp_path: Path) -> Path:
    root = tmp_path / "cohort"
    shutil.copytree(TINY, root)
    return root


@pytest.fixture(scope="module")
def tiny() -> Cohort:
    return load_cohort(TINY)


def test_tiny_tables_are_typed(tiny: Cohort) -> None:
    p = tiny.patients
    assert p["patient_id"].tolist() == [f"{i:03d}" for i in range(1, 13)]  # leading zeros kept
    assert p["time"].dtype == np.float64 and p["event"].dtype == np.int64
    assert p["event"].tolist() == [1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1]
    assert p["age"].dtype == np.float64 and p["cea"].dtype == np.float64
    assert p["cea"].isna().tolist() == [False, False, True] + [False] * 6 + [True, False, False]
    assert p["stage"].tolist()[:4] == ["III", "I", "III", "II"]
    assert p["emvi"].isna().sum() == 1 and set(p["emvi"].dropna()) <= {"yes", "no"}
    assert p["arm"].tolist().count("sbrt") == 4
    assert p["lc_event"].isna().sum() == 2 and p["lc_time"].isna().sum() == 2
    assert list(p.columns) == [
        "patient_id", "time", "event", "arm", "lc_time", "lc_event",
        "age", "cea", "sex", "stage", "emvi", "site",
    ]  # fmt: skip
    b = tiny.biomarkers
    assert b is not None and list(b.columns) == ["patient_id", "time", "ezh2", "cd10"]
    assert b["patient_id"].map(type).eq(str).all()
    assert (b.groupby("patient_id")["time"].apply(lambda t: t.is_monotonic_increasing)).all()
    assert b["cd10"].isna().sum() == 2
    assert tiny.genomics is not None and tiny.genomics.shape == (9, 5)
    assert tiny.gene_graph is not None and len(tiny.gene_graph) == 4
    assert tiny.imaging is not None and tiny.imaging["path"].iloc[0] == "images/001_arterial.npy"
    assert tiny.root.is_absolute()
    assert tiny.metadata["files"]["patients"] == "patients.csv" and tiny.metadata["images_checked"]


def test_parquet_tables_load_like_csv(tmp_path: Path, tiny: Cohort) -> None:
    root = copy_tiny(tmp_path)
    for name in ("patients", "biomarkers", "genomics", "imaging"):
        # what a user's pandas would write: ids as text, numbers typed, missing as NaN/None
        frame = pd.read_csv(root / f"{name}.csv", dtype={"patient_id": str})
        frame.to_parquet(root / f"{name}.parquet")
        (root / f"{name}.csv").unlink()
    cohort = load_cohort(root)
    pd.testing.assert_frame_equal(cohort.patients, tiny.patients)
    pd.testing.assert_frame_equal(cohort.biomarkers, tiny.biomarkers)
    pd.testing.assert_frame_equal(cohort.genomics, tiny.genomics)
    pd.testing.assert_frame_equal(cohort.imaging, tiny.imaging)
    assert cohort.metadata["files"]["patients"] == "patients.parquet"


def test_parquet_whole_number_levels_read_like_csv_text(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    frame = pd.read_csv(root / "patients.csv", dtype={"patient_id": str})
    frame["stage"] = frame["stage"].map({"I": 1.0, "II": 2.0, "III": np.nan})  # float with NaN
    frame["event"] = frame["event"].astype(bool)
    frame.to_parquet(root / "patients.parquet")
    (root / "patients.csv").unlink()
    p = load_cohort(root, check_images=False).patients
    assert p["stage"].tolist()[1:4:2] == ["1", "2"]  # not "1.0", "2.0"
    assert p["stage"].isna().sum() == 5 and p["stage"].dropna().isin(["1", "2"]).all()
    assert p["event"].tolist()[:3] == [1, 1, 0]


def test_missing_tokens_blanks_and_booleans(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    text = (root / "patients.csv").read_text().splitlines()
    text[1] = " 001 ,1.3, TRUE ,surgery,0.9,0,NA,4.8,F, III ,n/a,site_a"
    (root / "patients.csv").write_text("\n".join(text) + "\n\n")  # a trailing blank line too
    p = load_cohort(root, check_images=False).patients
    assert p["patient_id"].iloc[0] == "001" and len(p) == 12
    assert p["event"].iloc[0] == 1
    assert np.isnan(p["age"].iloc[0]) and pd.isna(p["emvi"].iloc[0])
    assert p["stage"].iloc[0] == "III"


def test_mask_and_colour_images_are_accepted(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    np.save(root / "images" / "001_arterial.npy", np.zeros((8, 16, 16, 3), np.uint8))  # RGB frames
    np.save(root / "images" / "mask.npy", np.ones((8, 16, 16), np.uint8))
    imaging = pd.read_csv(root / "imaging.csv", dtype=str)
    imaging["mask_path"] = ["images/mask.npy"] + [None] * (len(imaging) - 1)
    imaging.to_csv(root / "imaging.csv", index=False)
    cohort = load_cohort(root)
    assert cohort.imaging is not None
    assert (
        cohort.imaging["mask_path"].iloc[0] == "images/mask.npy"
        and cohort.imaging["mask_path"].isna().sum() == 11
    )


def test_optional_tables_may_be_absent(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    for name in ("biomarkers", "genomics", "gene_graph", "imaging"):
        (root / f"{name}.csv").unlink()
    yaml = (root / "cohort.yaml").read_text()
    for line in (
        "biomarkers: [ezh2, cd10]\n",
        "genomics: [egfr, kras, tp53, braf]\n",
        "imaging: video\n",
    ):
        yaml = yaml.replace(line, "")
    (root / "cohort.yaml").write_text(yaml)
    cohort = load_cohort(root)
    assert cohort.biomarkers is None and cohort.genomics is None and cohort.imaging is None
    summary = summarise(cohort)
    assert set(summary["modalities"]) == {"clinical"}
    assert summary["missingness"]["biomarkers"] == {}


def test_summary_counts_by_hand(tiny: Cohort) -> None:
    s = summarise(tiny)
    assert (s["patients"], s["events"], s["censored_percent"]) == (12, 5, 58.3)
    # reverse KM: censorings at 6.8 (8 at risk), 7.5 (7), 10.1 (6), 11.0 (5) take G to
    # 7/8 * 6/7 * 5/6 * 4/5 = 0.5, so the median follow-up is 11.0 months
    assert s["follow_up"] == {"median_reverse_km": 11.0, "min": 1.3, "max": 26.4}
    assert s["horizons"] == [
        {"horizon": 3.0, "at_risk": 10, "events_by": 2},
        {"horizon": 6.0, "at_risk": 8, "events_by": 4},
        {"horizon": 12.0, "at_risk": 4, "events_by": 4},
    ]
    assert s["arms"] == {
        "sbrt": {"patients": 4, "events": 1},
        "surgery": {"patients": 8, "events": 4},
    }
    assert s["local_control"] == {"patients": 10, "events": 2}
    m = s["modalities"]
    assert m["biomarkers"]["patients"] == 10 and m["biomarkers"]["visits"] == 28
    assert m["biomarkers"]["visits_per_patient"] == {"median": 3.0, "min": 1.0, "max": 4.0}
    assert m["genomics"] == {"patients": 9, "percent": 75.0, "genes": 4, "graph_edges": 4}
    assert m["imaging"]["patients"] == 4 and m["imaging"]["images"] == 12
    assert m["imaging"]["phases"] == ["arterial", "late", "portal"]
    assert s["missingness"]["patients"]["cea"] == {"missing": 2, "percent": 16.7}
    assert s["missingness"]["biomarkers"]["cd10"] == {"missing": 2, "percent": 7.1}
    assert s["notes"] == []


def test_median_follow_up_not_reached() -> None:
    # two events and one censoring: the censoring KM never drops to 0.5
    assert median_follow_up(np.array([1.0, 2.0, 3.0]), np.array([1, 1, 0])) == 3.0
    assert median_follow_up(np.array([1.0, 2.0, 3.0]), np.array([0, 1, 1])) is None


def test_example_files_are_what_make_tiny_writes(tmp_path: Path) -> None:
    script = TINY.parent / "make_tiny.py"
    spec = importlib.util.spec_from_file_location("make_tiny", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.make_tiny(tmp_path / "tiny")
    cmp = filecmp.dircmp(TINY, tmp_path / "tiny")
    assert not cmp.left_only and not cmp.right_only
    for sub in ("", "images"):
        names = [p.name for p in (TINY / sub).iterdir() if p.is_file()]
        match, mismatch, errors = filecmp.cmpfiles(
            TINY / sub, tmp_path / "tiny" / sub, names, shallow=False
        )
        assert not mismatch and not errors and len(match) == len(names)


def test_data_package_is_light_and_lazy() -> None:
    code = (
        "import sys, oncofusion.data as d; "
        "assert 'torch' not in sys.modules, 'torch imported'; "
        "assert callable(d.summarise) and callable(d.read_image); "
        "print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        oncofusion.data.nope  # noqa: B018
    assert {"load_cohort", "Cohort", "CohortSchema", "PatientDataset"} <= set(dir(oncofusion.data))


def test_top_level_load_cohort(tiny: Cohort) -> None:
    cohort = oncofusion.load_cohort(str(TINY))
    pd.testing.assert_frame_equal(cohort.patients, tiny.patients)


def test_the_example_in_the_format_docs_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "cohort-format.md").read_text(encoding="utf-8")
    root = tmp_path / "example"
    root.mkdir()
    blocks = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```", doc, flags=re.DOTALL)
    assert [name for name, _ in blocks] == [
        "cohort.yaml", "patients.csv", "biomarkers.csv", "genomics.csv", "gene_graph.csv", "imaging.csv",
    ]  # fmt: skip
    for name, text in blocks:
        (root / name).write_text(text, encoding="utf-8")
    for rel in (
        "images/007_arterial.npy",
        "images/007_portal.npy",
        "images/012_arterial.npy",
        "masks/012_arterial.npy",
    ):
        (root / rel).parent.mkdir(exist_ok=True)
        np.save(root / rel, np.zeros((8, 16, 16), np.uint8))
    cohort = load_cohort(root, require_events=True)
    assert cohort.patient_ids == ["007", "012", "031", "044"]
    assert cohort.patients["event"].tolist() == [1, 0, 1, 0]
    assert pd.isna(cohort.patients.loc[3, "stage"]) and np.isnan(cohort.patients.loc[1, "cea"])
    assert cohort.biomarkers is not None and len(cohort.biomarkers) == 6
    assert cohort.genomics is not None and cohort.genomics["patient_id"].tolist() == [
        "007",
        "012",
        "044",
    ]
    assert cohort.imaging is not None and cohort.imaging["mask_path"].notna().sum() == 1
    s = summarise(cohort)
    assert s["modalities"]["imaging"]["patients"] == 2 and s["local_control"] == {
        "patients": 3,
        "events": 1,
    }


def test_look_alikes_of_present_tables_and_hidden_files_are_ignored(tmp_path: Path) -> None:
    root = copy_tiny(tmp_path)
    (root / "patients.xlsx").write_bytes(b"PK source workbook")
    (root / "._genomics.csv").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    assert len(load_cohort(root, check_images=False)) == 12
