"""TabularPreprocessor: statistics from training patients only, hand-checkable numbers,
unseen levels, and an exact JSON round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.data.cohort import Cohort
from oncofusion.data.preprocess import TabularPreprocessor
from oncofusion.data.schema import CohortSchema
from oncofusion.errors import CohortError, ConfigError, UnknownOptionError

TRAIN = ["a", "b", "c", "d"]


@pytest.fixture
def cohort() -> Cohort:
    schema = CohortSchema(
        name="prep",
        time_unit="months",
        clinical={"continuous": ["age", "cea"], "categorical": ["sex", "stage"]},
        biomarkers=["ezh2", "cd10"],
        genomics=["egfr"],
    )
    patients = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c", "d", "e"],
            "time": [1.0, 2.0, 3.0, 4.0, 5.0],
            "event": [1, 0, 1, 0, 1],
            "age": [50.0, 60.0, np.nan, 70.0, 1000.0],  # e (not training) is extreme
            "cea": [1.0, 1.0, 1.0, 1.0, 9.0],  # constant in training: sd -> 1
            "sex": ["F", "M", "F", None, "M"],
            "stage": [2, 3.0, "2", 4, 2],  # 2, 3.0 and "2" are levels "2", "3"
        }
    )
    biomarkers = pd.DataFrame(
        {
            "patient_id": ["a", "a", "b", "c", "e"],
            "time": [0.0, 3.0, 0.0, 0.0, 0.0],
            "ezh2": [1.0, 3.0, np.nan, 5.0, 100.0],
            "cd10": [0.0, np.e - 1, 0.0, np.nan, 0.0],
        }
    )
    genomics = pd.DataFrame({"patient_id": ["a", "b", "e"], "egfr": [2.0, 4.0, 50.0]})
    return Cohort(
        root=Path("."), schema=schema, patients=patients, biomarkers=biomarkers, genomics=genomics
    )


def test_clinical_statistics_come_from_training_patients_only(cohort):
    prep = TabularPreprocessor().fit(cohort, patient_ids=TRAIN)
    assert prep.clinical_feature_names == [
        "age",
        "cea",
        "sex=F",
        "sex=M",
        "stage=2",
        "stage=3",
        "stage=4",
    ]
    x, missing = prep.transform_clinical(cohort.patients)
    assert x.dtype == np.float32 and missing.dtype == bool and x.shape == missing.shape == (5, 7)
    # age: observed training values 50, 60, 70 -> mean 60, sd sqrt(200/3), median 60
    sd = np.sqrt(200.0 / 3.0)
    np.testing.assert_allclose(x[:, 0], [-10 / sd, 0.0, 0.0, 10 / sd, 940 / sd], rtol=1e-6)
    assert missing[:, 0].tolist() == [False, False, True, False, False]
    # cea is constant among training patients: sd replaced by 1
    np.testing.assert_allclose(x[:, 1], [0, 0, 0, 0, 8.0])
    # sex: d is missing -> mode of training levels F, M, F is F; flagged on both columns
    np.testing.assert_array_equal(x[:, 2:4], [[1, 0], [0, 1], [1, 0], [1, 0], [0, 1]])
    assert missing[3, 2:4].all() and not missing[[0, 1, 2, 4], 2:4].any()
    np.testing.assert_array_equal(x[:, 4:], [[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [1, 0, 0]])


def test_missing_category_as_its_own_level(cohort):
    prep = TabularPreprocessor(categorical_missing="level").fit(cohort, patient_ids=TRAIN)
    names = prep.clinical_feature_names
    assert names[2:5] == ["sex=F", "sex=M", "sex=missing"]
    x, missing = prep.transform_clinical(cohort.patients)
    np.testing.assert_array_equal(x[3, 2:5], [0, 0, 1])
    assert missing[3, 2:5].all()


def test_unseen_level_names_patients_and_training_levels(cohort):
    prep = TabularPreprocessor().fit(cohort, patient_ids=TRAIN)
    new = cohort.patients.assign(stage=[2, 3, 2, 5, "X"])
    with pytest.raises(CohortError) as info:
        prep.transform_clinical(new)
    err = info.value
    assert err.file == "patients.csv" and err.column == "stage"
    assert err.rows == ["d", "e"]
    assert "['2', '3', '4']" in err.fix and "retrain" in err.fix


def test_non_numeric_and_absent_columns(cohort):
    prep = TabularPreprocessor().fit(cohort, patient_ids=TRAIN)
    with pytest.raises(CohortError, match="non-numeric") as info:
        prep.transform_clinical(cohort.patients.assign(age=["50", "x", None, 1, 2]))
    assert info.value.rows == ["b"] and info.value.column == "age"
    with pytest.raises(CohortError, match="missing") as info:
        prep.transform_clinical(cohort.patients.drop(columns="cea"))
    assert info.value.column == "cea"


def test_biomarkers_and_genomics_z_scored_with_training_statistics(cohort):
    prep = TabularPreprocessor().fit(cohort, patient_ids=TRAIN)
    values, observed = prep.transform_biomarkers(cohort.biomarkers)
    assert values.shape == observed.shape == (5, 2) and values.dtype == np.float32
    # ezh2 training visits: 1, 3, 5 -> mean 3, sd sqrt(8/3)
    sd = np.sqrt(8.0 / 3.0)
    np.testing.assert_allclose(values[:, 0], [-2 / sd, 0, 0, 2 / sd, 97 / sd], rtol=1e-6)
    assert observed[:, 0].tolist() == [True, True, False, True, True]
    assert observed[:, 1].tolist() == [True, True, True, False, True]
    assert values[3, 1] == 0.0  # unmeasured -> 0
    genes = prep.transform_genomics(cohort.genomics)
    np.testing.assert_allclose(genes[:, 0], [-1, 1, 47], rtol=1e-6)  # mean 3, sd 1


def test_log_biomarkers(cohort):
    prep = TabularPreprocessor(log_biomarkers=["cd10"]).fit(cohort, patient_ids=TRAIN)
    values, _ = prep.transform_biomarkers(cohort.biomarkers)
    logged = np.log1p([0.0, np.e - 1, 0.0])  # 0, 1, 0 -> mean 1/3, sd sqrt(2)/3
    mean, sd = logged.mean(), logged.std()
    np.testing.assert_allclose(values[[0, 1, 2], 1], (logged - mean) / sd, rtol=1e-6)
    negative = cohort.biomarkers.assign(cd10=[0.0, -2.0, 0.0, 1.0, 0.0])
    with pytest.raises(CohortError, match="log") as info:
        prep.transform_biomarkers(negative)
    assert info.value.file == "biomarkers.csv" and info.value.rows == ["a"]
    with pytest.raises(UnknownOptionError, match="cd10"):
        TabularPreprocessor(log_biomarkers=["cd1O"]).fit(cohort)


def test_json_round_trip_is_exact(cohort, tmp_path):
    prep = TabularPreprocessor(log_biomarkers=True, categorical_missing="level").fit(cohort, TRAIN)
    text = prep.to_json()
    json.loads(text)  # plain JSON, no pickle
    (tmp_path / "prep.json").write_text(text)
    back = TabularPreprocessor.from_json((tmp_path / "prep.json").read_text())
    assert back.to_json() == text
    assert back.clinical_feature_names == prep.clinical_feature_names
    for a, b in zip(
        prep.transform_clinical(cohort.patients), back.transform_clinical(cohort.patients)
    ):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(
        prep.transform_biomarkers(cohort.biomarkers), back.transform_biomarkers(cohort.biomarkers)
    ):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        prep.transform_genomics(cohort.genomics), back.transform_genomics(cohort.genomics)
    )
    state = json.loads(text)
    state["version"] = 99
    with pytest.raises(ConfigError, match="version"):
        TabularPreprocessor.from_dict(state)


def test_unfitted_and_bad_options(cohort):
    with pytest.raises(ConfigError, match="not fitted"):
        TabularPreprocessor().transform_clinical(cohort.patients)
    with pytest.raises(UnknownOptionError, match="mode"):
        TabularPreprocessor(categorical_missing="mod")  # type: ignore[arg-type]
    empty = cohort.patients.assign(age=np.nan)
    with pytest.raises(CohortError, match="no value in any training patient"):
        TabularPreprocessor().fit(Cohort(cohort.root, cohort.schema, empty))
