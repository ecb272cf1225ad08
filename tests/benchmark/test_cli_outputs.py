"""``oncofusion benchmark`` as a user runs it: files, documented columns, YAML form, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner

from oncofusion.benchmark.config import load_benchmark_config, parse_seeds
from oncofusion.cli import app

COLUMNS = {
    "summary": [
        "seed",
        "model",
        "n",
        "n_events",
        "auc",
        "auc_low",
        "auc_high",
        "iauc",
        "iauc_low",
        "iauc_high",
        "uno_c",
        "uno_c_low",
        "uno_c_high",
        "brier",
        "brier_low",
        "brier_high",
        "ibs",
        "ibs_low",
        "ibs_high",
    ],
    "seeds": [
        "model",
        "n_seeds",
        "auc_mean",
        "auc_sd",
        "iauc_mean",
        "iauc_sd",
        "uno_c_mean",
        "uno_c_sd",
        "brier_mean",
        "brier_sd",
        "ibs_mean",
        "ibs_sd",
        "status",
    ],
    "time": [
        "seed",
        "model",
        "time",
        "n_events",
        "auc",
        "auc_low",
        "auc_high",
        "brier",
        "brier_low",
        "brier_high",
        "ace_median",
        "ace_q25",
        "ace_q75",
        "cal_slope",
        "cal_intercept",
    ],
    "time_seeds": [
        "model",
        "time",
        "n_seeds",
        "auc_mean",
        "auc_sd",
        "brier_mean",
        "brier_sd",
        "ace_median_mean",
        "ace_median_sd",
    ],
    "comparison": [
        "seed",
        "model",
        "reference",
        "metric",
        "estimate",
        "reference_estimate",
        "diff",
        "diff_low",
        "diff_high",
        "p_value",
    ],
    "comparison_seeds": [
        "model",
        "reference",
        "metric",
        "n_seeds",
        "diff_mean",
        "diff_sd",
        "n_significant",
    ],
    "timings": ["model", "seed", "fold", "status", "from_cache", "fit_seconds", "predict_seconds"],
    "timings_by_model": [
        "model",
        "cells",
        "computed",
        "fit_seconds_total",
        "fit_seconds_mean",
        "predict_seconds_total",
    ],
    "models": ["model", "runner", "use", "source", "status", "cells_ok", "cells", "message"],
}
FIGURES = ("heatmap", "auc_forest", "time_curves", "calibration_error")


def test_cli_writes_the_documented_tables_figures_and_report(
    bench_cohort: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bench"
    args = [
        "benchmark",
        str(bench_cohort),
        "--models",
        "cox,rsf",
        "--seeds",
        "2",
        "--out",
        str(out),
        "--reference",
        "cox",
        "--horizon",
        "2",
        "--use",
        "clinical,biomarkers",
        "--n-resamples",
        "20",
        "-q",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "4 cells (0 from the cache)" in result.stdout
    for name, cols in COLUMNS.items():
        table = pd.read_csv(out / "tables" / f"{name}.csv")
        assert list(table.columns) == cols, name
        assert (out / "tables" / f"{name}.md").read_text().startswith("| ")
    summary = pd.read_csv(out / "tables" / "summary.csv")
    assert len(summary) == 4 and set(summary["model"]) == {"cox", "rsf"}
    assert (summary["auc_low"] <= summary["auc"]).all() and (
        summary["auc"] <= summary["auc_high"]
    ).all()
    assert sorted(pd.read_csv(out / "tables" / "time.csv")["time"].unique()) == [1, 2, 3]
    for fig in FIGURES:
        assert (out / "figures" / f"{fig}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / "figures" / f"{fig}.csv").is_file() and (
            out / "figures" / f"{fig}.md"
        ).is_file()
    assert len(pd.read_csv(out / "figures" / "auc_forest.csv")) == 4  # one row per model and seed
    report = (out / "report.md").read_text()
    assert (
        "## Table 3: mean ± SD over seeds at 2 years" in report and "figures/heatmap.png" in report
    )
    assert (out / "replicates" / "seed_1" / "tables" / "summary.csv").is_file()
    meta = json.loads((out / "benchmark.json").read_text())
    assert (
        meta["seeds"] == [0, 1] and meta["primary_horizon"] == 2.0 and meta["cells"]["total"] == 4
    )
    again = CliRunner().invoke(app, args)  # resume: everything from the cache
    assert again.exit_code == 0 and "4 cells (4 from the cache)" in again.stdout


def test_cli_unknown_model_suggests_a_name_and_exits_2(bench_cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        app, ["benchmark", str(bench_cohort), "--models", "cox,deepsrv", "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "unknown benchmark model 'deepsrv'. Did you mean 'deepsurv'" in result.stderr
    assert not out.exists()


def test_yaml_config_and_command_line_give_the_same_config(
    bench_cohort: Path, tmp_path: Path
) -> None:
    (tmp_path / "bench.yaml").write_text(
        yaml.safe_dump(
            {
                "cohort": "cohort",
                "out": "results",
                "models": [
                    "cox",
                    {"name": "rsf10", "runner": "rsf", "options": {"n_estimators": 10}},
                ],
                "seeds": [0, 7],
                "cv": 3,
                "reference": "rsf10",
                "use": ["clinical"],
            }
        )
    )
    cfg = load_benchmark_config(tmp_path / "bench.yaml")
    assert (
        cfg.cohort == tmp_path / "cohort" and cfg.out == tmp_path / "results"
    )  # relative to the YAML
    assert [m.runner_name for m in cfg.models] == ["cox", "rsf"] and cfg.seed_list == [0, 7]
    over = load_benchmark_config(
        tmp_path / "bench.yaml", {"seeds": parse_seeds("3"), "cv": None, "horizon": 2.0}
    )
    assert (
        over.seed_list == [0, 1, 2] and over.cv == 3 and over.horizon == 2.0
    )  # None leaves the YAML value
    assert parse_seeds("0,7,42") == [0, 7, 42]
    bad = CliRunner().invoke(
        app,
        [
            "benchmark",
            str(bench_cohort),
            "--models",
            "cox",
            "--out",
            str(tmp_path / "o"),
            "--reference",
            "rsf",
        ],
    )
    assert bad.exit_code == 2 and "reference" in bad.stderr
