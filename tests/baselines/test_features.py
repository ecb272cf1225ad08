"""TabularFeatures and biomarker_summary on hand-made patients (every number checked by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oncofusion.baselines.features import TabularFeatures, biomarker_summary
from oncofusion.data import Cohort, CohortSchema
from oncofusion.errors import CohortError, ConfigError, UnknownOptionError

SCHEMA = CohortSchema(
    name="hand",
    time_unit="months",
    clinical={"continuous": ["age"], "categorical": ["stage"]},
    biomarkers=["cea"],
    genomics=["kras"],
)


def hand_cohort(stage=("I", "II", "III", "II"), age=(50.0, np.nan, 70.0, 60.0)) -> Cohort:
    ids = ["a", "b", "c", "d"]
    patients = pd.DataFrame(
        {
            "patient_id": ids,
            "time": [10.0, 8.0, 5.0, 12.0],
            "event": [1, 0, 1, 0],
            "age": list(age),
            "stage": list(stage),
        }
    )
    # a: visits 0, 3, 6 (cea 1, 2, 4); b: one visit; c: visit at 9 only (after landmark 6); d: none
    biomarkers = pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "a", "b", "c"],
            "time": [0.0, 3.0, 6.0, 9.0, 0.0, 9.0],
            "cea": [1.0, 2.0, 4.0, 100.0, 5.0, 7.0],
        }
    )
    genomics = pd.DataFrame({"patient_id": ["a", "b", "c"], "kras": [0.0, 1.0, 1.0]})
    return Cohort(
        root=Path("."), schema=SCHEMA, patients=patients, biomarkers=biomarkers, genomics=genomics
    )


def test_biomarker_summary_last_slope_count_up_to_landmark():
    c = hand_cohort()
    s = biomarker_summary(c.biomarkers, ["cea"], c.patient_ids, landmark=6.0, slope_visits=3)
    assert s.loc["a", "cea__last"] == 4.0  # the visit at 9 is after the landmark
    # least squares through (0,1), (3,2), (6,4): slope = sum(tc*y)/sum(tc^2) = (-3*1+0*2+3*4)/18 = 0.5
    assert s.loc["a", "cea__slope"] == pytest.approx(0.5, abs=1e-12)
    assert s.loc["a", "cea__n_obs"] == 3
    assert (s.loc["b", "cea__last"], s.loc["b", "cea__slope"], s.loc["b", "cea__n_obs"]) == (
        5.0,
        0.0,
        1,
    )
    assert (
        np.isnan(s.loc["c", "cea__last"])
        and np.isnan(s.loc["c", "cea__slope"])
        and s.loc["c", "cea__n_obs"] == 0
    )
    # the last two visits only: (3,2), (6,4) -> slope 2/3
    s2 = biomarker_summary(c.biomarkers, ["cea"], c.patient_ids, landmark=6.0, slope_visits=2)
    assert s2.loc["a", "cea__slope"] == pytest.approx(2 / 3, abs=1e-12)
    later = biomarker_summary(c.biomarkers, ["cea"], c.patient_ids, landmark=9.0)
    assert later.loc["c", "cea__last"] == 7.0 and later.loc["a", "cea__last"] == 100.0


def test_imputation_indicators_onehot_and_names():
    c = hand_cohort()
    f = TabularFeatures(
        SCHEMA, ("clinical", "biomarkers", "genomics"), landmark=6.0, standardize=False
    ).fit(c)
    X = f.transform_frame(c)
    assert f.feature_names == list(X.columns)
    # median of observed ages (50, 70, 60) = 60 for b, with its indicator
    assert (
        X.loc["b", "age"] == 60.0
        and X.loc["b", "age__missing"] == 1.0
        and X.loc["a", "age__missing"] == 0.0
    )
    # patients without cea up to 6 (c, d) get the median of a (4) and b (5) = 4.5 and cea__missing
    assert (
        X.loc["c", "cea__last"] == 4.5
        and X.loc["d", "cea__missing"] == 1.0
        and X.loc["a", "cea__missing"] == 0.0
    )
    assert X.loc["d", "gene__kras"] == 1.0 and X.loc["d", "genomics__missing"] == 1.0
    assert [n for n in f.feature_names if n.startswith("stage=")] == [
        "stage=I",
        "stage=II",
        "stage=III",
    ]
    assert X.loc["c", ["stage=I", "stage=II", "stage=III"]].tolist() == [0.0, 0.0, 1.0]
    g = f.groups()
    assert g["stage"] == ["stage=I", "stage=II", "stage=III"] and g["age"] == [
        "age",
        "age__missing",
    ]
    assert g["cea__last"] == ["cea__last", "cea__missing"]


def test_standardisation_uses_training_statistics_and_drop_first():
    c = hand_cohort()
    f = TabularFeatures(SCHEMA, "clinical", drop_first=True).fit(c)
    X = f.transform_frame(c)
    assert "stage=I" not in X.columns and "stage=II" in X.columns
    ages = np.array([50.0, 60.0, 70.0, 60.0])  # imputed
    np.testing.assert_allclose(X["age"], (ages - ages.mean()) / ages.std(), atol=1e-12)
    # a new patient is scaled with the training mean and sd
    new = hand_cohort(age=(80.0, 80.0, 80.0, 80.0))
    np.testing.assert_allclose(
        f.transform_frame(new)["age"], (80.0 - ages.mean()) / ages.std(), atol=1e-12
    )


def test_unseen_level_names_column_and_patients():
    f = TabularFeatures(SCHEMA, "clinical").fit(hand_cohort())
    with pytest.raises(CohortError) as e:
        f.transform(hand_cohort(stage=("I", "IV", "II", "IV")))
    msg = str(e.value)
    assert "column 'stage'" in msg and "['IV']" in msg and "b, d" in msg


def test_constant_columns_are_dropped_and_json_round_trip():
    c = hand_cohort()
    f = TabularFeatures(SCHEMA, ("clinical", "biomarkers"), landmark=0.0).fit(c)
    # at landmark 0 nobody has a slope (0 or missing -> median 0) -> slope dropped
    assert "cea__slope" not in f.feature_names and "cea__last" in f.feature_names
    g = TabularFeatures.from_dict(json.loads(json.dumps(f.to_dict())))
    np.testing.assert_array_equal(g.transform(c), f.transform(c))
    assert g.feature_names == f.feature_names


def test_bad_use_and_columns_are_config_errors():
    with pytest.raises(UnknownOptionError, match="Did you mean 'biomarkers'"):
        TabularFeatures(SCHEMA, ("clinical", "biomarker"))
    with pytest.raises(ConfigError, match="not clinical columns"):
        TabularFeatures(SCHEMA, "clinical", columns=["ag"])
    no_bm = CohortSchema(name="x", time_unit="days", clinical={"continuous": ["age"]})
    with pytest.raises(ConfigError, match="declares no biomarkers"):
        TabularFeatures(no_bm, ("clinical", "biomarkers"))
