"""Landmarking: the landmark data sets, no look-ahead, and the super model's special case."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from oncofusion.baselines.landmark_supermodel import LandmarkSupermodel
from oncofusion.baselines.landmarking import (
    LandmarkCox,
    LandmarkRSF,
    landmark_data,
)
from oncofusion.data import Cohort
from oncofusion.errors import ConfigError

W = 12.0


@pytest.mark.parametrize("s", [0.0, 3.0, 6.0, 10.0])
def test_landmark_data_has_exactly_the_patients_at_risk(synth_cohort, s):
    p = synth_cohort.patients
    at_risk, t, e = landmark_data(synth_cohort, s, W)
    expected = set(p.loc[p["time"] > s, "patient_id"])
    assert set(p.loc[at_risk, "patient_id"]) == expected and at_risk.sum() == len(expected)
    T, E = p["time"].to_numpy()[at_risk], p["event"].to_numpy()[at_risk] == 1
    np.testing.assert_array_equal(t, np.minimum(T, s + W))
    np.testing.assert_array_equal(e, E & (T <= s + W))
    assert (t > s).all() and not e[T > s + W].any()


def test_landmark_cox_is_a_cox_model_on_the_landmark_data(synth_cohort):
    m = LandmarkCox(landmarks=[0, 6], window=W, use=("clinical", "biomarkers"), penalizer=0.1).fit(
        synth_cohort
    )
    feats, cox = m.models_[1]
    at_risk, t, e = landmark_data(synth_cohort, 6.0, W)
    sub = synth_cohort.subset(synth_cohort.patients["patient_id"][at_risk].tolist())
    X = feats.transform_frame(sub)
    # the marker value is the last observation at or before s = 6, computed here with pandas
    bm = synth_cohort.biomarkers
    last = (
        bm[(bm["time"] <= 6.0) & bm["cea_serial"].notna()]
        .groupby("patient_id")["cea_serial"]
        .last()
    )
    raw_last = feats.raw(sub, landmark=6.0)[0]["cea_serial__last"]
    pd.testing.assert_series_equal(raw_last, last.reindex(raw_last.index), check_names=False)
    ref = CoxPHFitter(penalizer=0.1).fit(
        X.reset_index(drop=True).assign(T=t - 6.0, E=e.astype(int)), "T", "E"
    )
    np.testing.assert_allclose(cox.coef, ref.params_[cox.features].to_numpy(), rtol=0, atol=1e-8)


def _perturb_visits(cohort: Cohort, after: float, before: float | None = None) -> Cohort:
    bm = cohort.biomarkers.copy()
    sel = bm["time"] > after if before is None else bm["time"] <= before
    bm.loc[sel, "cea_serial"] += 50.0
    return Cohort(root=cohort.root, schema=cohort.schema, patients=cohort.patients, biomarkers=bm)


@pytest.mark.parametrize("cls", [LandmarkCox, LandmarkRSF, LandmarkSupermodel])
def test_prediction_at_s_uses_only_data_up_to_s(synth_cohort, cls):
    kw = {"n_estimators": 10} if cls is LandmarkRSF else {"penalizer": 0.1}
    m = cls(landmarks=[0, 3, 6], window=W, use=("clinical", "biomarkers"), **kw).fit(synth_cohort)
    S = m.predict_survival(synth_cohort, [3.0, 6.0, 12.0], landmark=6.0)
    later = _perturb_visits(synth_cohort, after=6.0)
    np.testing.assert_array_equal(m.predict_survival(later, [3.0, 6.0, 12.0], landmark=6.0), S)
    earlier = _perturb_visits(synth_cohort, after=-1.0, before=6.0)
    assert not np.array_equal(m.predict_survival(earlier, [3.0, 6.0, 12.0], landmark=6.0), S)


def test_supermodel_with_one_landmark_equals_the_landmark_cox_model(synth_cohort):
    kw = {"landmarks": [0.0], "window": W, "use": ("clinical", "biomarkers"), "penalizer": 0.1}
    sup = LandmarkSupermodel(**kw).fit(synth_cohort)
    lm = LandmarkCox(**kw).fit(synth_cohort)
    assert sup.fit_.features == lm.models_[0][1].features
    np.testing.assert_allclose(sup.fit_.coef, lm.models_[0][1].coef, rtol=0, atol=1e-8)
    times = [1.0, 6.0, 12.0]
    np.testing.assert_allclose(
        sup.predict_survival(synth_cohort, times),
        lm.predict_survival(synth_cohort, times),
        atol=1e-8,
    )


def test_supermodel_stacks_landmarks_with_interactions(synth_cohort):
    lms = [0.0, 3.0, 6.0]
    m = LandmarkSupermodel(landmarks=lms, window=W, use="clinical", penalizer=0.1).fit(synth_cohort)
    assert m.stacked_rows_ == sum(int(landmark_data(synth_cohort, s, W)[0].sum()) for s in lms)
    assert {"f1(s)", "f2(s)", "stage=III*f1(s)", "stage=III*f2(s)"} <= set(m.fit_.features)
    assert "se(coef)" in m.summary_.columns
    # predictions vary smoothly with s inside the range, and S(s + 0 | s) = 1
    S = np.stack(
        [m.predict_survival(synth_cohort, [0.0, 6.0], landmark=s) for s in (0.0, 1.5, 4.5, 6.0)]
    )
    np.testing.assert_allclose(S[:, :, 0], 1.0)
    assert np.isfinite(S).all() and (S[:, :, 1] < 1).all()
    with pytest.raises(ConfigError, match="does not extrapolate"):
        m.predict_survival(synth_cohort, [6.0], landmark=7.0)


def test_landmark_dispatch_window_and_errors(synth_cohort):
    m = LandmarkCox(landmarks=[2, 6], window=W, use="clinical", penalizer=0.1).fit(synth_cohort)
    with pytest.raises(ConfigError, match="before the first fitted landmark"):
        m.predict_survival(synth_cohort, [6.0], landmark=1.0)
    # a landmark between fitted ones uses the latest earlier model
    np.testing.assert_array_equal(
        m.predict_survival(synth_cohort, [6.0], landmark=4.0),
        m.predict_survival(synth_cohort, [6.0], landmark=2.0),
    )
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        S = m.predict_survival(synth_cohort, [W, W + 10.0], landmark=2.0)
    np.testing.assert_array_equal(S[:, 0], S[:, 1])  # flat past the window
    with pytest.raises(ConfigError, match="strictly increasing"):
        LandmarkCox(landmarks=[6, 3])
