"""The shared contract of every registered baseline, found through the registry.

For each name: it builds from a config, fits on 40 training patients, predicts a
(n_test, n_times) matrix of survival probabilities in [0, 1], non-increasing in t and 1 at
t = 0, a risk equal to 1 - S, and saves/loads (directly and through ``oncofusion.load``)
to identical predictions.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import oncofusion
from oncofusion.baselines._common import NotFittedError
from oncofusion.baselines.registry import BASELINES, build_baseline
from oncofusion.errors import ModelLoadError, SurvivalInputError, UnknownOptionError
from oncofusion.models.run import write_checksums

#: small, fast settings per registered name (a new baseline must be added here)
SMALL = {
    "cox": {},
    "coxnet": {"n_alphas": 10, "cv_folds": 3},
    "rsf": {"n_estimators": 10},
    "gbsa": {"n_estimators": 20},
    "xgb_cox": {"n_estimators": 20},
    "xgb_aft": {"n_estimators": 20, "distribution": "logistic"},
    "rf_radiomics": {"n_estimators": 10},
    "xgb_radiomics": {"n_estimators": 20},
    "landmark_cox": {"landmarks": [0, 6], "window": 12, "penalizer": 0.1},
    "landmark_rsf": {"landmarks": [0, 6], "window": 12, "n_estimators": 10},
    "landmark_supermodel": {"landmarks": [0, 3, 6], "window": 12, "penalizer": 0.1},
    "fong": {},
    "tnm": {},
}
TIMES = [0.0, 3.0, 6.0, 12.0]


def test_registry_lists_every_baseline_of_the_brief():
    assert set(BASELINES.names()) == set(SMALL)


@pytest.fixture(scope="module")
def fitted(synth_split):
    train, _ = synth_split
    return {name: build_baseline(name, **SMALL[name]).fit(train) for name in BASELINES.names()}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_contract(name, fitted, synth_split, tmp_path: Path):
    _, test = synth_split
    model = fitted[name]
    assert model.name == name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        S = model.predict_survival(test, TIMES)
    assert S.shape == (len(test), len(TIMES))
    assert np.isfinite(S).all() and (S >= 0).all() and (S <= 1).all()
    assert (np.diff(S, axis=1) <= 1e-12).all(), "S(t) must be non-increasing in t"
    np.testing.assert_allclose(S[:, 0], 1.0, atol=1e-12)
    assert S[:, -1].std() > 0, "a fitted model should not predict one curve for everybody here"
    np.testing.assert_allclose(model.predict_risk(test, 6.0), 1.0 - S[:, 2], atol=1e-12)

    model.save(tmp_path / "run")
    for loaded in (type(model).load(tmp_path / "run"), oncofusion.load(tmp_path / "run")):
        assert type(loaded) is type(model)
        assert loaded.get_params() == model.get_params()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            np.testing.assert_array_equal(loaded.predict_survival(test, TIMES), S)
    pickled = [
        p.name for p in (tmp_path / "run").iterdir() if p.suffix in (".pkl", ".pickle", ".joblib")
    ]
    assert not pickled


@pytest.mark.parametrize("name", sorted(SMALL))
def test_unfitted_model_says_fit_first(name, tmp_path: Path, synth_split):
    model = build_baseline(name, **SMALL[name])
    with pytest.raises(NotFittedError, match="fit"):
        model.predict_survival(synth_split[1], TIMES)
    with pytest.raises(NotFittedError):
        model.save(tmp_path)


def test_unknown_name_suggests_close_names():
    with pytest.raises(UnknownOptionError, match="Did you mean 'rsf'"):
        build_baseline("rfs")
    with pytest.raises(UnknownOptionError, match="landmark_cox"):
        BASELINES.get("landmark_coxx")


def test_unsorted_times_are_rejected(fitted, synth_split):
    with pytest.raises(SurvivalInputError, match="increasing"):
        fitted["cox"].predict_survival(synth_split[1], [6.0, 3.0])


def test_edited_run_file_fails_checksum(fitted, tmp_path: Path):
    fitted["cox"].save(tmp_path)
    state = json.loads((tmp_path / "model.json").read_text())
    state["cox"]["coef"][0] += 1.0
    (tmp_path / "model.json").write_text(json.dumps(state))
    with pytest.raises(ModelLoadError, match="checksum"):
        oncofusion.load(tmp_path)


def test_refit_that_does_not_reproduce_raises(fitted, tmp_path: Path):
    """Tree ensembles are refitted on load; a refit that differs from the saved one is an error."""
    fitted["rsf"].save(tmp_path)
    state = json.loads((tmp_path / "model.json").read_text())
    state["ensemble"]["fingerprint"][0][0] += 0.01
    (tmp_path / "model.json").write_text(json.dumps(state))
    write_checksums(tmp_path)
    with pytest.raises(ModelLoadError, match="refitted rsf ensemble does not reproduce"):
        oncofusion.load(tmp_path)


def test_loading_with_the_wrong_class_is_an_error(fitted, tmp_path: Path):
    fitted["cox"].save(tmp_path)
    with pytest.raises(ModelLoadError, match="holds model 'cox'"):
        BASELINES.get("rsf").load(tmp_path)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_training_without_events_is_a_clear_error(name, synth_cohort):
    p = synth_cohort.patients
    censored = synth_cohort.subset(p.loc[p["event"] == 0, "patient_id"].tolist()[:15])
    with pytest.raises(SurvivalInputError, match="no event"):
        build_baseline(name, **SMALL[name]).fit(censored)
