"""Locked threshold (validation only), decision table and calibration groups."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _eval_cases import predset

from oncofusion.errors import ConfigError
from oncofusion.evaluation import (
    EvaluationWarning,
    PredictionSet,
    calibration_curve_table,
    decision_table,
    threshold_table,
)
from oncofusion.metrics import calibration_table, net_benefit, threshold_metrics, youden_threshold


def _with_outcomes(p: PredictionSet, time: np.ndarray, event: np.ndarray) -> PredictionSet:
    return PredictionSet(
        model=p.model,
        patient_ids=p.patient_ids,
        time=time,
        event=event,
        surv=p.surv,
        grid=p.grid,
        horizons=p.horizons,
    )


@pytest.fixture(scope="module")
def val_test() -> tuple[PredictionSet, PredictionSet]:
    return predset("m", 0.4, n=90, data_seed=11), predset("m", 0.4, n=80, data_seed=1)


def test_threshold_is_chosen_on_validation_and_applied_to_test(val_test) -> None:
    val, test = val_test
    tab = threshold_table(val, test, 4)
    yt = youden_threshold(val.time, val.event, 1 - val.surv[:, 3], 4.0)
    assert tab.loc[0, "threshold"] == yt.threshold
    assert tab.loc[0, "youden_j_validation"] == pytest.approx(yt.youden_index)
    tm = threshold_metrics(test.time, test.event, 1 - test.surv[:, 3], 4.0, yt.threshold)
    for m in ("sensitivity", "specificity", "ppv", "npv", "lr_positive", "lr_negative"):
        est = getattr(tm, m)
        assert tuple(tab.loc[0, [m, f"{m}_low", f"{m}_high"]]) == pytest.approx(tuple(est))
        assert tab.loc[0, f"{m}_low"] <= tab.loc[0, m] <= tab.loc[0, f"{m}_high"]
    assert tab.loc[0, ["tp", "fp", "tn", "fn"]].tolist() == [tm.tp, tm.fp, tm.tn, tm.fn]


def test_threshold_never_looks_at_test_outcomes(val_test) -> None:
    val, test = val_test
    base = threshold_table(val, test, 4)
    rng = np.random.default_rng(0)
    shuffled = _with_outcomes(test, rng.permutation(test.time), rng.permutation(test.event))
    flipped = _with_outcomes(test, test.time, ~test.event)
    for other in (shuffled, flipped):
        tab = threshold_table(val, other, 4)
        assert tab.loc[0, "threshold"] == base.loc[0, "threshold"]
        assert tab.loc[0, "sensitivity"] != base.loc[0, "sensitivity"]
    # whereas changing the validation outcomes does move the threshold
    moved = threshold_table(_with_outcomes(val, val.time, ~val.event), test, 4)
    assert moved.loc[0, "threshold"] != base.loc[0, "threshold"]


def test_threshold_degenerate_inputs(val_test) -> None:
    val, test = val_test
    with pytest.raises(ConfigError, match="locked for one model"):
        threshold_table(val, predset("other", 0.4), 4)
    with pytest.warns(EvaluationWarning, match="Youden threshold .* horizon 30 months"):
        tab = threshold_table(val, test, 30)
    assert np.isnan(tab.loc[0, "threshold"]) and np.isnan(tab.loc[0, "sensitivity"])


def test_decision_table_equals_net_benefit(val_test) -> None:
    _, test = val_test
    th = [0.1, 0.2, 0.3]
    tab = decision_table(test, 12, th)
    nb = net_benefit(test.time, test.event, 1 - test.surv[:, 11], 12.0, th)
    np.testing.assert_allclose(tab["net_benefit"], nb["model"], atol=1e-12)
    np.testing.assert_allclose(tab["treat_all"], nb["treat_all"], atol=1e-12)
    assert (tab["treat_none"] == 0).all() and (tab["model"] == "m").all()
    default = decision_table(test, 12)
    assert default["threshold"].tolist()[:2] == [0.05, 0.1]
    with pytest.warns(EvaluationWarning, match="net benefit at horizon 20 months"):
        missing = decision_table(test, 20, th)
    assert missing["net_benefit"].isna().all()


def test_calibration_curve_table(val_test) -> None:
    _, test = val_test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tab = calibration_curve_table([test], 12, n_groups=4)
        direct = calibration_table(test.time, test.event, 1 - test.surv[:, 11], 12.0, n_groups=4)
    np.testing.assert_allclose(tab["observed"], direct["observed"], atol=1e-12)
    np.testing.assert_allclose(tab["predicted"], direct["predicted"], atol=1e-12)
    assert (tab["observed_low"] <= tab["observed"]).all()
    assert (tab["observed"] <= tab["observed_high"]).all()
