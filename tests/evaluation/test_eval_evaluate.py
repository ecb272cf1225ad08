"""evaluate_predictions: every table and figure, written atomically, with notes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _eval_cases import models, predset

from oncofusion.errors import ConfigError, OncofusionError
from oncofusion.evaluation import (
    EvaluationReport,
    EvaluationWarning,
    evaluate_predictions,
    figures,
    summary_table,
)

B = 50


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> EvaluationReport:
    out = tmp_path_factory.mktemp("eval") / "run"
    preds = {p.model: p for p in models()}
    val = {p.model: p for p in models(n=90, data_seed=11)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        return evaluate_predictions(
            preds,
            reference="full",
            horizon=12,
            val_predsets=val,
            threshold_horizon=4,
            out_dir=out,
            n_resamples=B,
            seed=5,
        )


def test_all_tables_are_there_and_match_the_table_functions(report: EvaluationReport) -> None:
    assert set(report.tables) == {
        "summary",
        "time",
        "ablation",
        "comparison",
        "threshold",
        "decision",
        "calibration",
    }
    direct = summary_table(models(), 12, n_resamples=B, seed=5)
    pd.testing.assert_frame_equal(report["summary"], direct)
    assert report["time"]["model"].tolist() == ["full"] * 4 + ["no_imaging"] * 4 + ["cox"] * 4
    assert len(report["comparison"]) == 2 * 5  # two models x five metrics
    assert report["threshold"]["horizon"].tolist() == [4.0, 4.0, 4.0]


def test_files_are_written(report: EvaluationReport) -> None:
    out = report.out_dir
    assert out is not None
    for name in report.tables:
        back = pd.read_csv(out / "tables" / f"{name}.csv")
        assert back.shape == report.tables[name].shape
        assert (out / "tables" / f"{name}.md").read_text(encoding="utf-8").startswith("| ")
    assert set(report.figures) == {
        "heatmap",
        "auc_forest",
        "time_curves",
        "ablation",
        "calibration_error",
        "calibration_curve",
        "decision_curve",
    }
    for path in report.figures.values():
        assert path.parent == out / "figures" and path.stat().st_size > 5_000
    md = (out / "report.md").read_text(encoding="utf-8")
    assert md == report.to_markdown()
    for heading in (
        "## Overall performance on the test set at 12 months",
        "## Performance over follow-up time",
        "## Locked threshold (chosen on validation, applied to test) at 4 months",
        "## Decision curve analysis at 12 months",
        "## Figures",
    ):
        assert heading in md
    assert "![Normalised metric heatmap](figures/heatmap.png)" in md
    meta = json.loads((out / "meta.json").read_text())
    assert meta["reference"] == "full" and meta["n_resamples"] == B
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_existing_output_and_failures_leave_nothing_half_written(
    report: EvaluationReport, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preds = models()[:2]
    with pytest.raises(OncofusionError, match="exists and is not empty"):
        evaluate_predictions(preds, horizon=12, out_dir=report.out_dir, n_resamples=B)

    def boom(*args: object, **kwargs: object) -> Path:
        raise RuntimeError("disk full")

    monkeypatch.setattr(figures, "decision_curve_plot", boom)
    target = tmp_path / "never"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvaluationWarning)
        with pytest.raises(RuntimeError, match="disk full"):
            evaluate_predictions(preds, horizon=12, out_dir=target, n_resamples=B)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_without_out_dir_nothing_is_written_and_notes_name_the_horizon(tmp_path: Path) -> None:
    p = predset("long", 0.3, grid=np.arange(1.0, 25.0), horizons=[6.0, 12.0, 20.0])
    with pytest.warns(EvaluationWarning, match="horizon 20 months"):
        rep = evaluate_predictions({"DMA-Net": p}, horizon=20, threshold_horizon=4, n_resamples=B)
    assert rep.figures == {} and rep.out_dir is None and rep.models == ["DMA-Net"]
    assert "ablation" not in rep.tables and "threshold" not in rep.tables
    assert np.isnan(rep["summary"].loc[0, "auc"])
    assert any("AUC at horizon 20 months is reported as missing" in n for n in rep.notes)
    assert any("no threshold was locked" in n for n in rep.notes)
    md = rep.to_markdown()
    assert "## Notes" in md and "| DMA-Net |" in md and "nan" not in md.lower()


def test_bad_reference_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="not among the models"):
        evaluate_predictions(models()[:2], horizon=12, reference="DMA", n_resamples=B)
