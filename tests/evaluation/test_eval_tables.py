"""Every table cell equals the metric of oncofusion.metrics called directly on the test set."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _eval_cases import GRID, models, predset

from oncofusion.errors import ConfigError
from oncofusion.evaluation import (
    EvaluationWarning,
    PredictionSet,
    ablation_table,
    comparison_table,
    seeds_table,
    summary_table,
    time_table,
)
from oncofusion.metrics import (
    absolute_calibration_error,
    brier_score,
    concordance_index_uno,
    integrated_brier_score,
    time_dependent_auc,
)

# the functions, not the submodule of the same name (see the package's lazy exports)
from oncofusion.metrics.resampling import bootstrap, paired_bootstrap

B = 50  # bootstrap resamples in tests


@pytest.fixture(scope="module")
def preds() -> list[PredictionSet]:
    return models()


@pytest.fixture(scope="module")
def summary(preds: list[PredictionSet]) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        return summary_table(preds, 12, n_resamples=B, seed=7)


def test_summary_values_equal_the_metrics(
    preds: list[PredictionSet], summary: pd.DataFrame
) -> None:
    assert list(summary["model"]) == ["full", "no_imaging", "cox"]
    for p, row in zip(preds, summary.itertuples(index=False), strict=True):
        kw = {"train_time": p.train_time, "train_event": p.train_event}
        s12 = p.surv[:, 11]
        assert row.auc == pytest.approx(
            time_dependent_auc(p.time, p.event, 1 - s12, [12.0], **kw).auc[0], abs=1e-12
        )
        assert row.iauc == pytest.approx(
            time_dependent_auc(
                p.time, p.event, 1 - p.surv[:, [2, 5, 8, 11]], [3.0, 6.0, 9.0, 12.0], **kw
            ).mean_auc,
            abs=1e-12,
        )
        assert row.uno_c == pytest.approx(
            concordance_index_uno(p.time, p.event, 1 - s12, tau=12.0, **kw).value, abs=1e-12
        )
        assert row.brier == pytest.approx(
            brier_score(p.time, p.event, s12[:, None], [12.0], **kw)[0], abs=1e-12
        )
        assert row.ibs == pytest.approx(
            integrated_brier_score(p.time, p.event, p.surv, GRID, **kw), abs=1e-12
        )
        assert row.n == p.n and row.n_events == int(np.sum(p.event & (p.time <= 12)))


def test_summary_intervals_contain_estimates_and_match_bootstrap(
    preds: list[PredictionSet], summary: pd.DataFrame
) -> None:
    for m in ("auc", "iauc", "uno_c", "brier", "ibs"):
        assert (summary[f"{m}_low"] <= summary[m]).all() and (
            summary[m] <= summary[f"{m}_high"]
        ).all()
        assert (summary[f"{m}_low"] < summary[f"{m}_high"]).all()
    p = preds[0]
    direct = bootstrap(
        time_dependent_auc,
        p.time,
        p.event,
        1 - p.surv[:, 11],
        n_resamples=B,
        seed=7,
        times=[12.0],
        train_time=p.train_time,
        train_event=p.train_event,
    )
    assert summary.loc[0, "auc_low"] == pytest.approx(direct.low, abs=1e-12)
    assert summary.loc[0, "auc_high"] == pytest.approx(direct.high, abs=1e-12)
    # the better model ranks first on every metric in this synthetic set
    assert summary.loc[0, "auc"] > summary.loc[2, "auc"]
    assert summary.loc[0, "brier"] < summary.loc[2, "brier"]


def test_summary_is_reproducible_per_seed(
    preds: list[PredictionSet], summary: pd.DataFrame
) -> None:
    again = summary_table(preds[:1], 12, n_resamples=B, seed=7)
    other = summary_table(preds[:1], 12, n_resamples=B, seed=8)
    assert again.loc[0, "auc_low"] == summary.loc[0, "auc_low"]
    assert other.loc[0, "auc"] == summary.loc[0, "auc"]
    assert other.loc[0, "auc_low"] != summary.loc[0, "auc_low"]


def test_time_table_values(preds: list[PredictionSet]) -> None:
    p = preds[0]
    tab = time_table(p, n_resamples=B, seed=1)
    assert list(tab["time"]) == [3.0, 6.0, 9.0, 12.0]
    kw = {"train_time": p.train_time, "train_event": p.train_event}
    for row in tab.itertuples(index=False):
        s = p.surv[:, int(row.time) - 1]
        assert row.auc == pytest.approx(
            time_dependent_auc(p.time, p.event, 1 - s, [row.time], **kw).auc[0], abs=1e-12
        )
        assert row.brier == pytest.approx(
            brier_score(p.time, p.event, s[:, None], [row.time], **kw)[0], abs=1e-12
        )
        ace = absolute_calibration_error(p.time, p.event, 1 - s, row.time)
        assert (row.ace_median, row.ace_q25, row.ace_q75) == pytest.approx(tuple(ace), abs=1e-12)
        assert row.ace_q25 <= row.ace_median <= row.ace_q75
        assert row.auc_low <= row.auc <= row.auc_high
        assert np.isfinite(row.cal_slope) and np.isfinite(row.cal_intercept)


def test_horizon_past_follow_up_is_missing_with_a_warning() -> None:
    grid = np.arange(1.0, 25.0)
    p = predset("long", 0.3, grid=grid, horizons=[6.0, 12.0, 20.0])  # follow-up ends at 14
    with pytest.warns(
        EvaluationWarning, match=r"AUC at horizon 20 months .* missing: it is at or past"
    ):
        tab = time_table(p, n_resamples=B, seed=0)
    assert np.isnan(
        tab.loc[2, ["auc", "auc_low", "auc_high", "brier", "ace_median"]].astype(float)
    ).all()
    assert np.isfinite(tab.loc[:1, ["auc", "brier", "ace_median"]].to_numpy(float)).all()
    with pytest.warns(EvaluationWarning, match="horizon 20 months"):
        s = summary_table([p], 20, n_resamples=B)
    assert np.isnan(s.loc[0, "auc"]) and np.isnan(s.loc[0, "brier"])
    assert np.isfinite(s.loc[0, ["iauc", "uno_c", "ibs"]].to_numpy(float)).all()


def test_horizon_past_prediction_grid_is_missing(preds: list[PredictionSet]) -> None:
    p = predset("short", 0.3, grid=np.arange(1.0, 7.0), horizons=[3.0, 6.0])
    with pytest.warns(EvaluationWarning, match="past the model's prediction grid"):
        s = summary_table([p], 9, n_resamples=B)
    assert np.isnan(s.loc[0, "auc"])


def test_ablation_table(preds: list[PredictionSet], summary: pd.DataFrame) -> None:
    tab = ablation_table(preds, "full", 12, descriptions={"cox": "clinical variables only"})
    assert list(tab["model"]) == ["full", "no_imaging", "cox"]
    np.testing.assert_allclose(tab["iauc"], summary["iauc"], atol=1e-12)
    np.testing.assert_allclose(
        tab["delta_iauc"], summary["iauc"] - summary.loc[0, "iauc"], atol=1e-12
    )
    np.testing.assert_allclose(
        tab["delta_brier"], summary["brier"] - summary.loc[0, "brier"], atol=1e-12
    )
    assert tab.loc[0, "delta_iauc"] == 0 and tab.loc[0, "description"] == "Reference"
    assert tab.loc[2, "description"] == "clinical variables only"
    reordered = ablation_table(preds, "cox", 12)
    assert reordered.loc[0, "model"] == "cox"
    with pytest.raises(ConfigError, match="not among"):
        ablation_table(preds, "nope", 12)


def test_comparison_uses_the_same_resamples(preds: list[PredictionSet]) -> None:
    tab = comparison_table(preds, "full", 12, "auc", n_resamples=B, seed=3)
    assert list(tab["model"]) == ["no_imaging", "cox"]
    a, ref = preds[2], preds[0]
    direct = paired_bootstrap(
        time_dependent_auc,
        a.time,
        a.event,
        1 - a.surv[:, 11],
        1 - ref.surv[:, 11],
        n_resamples=B,
        seed=3,
        times=[12.0],
        train_time=a.train_time,
        train_event=a.train_event,
    )
    row = tab.iloc[1]
    assert row["diff"] == pytest.approx(direct.diff, abs=1e-12)
    assert row["p_value"] == pytest.approx(direct.p_value, abs=1e-12)
    assert (row["diff_low"], row["diff_high"]) == pytest.approx((direct.low, direct.high))
    assert row["diff"] == pytest.approx(row["estimate"] - row["reference_estimate"], abs=1e-12)
    assert row["diff_low"] <= row["diff"] <= row["diff_high"]
    # a copy of the reference differs from it by exactly 0 on every paired resample
    twin = PredictionSet(
        model="twin",
        patient_ids=ref.patient_ids,
        time=ref.time,
        event=ref.event,
        surv=ref.surv.copy(),
        grid=ref.grid,
        horizons=ref.horizons,
        train_time=ref.train_time,
        train_event=ref.train_event,
    )
    same = comparison_table([ref, twin], "full", 12, "brier", n_resamples=B, seed=3)
    assert same.loc[0, ["diff", "diff_low", "diff_high"]].tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ConfigError, match="unknown metric"):
        comparison_table(preds, "full", 12, "accuracy")


def test_seeds_table_mean_and_sd(preds: list[PredictionSet]) -> None:
    runs = [
        summary_table(
            [predset("full", 0.2, noise_seed=s), predset("cox", 1.5, noise_seed=s + 10)],
            12,
            n_resamples=B,
        )
        for s in range(3)
    ]
    tab = seeds_table(runs)
    assert list(tab["model"]) == ["full", "cox"] and (tab["n_seeds"] == 3).all()
    vals = np.array([r.loc[1, "iauc"] for r in runs])
    assert tab.loc[1, "iauc_mean"] == pytest.approx(vals.mean())
    assert tab.loc[1, "iauc_sd"] == pytest.approx(vals.std(ddof=1))
    assert "auc_low_mean" not in tab.columns and "n_mean" not in tab.columns
    with pytest.raises(ConfigError, match="at least two"):
        seeds_table(runs[:1])


def test_all_censored_test_set_reports_missing_cells_not_a_crash() -> None:
    p = predset("m", 0.3, n=40, train=False)
    cens = PredictionSet(
        model="m",
        patient_ids=p.patient_ids,
        time=p.time,
        event=np.zeros(p.n, dtype=bool),
        surv=p.surv,
        grid=p.grid,
        horizons=p.horizons,
    )
    with pytest.warns(EvaluationWarning, match="no test patient had an event"):
        s = summary_table([cens], 12, n_resamples=B)
    assert np.isnan(s.loc[0, ["auc", "iauc", "uno_c"]].to_numpy(float)).all()
    assert np.isfinite(s.loc[0, ["brier", "brier_low", "brier_high"]].to_numpy(float)).all()
